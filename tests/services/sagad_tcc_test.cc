// TCC transactions end to end: the sagad binary (real PostgreSQL) drives Confirm or Cancel on
// loopback gRPC participants. A commit confirms every branch once and cancels none; a rollback
// cancels every branch; a participant down during Confirm is called again with the same
// idempotency key until it answers; a transaction left TRYING past its timeout is rolled back;
// sagad killed with SIGKILL between Commit and the Confirms confirms them after its restart;
// bad input gets the right code and writes nothing. A saga with TCC steps confirms every
// reservation after its last step succeeded, and on failure cancels them and confirms none.
// The barrier itself is tested in tests/sdk/barrier_test.cc; money conservation with the
// example bank services in tests/examples/bank_transfer_test.cc.
#include <signal.h>

#include <atomic>
#include <memory>

#include <pqxx/pqxx>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "saga/v1/saga_service.grpc.pb.h"
#include "saga/v1/tcc_service.grpc.pb.h"
#include "sdk/base/strings.h"
#include "sdk/base/traceparent.h"
#include "tests/fakes/recording_participant.h"
#include "tests/harness/saga_client.h"
#include "tests/harness/sagad_process.h"
#include "tests/harness/wait.h"

namespace saga {
namespace {

using ::saga::testing::DeadlineContext;
using ::saga::testing::ParticipantCall;
using ::saga::testing::RecordingParticipant;
using ::saga::testing::Reply;
using ::saga::testing::SagadProcess;
using ::testing::HasSubstr;

class SagadTccTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dsn = saga::testing::NewDatabaseMigratedBySagad();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    StartSagad();
  }

  void StartSagad(int grpc_port = 0) {
    auto sagad = SagadProcess::Start(dsn_, saga::testing::CrashTestSettings(grpc_port));
    ASSERT_TRUE(sagad.ok()) << sagad.status();
    sagad_ = *std::move(sagad);
    tcc_ = saga::v1::TccService::NewStub(sagad_->channel());
  }

  std::string Begin(int timeout_seconds = 60, const std::string& key = "",
                    const std::string& traceparent = "") {
    saga::v1::BeginRequest request;
    request.mutable_timeout()->set_seconds(timeout_seconds);
    request.set_idempotency_key(key);
    (*request.mutable_labels())["test"] = "tcc";
    saga::v1::BeginResponse response;
    auto context = DeadlineContext();
    if (!traceparent.empty()) context->AddMetadata("traceparent", traceparent);
    grpc::Status status = tcc_->Begin(context.get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.transaction().state(), saga::v1::TCC_STATE_TRYING);
    return response.transaction().global_id();
  }

  saga::v1::RegisterBranchRequest BranchRequest(const std::string& gid, const std::string& branch) {
    return saga::testing::TccBranchRequest(gid, branch, participant_.target());
  }

  grpc::Status Register(const std::string& gid, const std::string& branch) {
    saga::v1::RegisterBranchResponse response;
    return tcc_->RegisterBranch(DeadlineContext().get(), BranchRequest(gid, branch), &response);
  }

  grpc::Status Decide(const std::string& gid, bool commit) {
    if (commit) {
      saga::v1::CommitRequest request;
      request.set_global_id(gid);
      saga::v1::CommitResponse response;
      return tcc_->Commit(DeadlineContext().get(), request, &response);
    }
    saga::v1::RollbackRequest request;
    request.set_global_id(gid);
    request.set_reason("the initiator gave up");
    saga::v1::RollbackResponse response;
    return tcc_->Rollback(DeadlineContext().get(), request, &response);
  }

