// Operator actions end to end (AdminService on the sagad binary, real PostgreSQL, a loopback
// participant recording its effects): a saga quarantined because a participant's compensation
// kept failing reaches COMPENSATED after the participant is fixed and the operator replays; the
// dry run lists exactly the compensations that then run; the history records who acted and
// why; RetrySaga resumes a quarantined saga; SkipStep lets a saga stuck after its pivot
// complete; a replay selected by a filter covers every matching saga; and replaying a
// compensated saga applies nothing twice (the same idempotency keys): invariant 1 of DESIGN.md.
#include <pqxx/pqxx>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "saga/v1/admin_service.grpc.pb.h"
#include "saga/v1/saga_service.grpc.pb.h"
#include "sdk/base/strings.h"
#include "tests/fakes/recording_participant.h"
#include "tests/harness/sagad_process.h"
#include "tests/harness/wait.h"

namespace saga {
namespace {

using ::saga::testing::DeadlineContext;
using ::saga::testing::ParticipantCall;
using ::saga::testing::RecordingParticipant;
using ::saga::testing::Reply;
using ::saga::testing::SagadProcess;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class SagadOperatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dsn = saga::testing::NewDatabaseMigratedBySagad();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    auto sagad = SagadProcess::Start(*dsn);
    ASSERT_TRUE(sagad.ok()) << sagad.status();
    sagad_ = *std::move(sagad);
    sagas_ = saga::v1::SagaService::NewStub(sagad_->channel());
    admin_ = saga::v1::AdminService::NewStub(sagad_->channel());
    // reserve -> charge -> ship; undo_charge is broken until fixed; ship refuses "fail".
    participant_.SetScript("/shop.S/undo_charge", [this](const ParticipantCall&, int) {
      return fixed_ ? Reply{} : Reply{absl::UnavailableError("refunds database is down")};
    });
    participant_.SetScript("/shop.S/ship", [](const ParticipantCall& call, int) {
      return call.payload == "fail" ? Reply{absl::FailedPreconditionError("no carrier")}
                                    : Reply{};
    });
    saga::v1::RegisterDefinitionRequest request;
    auto* d = request.mutable_definition();
    d->set_name("order");
    auto* policy = d->mutable_default_retry_policy();
    policy->mutable_initial_backoff()->set_nanos(10000000);
    policy->mutable_max_backoff()->set_nanos(20000000);
    policy->set_max_attempts(3);
    std::string previous;
    for (const char* name : {"reserve", "charge", "ship"}) {
      auto* step = d->add_steps();
      step->set_name(name);
      step->mutable_action()->mutable_grpc()->set_target(participant_.target());
      step->mutable_action()->mutable_grpc()->set_method(saga::StrCat("/shop.S/", name));
      step->mutable_compensation()->mutable_grpc()->set_target(participant_.target());
      step->mutable_compensation()->mutable_grpc()->set_method(saga::StrCat("/shop.S/undo_", name));
      if (!previous.empty()) step->add_depends_on(previous);
      previous = name;
    }
    saga::v1::RegisterDefinitionResponse registered;
    ASSERT_TRUE(sagas_->RegisterDefinition(DeadlineContext().get(), request, &registered).ok());
  }

  // Starts an order whose shipping fails and waits for it to end (quarantined while the
  // refunds are broken).
  saga::v1::Saga RunFailingOrder() {
    saga::v1::StartSagaRequest start;
    start.set_definition_name("order");
    start.set_wait_for_completion(true);
    (*start.mutable_payloads())["ship"] = "fail";
    saga::v1::StartSagaResponse started;
    grpc::Status status = sagas_->StartSaga(DeadlineContext(absl::Seconds(30)).get(), start,
                                            &started);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return started.saga();
  }

  saga::v1::Saga WaitForState(const std::string& id, saga::v1::SagaState state) {
    saga::v1::GetSagaResponse got;
    saga::testing::WaitFor(
        [&] {
          saga::v1::GetSagaRequest get;
          get.set_saga_id(id);
          return sagas_->GetSaga(DeadlineContext().get(), get, &got).ok() &&
                 got.saga().state() == state;
        },
        absl::Seconds(20), absl::Milliseconds(20));
    return got.saga();
  }

