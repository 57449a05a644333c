// End-to-end tests of sagas through the sagad binary over gRPC, with participants served on
// loopback by the test (RecordingParticipant) and a real PostgreSQL: start and wait, get, list,
// history, watch, bad input that writes nothing, a crash test with SIGKILL, and two instances
// where one is killed.
#include <signal.h>

#include <map>
#include <random>
#include <set>
#include <thread>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>
#include <pqxx/pqxx>

#include "absl/random/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "saga/v1/admin_service.grpc.pb.h"
#include "saga/v1/saga_service.grpc.pb.h"
#include "sdk/base/strings.h"
#include "sdk/base/traceparent.h"
#include "tests/fakes/recording_participant.h"
#include "tests/harness/postgres_server.h"
#include "tests/harness/saga_client.h"
#include "tests/harness/sagad_process.h"
#include "tests/harness/wait.h"

namespace saga {
namespace {

using ::saga::testing::RecordingParticipant;
using ::saga::testing::Reply;
using ::saga::testing::DeadlineContext;
using ::saga::testing::SagadProcess;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class SagadSagaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dsn = saga::testing::NewDatabaseMigratedBySagad();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
  }

  std::unique_ptr<SagadProcess> StartSagad(std::vector<std::string> env = {}) {
    auto sagad = SagadProcess::Start(dsn_, std::move(env));
    EXPECT_TRUE(sagad.ok()) << sagad.status();
    return sagad.ok() ? *std::move(sagad) : nullptr;
  }