  saga::v1::GetTransactionResponse Get(const std::string& gid) {
    saga::v1::GetTransactionRequest request;
    request.set_global_id(gid);
    saga::v1::GetTransactionResponse response;
    grpc::Status status = tcc_->GetTransaction(DeadlineContext().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  bool WaitForState(const std::string& gid, saga::v1::TccState state,
                    absl::Duration timeout = absl::Seconds(30)) {
    return saga::testing::WaitFor([&] { return Get(gid).transaction().state() == state; },
                                  timeout, absl::Milliseconds(50));
  }

  // The calls of `gid` with `operation` ("confirm" or "cancel"), by branch.
  std::map<std::string, std::vector<ParticipantCall>> Calls(const std::string& gid,
                                                           const std::string& operation) {
    std::map<std::string, std::vector<ParticipantCall>> by_branch;
    for (const ParticipantCall& call : participant_.calls()) {
      if (call.saga_id == gid && call.operation == operation) by_branch[call.step].push_back(call);
    }
    return by_branch;
  }

  int Count(const std::string& sql) {
    pqxx::connection conn(dsn_);
    return pqxx::nontransaction(conn).exec(sql)[0][0].as<int>();
  }

  std::string dsn_;
  RecordingParticipant participant_;
  std::unique_ptr<SagadProcess> sagad_;
  std::unique_ptr<saga::v1::TccService::Stub> tcc_;
};

TEST_F(SagadTccTest, CommitConfirmsEveryBranchOnceAndRollbackCancelsEveryBranch) {
  // The initiator's trace reaches the Confirms; without one, sagad starts a trace.
  const std::string caller_trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const std::string committed = Begin(60, "", caller_trace);
  const std::string rolled_back = Begin();
  for (const char* branch : {"debit", "credit", "fee"}) {
    ASSERT_TRUE(Register(committed, branch).ok());
    ASSERT_TRUE(Register(rolled_back, branch).ok());
  }
  ASSERT_TRUE(Decide(committed, true).ok());
  ASSERT_TRUE(Decide(rolled_back, false).ok());
  EXPECT_TRUE(WaitForState(committed, saga::v1::TCC_STATE_CONFIRMED));
  EXPECT_TRUE(WaitForState(rolled_back, saga::v1::TCC_STATE_CANCELLED));

  auto confirms = Calls(committed, "confirm");
  ASSERT_EQ(confirms.size(), 3u);
  for (const auto& [branch, calls] : confirms) {
    ASSERT_EQ(calls.size(), 1u) << branch;
    EXPECT_EQ(calls[0].idempotency_key, committed + "/" + branch + "/confirm");
    EXPECT_EQ(calls[0].payload, "amount=" + branch);
    EXPECT_EQ(calls[0].method, "/bank.Accounts/Confirm");
    EXPECT_EQ(calls[0].traceparent, caller_trace);
  }
  EXPECT_TRUE(Calls(committed, "cancel").empty());
  auto cancels = Calls(rolled_back, "cancel");
  ASSERT_EQ(cancels.size(), 3u);
  const std::string started_trace = Get(rolled_back).transaction().traceparent();
  EXPECT_TRUE(saga::IsValidTraceparent(started_trace)) << started_trace;
  for (const auto& [branch, calls] : cancels) {
    EXPECT_EQ(calls.size(), 1u) << branch;
    EXPECT_EQ(calls[0].traceparent, started_trace);
  }
  EXPECT_TRUE(Calls(rolled_back, "confirm").empty());

  // Deciding again is harmless; the other decision is refused.
  EXPECT_TRUE(Decide(committed, true).ok());
  grpc::Status late = Decide(committed, false);
  EXPECT_EQ(late.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(late.error_message(), HasSubstr("already committed"));
  EXPECT_EQ(Decide(rolled_back, true).error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  saga::v1::GetTransactionResponse got = Get(committed);
  EXPECT_EQ(got.transaction().labels().at("test"), "tcc");
  EXPECT_EQ(got.transaction().traceparent(), caller_trace);
  std::vector<std::string> events;
  for (const auto& e : got.history()) events.push_back(e.event());
  EXPECT_THAT(events, ::testing::ElementsAre("begun", "branch_registered", "branch_registered",
                                             "branch_registered", "commit", "confirmed",
                                             "confirmed", "confirmed", "ended"));
  for (const auto& b : got.transaction().branches()) {
    EXPECT_TRUE(b.done());
    EXPECT_EQ(b.attempts(), 1u);
  }
}

TEST_F(SagadTccTest, AParticipantDownDuringConfirmIsRetriedUntilItSucceeds) {
  auto credit_calls = std::make_shared<std::atomic<int>>(0);
  participant_.SetScript("/bank.Accounts/Confirm", [credit_calls](const ParticipantCall& call, int) {
    if (call.step == "credit" && ++*credit_calls <= 3) {
      return Reply{absl::UnavailableError("accounts service restarting")};
    }
    return Reply{};
  });
  const std::string gid = Begin();
  ASSERT_TRUE(Register(gid, "debit").ok());
  ASSERT_TRUE(Register(gid, "credit").ok());
  ASSERT_TRUE(Decide(gid, true).ok());
  EXPECT_TRUE(WaitForState(gid, saga::v1::TCC_STATE_CONFIRMED));
  auto confirms = Calls(gid, "confirm");
  EXPECT_EQ(confirms["debit"].size(), 1u);
  ASSERT_EQ(confirms["credit"].size(), 4u);
  for (const ParticipantCall& call : confirms["credit"]) {
    EXPECT_EQ(call.idempotency_key, gid + "/credit/confirm");  // the same on every attempt
  }
  EXPECT_TRUE(Calls(gid, "cancel").empty());
  int failed_events = 0;
  const saga::v1::GetTransactionResponse got = Get(gid);
  for (const auto& e : got.history()) {
    if (e.event() == "attempt_failed") {
      ++failed_events;
      EXPECT_EQ(e.branch_id(), "credit");
      EXPECT_THAT(e.detail(), HasSubstr("accounts service restarting"));
    }
  }
  EXPECT_EQ(failed_events, 3);
}

TEST_F(SagadTccTest, ATransactionLeftTryingPastItsTimeoutIsRolledBack) {
  const std::string gid = Begin(/*timeout_seconds=*/1);
  ASSERT_TRUE(Register(gid, "debit").ok());
  ASSERT_TRUE(Register(gid, "credit").ok());
  EXPECT_TRUE(WaitForState(gid, saga::v1::TCC_STATE_CANCELLED, absl::Seconds(15)));
  EXPECT_EQ(Calls(gid, "cancel").size(), 2u);
  EXPECT_TRUE(Calls(gid, "confirm").empty());
  grpc::Status late = Decide(gid, true);
  EXPECT_EQ(late.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  grpc::Status branch = Register(gid, "fee");
  EXPECT_EQ(branch.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(branch.error_message(), HasSubstr("do not call this branch's Try"));
  EXPECT_EQ(Get(gid).transaction().branches_size(), 2);
}

// sagad dies with SIGKILL while a Confirm is under way (after Commit answered): the restarted
// sagad claims the transaction once the dead instance's lease expired, and confirms with the
// same idempotency key and a higher lease epoch.
TEST_F(SagadTccTest, SigkillBetweenCommitAndTheConfirmsStillConfirmsEveryBranch) {
  participant_.SetScript("/bank.Accounts/Confirm", [](const ParticipantCall&, int number) {
    return number == 1 ? Reply{absl::OkStatus(), absl::Seconds(30), /*apply=*/false} : Reply{};
  });
  const std::string gid = Begin();
  ASSERT_TRUE(Register(gid, "debit").ok());
  ASSERT_TRUE(Register(gid, "credit").ok());
  ASSERT_TRUE(Decide(gid, true).ok());
  ASSERT_TRUE(saga::testing::WaitFor([&] { return Calls(gid, "confirm").size() == 2; },
                                     absl::Seconds(10)));
  const int port = sagad_->grpc_port();
  sagad_->process().Signal(SIGKILL);
  ASSERT_TRUE(sagad_->process().Wait(absl::Seconds(10)).ok());
  EXPECT_EQ(Count(saga::StrCat("SELECT state FROM tcc_transactions WHERE global_id = '", gid, "'")),
            saga::v1::TCC_STATE_CONFIRMING);
  StartSagad(port);
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_TRUE(WaitForState(gid, saga::v1::TCC_STATE_CONFIRMED, absl::Seconds(40)));
  for (const auto& [branch, calls] : Calls(gid, "confirm")) {
    ASSERT_EQ(calls.size(), 2u) << branch;
    EXPECT_EQ(calls[0].idempotency_key, calls[1].idempotency_key);
    EXPECT_LT(std::stoll(calls[0].lease_epoch), std::stoll(calls[1].lease_epoch));
  }
  EXPECT_TRUE(Calls(gid, "cancel").empty());
}

TEST_F(SagadTccTest, BadRequestsGetTheRightCodeAndWriteNothing) {
  const std::string gid = Begin(60, "transfer-42");
  EXPECT_EQ(Begin(60, "transfer-42"), gid);  // the idempotency key returns the first
  ASSERT_TRUE(Register(gid, "debit").ok());
  EXPECT_TRUE(Register(gid, "debit").ok());  // the same branch again
  saga::v1::RegisterBranchRequest other = BranchRequest(gid, "debit");
  other.set_payload("amount=999");
  saga::v1::RegisterBranchResponse registered;
  EXPECT_EQ(tcc_->RegisterBranch(DeadlineContext().get(), other, &registered).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  saga::v1::RegisterBranchRequest kafka = BranchRequest(gid, "kafka");
  kafka.mutable_confirm()->mutable_kafka()->set_command_topic("bank.commands");
  kafka.mutable_confirm()->mutable_kafka()->set_reply_topic("bank.replies");
  grpc::Status status = tcc_->RegisterBranch(DeadlineContext().get(), kafka, &registered);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("gRPC endpoints"));
  EXPECT_EQ(Register("7b0c4a43-3f2e-4a43-9c1e-0d9a3c1e2f10", "debit").error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Decide("not-a-uuid", true).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  saga::v1::BeginRequest no_timeout;
  saga::v1::BeginResponse begun;
  status = tcc_->Begin(DeadlineContext().get(), no_timeout, &begun);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("timeout"));
  EXPECT_EQ(Count("SELECT count(*) FROM tcc_transactions"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM tcc_branches"), 1);
  EXPECT_TRUE(participant_.calls().empty());
}

// hold_stock and hold_seat are TCC steps (Try = action, Cancel = compensation, Confirm); ship is
// a plain step after both.
TEST_F(SagadTccTest, ASagaConfirmsItsTccStepsAfterTheLastStepOrCancelsThemAll) {
  participant_.SetScript("/shop.S/ship", [](const ParticipantCall& call, int) {
    return call.payload == "fail" ? Reply{absl::FailedPreconditionError("no carrier")} : Reply{};
  });
  auto sagas = saga::v1::SagaService::NewStub(sagad_->channel());
  saga::v1::RegisterDefinitionRequest request;
  auto* d = request.mutable_definition();
  d->set_name("trip");
  for (const char* name : {"hold_stock", "hold_seat"}) {
    auto* step = d->add_steps();
    step->set_name(name);
    step->set_kind(saga::v1::STEP_KIND_TCC);
    for (auto [endpoint, method] :
         {std::pair{step->mutable_action(), "Try"}, std::pair{step->mutable_compensation(), "Cancel"},
          std::pair{step->mutable_confirm(), "Confirm"}}) {
      endpoint->mutable_grpc()->set_target(participant_.target());
      endpoint->mutable_grpc()->set_method(saga::StrCat("/shop.Holds/", method));
    }
  }
  auto* ship = d->add_steps();
  ship->set_name("ship");
  ship->add_depends_on("hold_stock");
  ship->add_depends_on("hold_seat");
  ship->mutable_action()->mutable_grpc()->set_target(participant_.target());
  ship->mutable_action()->mutable_grpc()->set_method("/shop.S/ship");
  saga::v1::RegisterDefinitionResponse registered;
  ASSERT_TRUE(sagas->RegisterDefinition(DeadlineContext().get(), request, &registered).ok());

  auto run = [&](const std::string& ship_payload) {
    saga::v1::StartSagaRequest start;
    start.set_definition_name("trip");
    start.set_wait_for_completion(true);
    (*start.mutable_payloads())["ship"] = ship_payload;
    saga::v1::StartSagaResponse started;
    grpc::Status status = sagas->StartSaga(DeadlineContext(absl::Seconds(30)).get(), start, &started);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return started.saga();
  };
  // The calls of one saga, in the order the participant received them, as "step:operation".
  auto calls_of = [&](const std::string& saga_id) {
    std::vector<std::string> calls;
    for (const ParticipantCall& call : participant_.calls()) {
      if (call.saga_id == saga_id) calls.push_back(call.step + ":" + call.operation);
    }
    return calls;
  };

  const saga::v1::Saga completed = run("ok");
  EXPECT_EQ(completed.state(), saga::v1::SAGA_STATE_COMPLETED) << completed.error();
  std::vector<std::string> calls = calls_of(completed.saga_id());
  ASSERT_EQ(calls.size(), 5u) << absl::StrJoin(calls, " ");
  EXPECT_THAT(std::vector<std::string>(calls.begin(), calls.begin() + 2),
              ::testing::UnorderedElementsAre("hold_stock:action", "hold_seat:action"));
  EXPECT_EQ(calls[2], "ship:action");  // every Confirm after the last step
  EXPECT_THAT(std::vector<std::string>(calls.begin() + 3, calls.end()),
              ::testing::UnorderedElementsAre("hold_stock:confirm", "hold_seat:confirm"));
  for (const auto& step : completed.steps()) {
    if (step.name() != "ship") {
      EXPECT_EQ(step.state(), saga::v1::STEP_STATE_CONFIRMED) << step.name();
      EXPECT_EQ(step.confirm_attempts(), 1u);
    }
  }

  const saga::v1::Saga failed = run("fail");
  EXPECT_EQ(failed.state(), saga::v1::SAGA_STATE_COMPENSATED) << failed.error();
  calls = calls_of(failed.saga_id());
  EXPECT_THAT(calls, ::testing::UnorderedElementsAre("hold_stock:action", "hold_seat:action",
                                                     "ship:action", "hold_stock:compensation",
                                                     "hold_seat:compensation"));
  EXPECT_THAT(saga::testing::InvariantOneViolations(failed, participant_), ::testing::IsEmpty());
}

}  // namespace
}  // namespace saga