  saga::v1::ReplayCompensationResponse Replay(const std::string& id, bool dry_run,
                                              const std::string& from_step = "") {
    saga::v1::ReplayCompensationRequest request;
    request.set_saga_id(id);
    request.set_dry_run(dry_run);
    request.set_from_step(from_step);
    request.set_reason("refunds database restored (INC-2041)");
    saga::v1::ReplayCompensationResponse response;
    grpc::Status status = admin_->ReplayCompensation(DeadlineContext().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  static std::vector<std::string> Steps(const saga::v1::ReplayCompensationResponse& response) {
    std::vector<std::string> steps;
    for (const auto& p : response.plan()) steps.push_back(p.step());
    return steps;
  }

  // The compensations of `id` the participant received after call number `since`.
  std::vector<std::string> CompensationsSince(const std::string& id, size_t since) {
    std::vector<std::string> steps;
    std::vector<ParticipantCall> calls = participant_.calls();
    for (size_t i = since; i < calls.size(); ++i) {
      if (calls[i].saga_id == id && calls[i].operation == "compensation") {
        steps.push_back(calls[i].step);
      }
    }
    return steps;
  }

  std::atomic<bool> fixed_{false};
  RecordingParticipant participant_;
  std::unique_ptr<SagadProcess> sagad_;
  std::unique_ptr<saga::v1::SagaService::Stub> sagas_;
  std::unique_ptr<saga::v1::AdminService::Stub> admin_;
};

TEST_F(SagadOperatorTest, AQuarantinedSagaIsCompensatedByAReplayOnceTheParticipantIsFixed) {
  const saga::v1::Saga quarantined = RunFailingOrder();
  ASSERT_EQ(quarantined.state(), saga::v1::SAGA_STATE_QUARANTINED) << quarantined.error();
  EXPECT_THAT(quarantined.error(), HasSubstr("refunds database is down"));

  saga::v1::ReplayCompensationResponse dry = Replay(quarantined.saga_id(), /*dry_run=*/true);
  EXPECT_TRUE(dry.dry_run());
  EXPECT_EQ(dry.saga_count(), 1u);
  EXPECT_THAT(Steps(dry), ElementsAre("charge", "reserve"));  // ship never took effect
  // The dry run changed nothing.
  EXPECT_EQ(WaitForState(quarantined.saga_id(), saga::v1::SAGA_STATE_QUARANTINED).state(),
            saga::v1::SAGA_STATE_QUARANTINED);

  fixed_ = true;
  const size_t before = participant_.calls().size();
  saga::v1::ReplayCompensationResponse replayed = Replay(quarantined.saga_id(), false);
  EXPECT_FALSE(replayed.dry_run());
  EXPECT_EQ(Steps(replayed), Steps(dry));
  const saga::v1::Saga compensated =
      WaitForState(quarantined.saga_id(), saga::v1::SAGA_STATE_COMPENSATED);
  ASSERT_EQ(compensated.state(), saga::v1::SAGA_STATE_COMPENSATED);
  // The compensations that ran are the dry run's, in its order.
  EXPECT_EQ(CompensationsSince(quarantined.saga_id(), before), Steps(dry));
  EXPECT_THAT(saga::testing::InvariantOneViolations(compensated, participant_), IsEmpty());

  // Who replayed, and why, is in the history.
  saga::v1::GetHistoryRequest history_request;
  history_request.set_saga_id(quarantined.saga_id());
  history_request.set_page_size(1000);
  saga::v1::GetHistoryResponse history;
  ASSERT_TRUE(admin_->GetHistory(DeadlineContext().get(), history_request, &history).ok());
  int operator_actions = 0;
  for (const auto& e : history.events()) {
    if (e.type() != saga::v1::SagaEvent::TYPE_OPERATOR_ACTION) continue;
    ++operator_actions;
    EXPECT_EQ(e.actor(), "anonymous");  // authentication is off here (see sagad_auth_test)
    EXPECT_EQ(e.reason(), "refunds database restored (INC-2041)");
    EXPECT_THAT(e.error(), HasSubstr("replay compensations: charge, reserve"));
  }
  EXPECT_EQ(operator_actions, 1);

  // Replaying the compensated saga again sends the same idempotency keys: nothing applies twice.
  saga::v1::ReplayCompensationResponse again = Replay(quarantined.saga_id(), false, "charge");
  EXPECT_THAT(Steps(again), ElementsAre("charge", "reserve"));
  const saga::v1::Saga twice =
      WaitForState(quarantined.saga_id(), saga::v1::SAGA_STATE_COMPENSATED);
  EXPECT_THAT(saga::testing::InvariantOneViolations(twice, participant_), IsEmpty());
}

TEST_F(SagadOperatorTest, RetrySkipAndAFilteredReplay) {
  // RetrySaga: the failed compensation runs again with a fresh budget.
  const saga::v1::Saga first = RunFailingOrder();
  ASSERT_EQ(first.state(), saga::v1::SAGA_STATE_QUARANTINED);
  // SkipStep: an operator undid the charge by hand; the saga finishes without calling it.
  const saga::v1::Saga second = RunFailingOrder();
  ASSERT_EQ(second.state(), saga::v1::SAGA_STATE_QUARANTINED);
  // A filtered dry run covers both.
  saga::v1::ReplayCompensationRequest filtered;
  filtered.mutable_filter()->set_definition_name("order");
  filtered.mutable_filter()->add_states(saga::v1::SAGA_STATE_QUARANTINED);
  filtered.mutable_filter()->set_error_contains("refunds database");
  filtered.set_dry_run(true);
  filtered.set_reason("how many?");
  saga::v1::ReplayCompensationResponse plan;
  ASSERT_TRUE(admin_->ReplayCompensation(DeadlineContext().get(), filtered, &plan).ok());
  EXPECT_EQ(plan.saga_count(), 2u);
  EXPECT_EQ(plan.plan_size(), 4);

  fixed_ = true;
  saga::v1::RetrySagaRequest retry;
  retry.set_saga_id(first.saga_id());
  retry.set_reason("refunds back");
  saga::v1::RetrySagaResponse retried;
  ASSERT_TRUE(admin_->RetrySaga(DeadlineContext().get(), retry, &retried).ok());
  EXPECT_EQ(WaitForState(first.saga_id(), saga::v1::SAGA_STATE_COMPENSATED).state(),
            saga::v1::SAGA_STATE_COMPENSATED);

  const size_t before = participant_.calls().size();
  saga::v1::SkipStepRequest skip;
  skip.set_saga_id(second.saga_id());
  skip.set_step("charge");
  skip.set_reason("refunded by hand");
  saga::v1::SkipStepResponse skipped;
  ASSERT_TRUE(admin_->SkipStep(DeadlineContext().get(), skip, &skipped).ok());
  const saga::v1::Saga done = WaitForState(second.saga_id(), saga::v1::SAGA_STATE_COMPENSATED);
  ASSERT_EQ(done.state(), saga::v1::SAGA_STATE_COMPENSATED);
  EXPECT_THAT(CompensationsSince(second.saga_id(), before), ElementsAre("reserve"));
  for (const auto& step : done.steps()) {
    if (step.name() == "charge") {
      EXPECT_EQ(step.state(), saga::v1::STEP_STATE_SKIPPED);
    }
  }

  // Bad operator requests: what to fix, nothing changed.
  retry.set_saga_id(first.saga_id());  // now COMPENSATED
  grpc::Status status = admin_->RetrySaga(DeadlineContext().get(), retry, &retried);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("only a QUARANTINED saga"));
  skip.set_step("nope");
  EXPECT_EQ(admin_->SkipStep(DeadlineContext().get(), skip, &skipped).error_code(),
            grpc::StatusCode::NOT_FOUND);
  saga::v1::ReplayCompensationRequest no_reason;
  no_reason.set_saga_id(first.saga_id());
  saga::v1::ReplayCompensationResponse unused;
  EXPECT_EQ(admin_->ReplayCompensation(DeadlineContext().get(), no_reason, &unused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace saga