  void RegisterOrder(saga::v1::SagaService::Stub& stub) {
    saga::v1::RegisterDefinitionRequest request;
    *request.mutable_definition() = saga::testing::OrderDefinition(participant_.target());
    saga::v1::RegisterDefinitionResponse response;
    grpc::Status status = stub.RegisterDefinition(DeadlineContext().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  int Count(const std::string& sql) {
    pqxx::connection conn(dsn_);
    pqxx::read_transaction tx(conn);
    return tx.exec(sql)[0][0].as<int>();
  }

  std::string dsn_;
  RecordingParticipant participant_;
};

TEST_F(SagadSagaTest, AMalformedTraceparentIsDroppedAndANewTraceStarted) {
  auto sagad = StartSagad();
  ASSERT_NE(sagad, nullptr);
  auto sagas = saga::v1::SagaService::NewStub(sagad->channel());
  RegisterOrder(*sagas);
  saga::v1::StartSagaRequest start;
  start.set_definition_name("order");
  start.set_wait_for_completion(true);
  saga::v1::StartSagaResponse started;
  auto context = DeadlineContext();
  context->AddMetadata("traceparent", "00-not-a-trace-01");
  grpc::Status status = sagas->StartSaga(context.get(), start, &started);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(started.saga().state(), saga::v1::SAGA_STATE_COMPLETED);
  const std::string trace = started.saga().traceparent();
  EXPECT_TRUE(saga::IsValidTraceparent(trace)) << trace;
  ASSERT_FALSE(participant_.calls().empty());
  for (const auto& call : participant_.calls()) {
    EXPECT_TRUE(saga::IsValidTraceparent(call.traceparent)) << call.traceparent;
    EXPECT_EQ(call.traceparent.substr(0, 35), trace.substr(0, 35));  // the same trace id
  }
}

TEST_F(SagadSagaTest, StartWaitGetListHistoryAndWatchOverGrpc) {
  auto sagad = StartSagad();
  ASSERT_NE(sagad, nullptr);
  auto sagas = saga::v1::SagaService::NewStub(sagad->channel());
  RegisterOrder(*sagas);

  saga::v1::StartSagaRequest start;
  start.set_definition_name("order");
  start.set_wait_for_completion(true);
  (*start.mutable_labels())["tenant"] = "acme";
  (*start.mutable_payloads())["charge"] = "{\"amount\": 42}";
  saga::v1::StartSagaResponse started;
  auto context = DeadlineContext();
  context->AddMetadata("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  grpc::Status status = sagas->StartSaga(context.get(), start, &started);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(started.created());
  EXPECT_EQ(started.saga().state(), saga::v1::SAGA_STATE_COMPLETED);
  const std::string id = started.saga().saga_id();
  for (const auto& call : participant_.calls()) {
    EXPECT_THAT(call.traceparent, HasSubstr("0af7651916cd43dd8448eb211c80319c"));
  }
  EXPECT_EQ(participant_.calls()[1].payload, "{\"amount\": 42}");
  EXPECT_EQ(started.saga().traceparent(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");

  saga::v1::GetSagaRequest get;
  get.set_saga_id(id);
  saga::v1::GetSagaResponse got;
  ASSERT_TRUE(sagas->GetSaga(DeadlineContext().get(), get, &got).ok());
  EXPECT_EQ(got.saga().state(), saga::v1::SAGA_STATE_COMPLETED);
  EXPECT_EQ(got.saga().labels().at("tenant"), "acme");

  // A second, compensated saga; then list by state and by label, a page at a time.
  participant_.SetScript("/shop.S/ship", [](const auto&, int) {
    return Reply{absl::FailedPreconditionError("no carrier")};
  });
  saga::v1::StartSagaResponse failed;
  ASSERT_TRUE(sagas->StartSaga(DeadlineContext().get(), start, &failed).ok());
  EXPECT_EQ(failed.saga().state(), saga::v1::SAGA_STATE_COMPENSATED);
  EXPECT_THAT(failed.saga().error(), HasSubstr("no carrier"));

  saga::v1::ListSagasRequest list;
  list.add_states(saga::v1::SAGA_STATE_COMPENSATED);
  saga::v1::ListSagasResponse listed;
  ASSERT_TRUE(sagas->ListSagas(DeadlineContext().get(), list, &listed).ok());
  ASSERT_EQ(listed.sagas_size(), 1);
  EXPECT_EQ(listed.sagas(0).saga_id(), failed.saga().saga_id());
  list.clear_states();
  (*list.mutable_labels())["tenant"] = "acme";
  list.set_page_size(1);
  ASSERT_TRUE(sagas->ListSagas(DeadlineContext().get(), list, &listed).ok());
  ASSERT_EQ(listed.sagas_size(), 1);
  EXPECT_EQ(listed.sagas(0).saga_id(), failed.saga().saga_id());  // newest first
  list.set_page_token(listed.next_page_token());
  ASSERT_TRUE(sagas->ListSagas(DeadlineContext().get(), list, &listed).ok());
  ASSERT_EQ(listed.sagas_size(), 1);
  EXPECT_EQ(listed.sagas(0).saga_id(), id);
  EXPECT_TRUE(listed.next_page_token().empty());
  (*list.mutable_labels())["tenant"] = "other";
  list.clear_page_token();
  ASSERT_TRUE(sagas->ListSagas(DeadlineContext().get(), list, &listed).ok());
  EXPECT_EQ(listed.sagas_size(), 0);

  auto admin = saga::v1::AdminService::NewStub(sagad->channel());
  saga::v1::GetHistoryRequest history;
  history.set_saga_id(failed.saga().saga_id());
  history.set_page_size(3);
  std::vector<saga::v1::SagaEvent> events;
  for (;;) {
    saga::v1::GetHistoryResponse page;
    ASSERT_TRUE(admin->GetHistory(DeadlineContext().get(), history, &page).ok());
    for (const auto& e : page.events()) events.push_back(e);
    if (page.next_page_token().empty()) break;
    history.set_page_token(page.next_page_token());
  }
  ASSERT_GT(events.size(), 6u);
  EXPECT_EQ(events.front().type(), saga::v1::SagaEvent::TYPE_SAGA_STARTED);
  EXPECT_EQ(events.back().type(), saga::v1::SagaEvent::TYPE_SAGA_COMPENSATED);

  // Watch replays the history and ends with the terminal event.
  saga::v1::WatchSagaRequest watch;
  watch.set_saga_id(failed.saga().saga_id());
  auto watch_context = DeadlineContext();
  auto reader = sagas->WatchSaga(watch_context.get(), watch);
  saga::v1::WatchSagaResponse event;
  std::vector<uint64_t> sequences;
  while (reader->Read(&event)) sequences.push_back(event.event().sequence());
  EXPECT_TRUE(reader->Finish().ok());
  ASSERT_EQ(sequences.size(), events.size());
  for (size_t i = 0; i < sequences.size(); ++i) EXPECT_EQ(sequences[i], i + 1);
}

TEST_F(SagadSagaTest, WatchStreamsASagaWhileItRuns) {
  auto sagad = StartSagad();
  ASSERT_NE(sagad, nullptr);
  auto sagas = saga::v1::SagaService::NewStub(sagad->channel());
  RegisterOrder(*sagas);
  participant_.SetScript("/shop.S/charge", [](const auto&, int) {
    return Reply{absl::OkStatus(), absl::Milliseconds(500)};
  });
  saga::v1::StartSagaRequest start;
  start.set_definition_name("order");
  saga::v1::StartSagaResponse started;
  ASSERT_TRUE(sagas->StartSaga(DeadlineContext().get(), start, &started).ok());
  EXPECT_EQ(started.saga().state(), saga::v1::SAGA_STATE_RUNNING);
  saga::v1::WatchSagaRequest watch;
  watch.set_saga_id(started.saga().saga_id());
  auto context = DeadlineContext();
  auto reader = sagas->WatchSaga(context.get(), watch);
  saga::v1::WatchSagaResponse event;
  saga::v1::SagaEvent last;
  int count = 0;
  while (reader->Read(&event)) {
    last = event.event();
    EXPECT_EQ(last.sequence(), static_cast<uint64_t>(++count));
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(last.type(), saga::v1::SagaEvent::TYPE_SAGA_COMPLETED);
}

TEST_F(SagadSagaTest, BadStartsAnswerTheRightCodeAndWriteNothing) {
  auto sagad = StartSagad({"SAGAD_MAX_PAYLOAD_BYTES=100"});
  ASSERT_NE(sagad, nullptr);
  auto sagas = saga::v1::SagaService::NewStub(sagad->channel());
  RegisterOrder(*sagas);
  saga::v1::StartSagaRequest start;
  saga::v1::StartSagaResponse started;
  start.set_definition_name("unknown");
  grpc::Status status = sagas->StartSaga(DeadlineContext().get(), start, &started);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("register it first"));
  start.set_definition_name("order");
  (*start.mutable_payloads())["charge"] = std::string(101, 'x');
  status = sagas->StartSaga(DeadlineContext().get(), start, &started);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("limit of 100 bytes"));
  saga::v1::GetSagaRequest get;
  get.set_saga_id("12345");
  saga::v1::GetSagaResponse got;
  status = sagas->GetSaga(DeadlineContext().get(), get, &got);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("saga_id"));
  saga::v1::AbortSagaRequest abort;
  abort.set_saga_id("not-a-uuid");
  abort.set_reason("x");
  saga::v1::AbortSagaResponse aborted;
  EXPECT_EQ(sagas->AbortSaga(DeadlineContext().get(), abort, &aborted).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Count("SELECT count(*) FROM sagas"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM saga_history"), 0);
  EXPECT_TRUE(participant_.calls().empty());
}

// The i-th saga of the crash tests; about a third are scripted to fail at their last step.
saga::v1::StartSagaRequest CrashTestOrder(int i) {
  saga::v1::StartSagaRequest start;
  start.set_definition_name("order");
  start.set_idempotency_key(saga::StrCat("order-", i));
  (*start.mutable_payloads())["ship"] = i % 3 == 0 ? "fail" : "ok";
  return start;
}

TEST_F(SagadSagaTest, SigkillAtRandomMomentsLosesNoSagaAndAppliesEachEffectOnce) {
  constexpr int kSagas = 1000;
  participant_.SetScript("/shop.S/ship", [](const auto& call, int) {
    return call.payload == "fail" ? Reply{absl::FailedPreconditionError("refused")} : Reply{};
  });
  // Answers take a little while, so kills land with calls in flight.
  participant_.SetScript("/shop.S/charge", [](const auto&, int) {
    return Reply{absl::OkStatus(), absl::Milliseconds(5)};
  });
  auto sagad = StartSagad(saga::testing::CrashTestSettings());
  ASSERT_NE(sagad, nullptr);
  const int grpc_port = sagad->grpc_port();
  RegisterOrder(*saga::v1::SagaService::NewStub(sagad->channel()));

  absl::Mutex mu;
  std::shared_ptr<grpc::Channel> current = sagad->channel();
  std::vector<std::string> ids;
  std::thread client([&] {
    ids = saga::testing::StartManyRetrying([&] { absl::MutexLock lock(&mu); return current; },
                                           kSagas, CrashTestOrder, absl::Minutes(3));
  });
  struct Join {
    std::thread& t;
    ~Join() { if (t.joinable()) t.join(); }
  } join{client};
  absl::BitGen gen;
  int kills = 0;
  for (; kills < 6; ++kills) {
    saga::testing::Pause(absl::Milliseconds(absl::Uniform(gen, 300, 1200)));  // a random moment
    sagad->process().Signal(SIGKILL);
    ASSERT_TRUE(sagad->process().Wait(absl::Seconds(10)).ok());
    auto restarted = SagadProcess::Start(dsn_, saga::testing::CrashTestSettings(grpc_port));
    ASSERT_TRUE(restarted.ok()) << restarted.status();
    absl::MutexLock lock(&mu);
    sagad = *std::move(restarted);
    current = sagad->channel();
  }
  client.join();
  ASSERT_EQ(ids.size(), static_cast<size_t>(kSagas));
  EXPECT_EQ(Count("SELECT count(*) FROM sagas"), kSagas);  // idempotency keys held

  // Every saga ends, COMPLETED or COMPENSATED, and the effects satisfy invariant 1.
  bool all_ended = saga::testing::WaitFor(
      [&] { return Count("SELECT count(*) FROM sagas WHERE state IN (3, 4)") == kSagas; },
      absl::Minutes(2), absl::Milliseconds(200));
  EXPECT_TRUE(all_ended) << Count("SELECT count(*) FROM sagas WHERE state NOT IN (3, 4)")
                         << " sagas did not end";
  EXPECT_TRUE(saga::testing::WaitFor([&] { return participant_.delayed_answers() == 0; },
                                     absl::Seconds(10)));
  auto sagas = saga::v1::SagaService::NewStub(sagad->channel());
  std::vector<std::string> violations;
  int completed = 0, compensated = 0;
  for (const std::string& id : ids) {
    saga::v1::GetSagaRequest get;
    get.set_saga_id(id);
    saga::v1::GetSagaResponse got;
    ASSERT_TRUE(sagas->GetSaga(DeadlineContext().get(), get, &got).ok());
    completed += got.saga().state() == saga::v1::SAGA_STATE_COMPLETED;
    compensated += got.saga().state() == saga::v1::SAGA_STATE_COMPENSATED;
    for (auto& v : saga::testing::InvariantOneViolations(got.saga(), participant_)) {
      violations.push_back(std::move(v));
    }
  }
  EXPECT_THAT(violations, IsEmpty());
  std::cerr << "[crash test] " << kills << " SIGKILLs, " << kSagas << " sagas: " << completed
            << " completed, " << compensated << " compensated, " << violations.size()
            << " violations\n";
}

TEST_F(SagadSagaTest, TwoInstancesOneKilledItsSagasFinishOnTheOther) {
  const std::vector<std::string> env = {"SAGAD_LEASE_TTL=1s"};
  auto a = StartSagad({env[0], "SAGAD_INSTANCE_ID=sagad-a"});
  auto b = StartSagad({env[0], "SAGAD_INSTANCE_ID=sagad-b"});
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  RegisterOrder(*saga::v1::SagaService::NewStub(a->channel()));
  // While sagad-a drives them, charge hangs: its sagas are in flight when it dies.
  participant_.SetScript("/shop.S/charge", [](const auto& call, int) {
    return call.lease_epoch == "1" ? Reply{absl::OkStatus(), absl::Seconds(30), false} : Reply{};
  });
  auto stub = saga::v1::SagaService::NewStub(a->channel());
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    saga::v1::StartSagaRequest start;
    start.set_definition_name("order");
    saga::v1::StartSagaResponse started;
    ASSERT_TRUE(stub->StartSaga(DeadlineContext().get(), start, &started).ok());
    ids.push_back(started.saga().saga_id());
  }
  ASSERT_TRUE(saga::testing::WaitFor(
      [&] {
        int charging = 0;
        for (const auto& c : participant_.calls()) charging += c.step == "charge";
        return charging == 50;
      },
      absl::Seconds(10)));
  a->process().Signal(SIGKILL);
  ASSERT_TRUE(a->process().Wait(absl::Seconds(10)).ok());
  const absl::Time killed = absl::Now();
  bool finished = saga::testing::WaitFor(
      [&] { return Count("SELECT count(*) FROM sagas WHERE state = 3") == 50; },
      absl::Seconds(10), absl::Milliseconds(50));
  const absl::Duration took = absl::Now() - killed;
  EXPECT_TRUE(finished);
  EXPECT_LE(took, absl::Seconds(1) + absl::Seconds(1)) << "lease TTL 1s plus one second";
  EXPECT_EQ(Count("SELECT count(*) FROM sagas WHERE owner = 'sagad-b'"), 50);
  // The trace context survives the takeover: sagad-b's calls carry each saga's first trace id.
  std::map<std::string, std::set<std::string>> traces;
  for (const auto& call : participant_.calls()) {
    traces[call.saga_id].insert(call.traceparent.substr(0, 35));
  }
  for (const auto& [saga_id, ids] : traces) EXPECT_EQ(ids.size(), 1u) << saga_id;
  auto sagas = saga::v1::SagaService::NewStub(b->channel());
  for (const std::string& id : ids) {
    saga::v1::GetSagaRequest get;
    get.set_saga_id(id);
    saga::v1::GetSagaResponse got;
    ASSERT_TRUE(sagas->GetSaga(DeadlineContext().get(), get, &got).ok());
    EXPECT_THAT(saga::testing::InvariantOneViolations(got.saga(), participant_), IsEmpty());
  }
  std::cerr << "[failover] sagad-b finished sagad-a's 50 sagas " << absl::FormatDuration(took)
            << " after the SIGKILL (lease TTL 1s)\n";
}

}  // namespace
}  // namespace saga
