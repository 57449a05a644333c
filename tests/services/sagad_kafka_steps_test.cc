// Saga steps carried over Kafka, end to end: sagad (real PostgreSQL, real Kafka broker) runs a
// saga of a gRPC step, a Kafka step and a gRPC step. The Kafka step's participant is
// examples/kafka_payments (the SDK's idempotent consumer and outbox writer, its outbox relayed
// by sagad). The saga completes; it compensates when its last step fails; and with every reply
// duplicated and delivered late again, no saga advances or compensates twice: each charge and
// each refund takes effect once (invariant 1 of DESIGN.md). The same holds while sagad is
// killed with SIGKILL at random moments with Kafka steps in flight.
#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <random>
#include <regex>
#include <fstream>
#include <sstream>
#include <thread>

#include <pqxx/pqxx>

#include "absl/algorithm/container.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "outbox/kafka/kafka_producer.h"
#include "saga/v1/saga_service.grpc.pb.h"
#include "sdk/base/strings.h"
#include "sdk/base/uuid.h"
#include "sdk/inbox/idempotent_consumer.h"
#include "tests/fakes/recording_participant.h"
#include "tests/harness/child_process.h"
#include "tests/harness/kafka_broker.h"
#include "tests/harness/kafka_client.h"
#include "tests/harness/postgres_server.h"
#include "tests/harness/saga_client.h"
#include "tests/harness/sagad_process.h"
#include "tests/harness/wait.h"

namespace saga {
namespace {

using ::saga::testing::DeadlineContext;
using ::saga::testing::KafkaRecord;
using ::saga::testing::Reply;
using ::saga::testing::SagadProcess;
using ::saga::testing::SharedKafka;

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

class SagadKafkaStepsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dsn = saga::testing::NewDatabaseMigratedBySagad();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    auto payments_dsn = saga::testing::SharedPostgres().CreateFreshDatabase();
    ASSERT_TRUE(payments_dsn.ok());
    payments_dsn_ = *payments_dsn;
    {
      pqxx::connection conn(payments_dsn_);
      pqxx::nontransaction tx(conn);
      tx.exec(ReadFile(SERVICE_OUTBOX_SQL));
      tx.exec(ReadFile(SERVICE_INBOX_SQL));
    }
    const std::string suffix = NewUuid().substr(0, 8);
    commands_ = "payments.commands-" + suffix;
    replies_ = "payments.replies-" + suffix;
    ASSERT_TRUE(saga::testing::CreateTopic(SharedKafka().bootstrap_servers(), commands_, 4).ok());
    ASSERT_TRUE(saga::testing::CreateTopic(SharedKafka().bootstrap_servers(), replies_, 4).ok());
    payments_log_ = "/tmp/kafka-payments-" + suffix + ".log";
    StartPayments();
    StartSagad();
    RegisterMixed();
  }

  // Starts sagad, on `grpc_port` if not 0.
  void StartSagad(int grpc_port = 0) {
    std::vector<std::string> env = saga::testing::CrashTestSettings(grpc_port);
    env.push_back("SAGAD_KAFKA_BROKERS=" + SharedKafka().bootstrap_servers());
    env.push_back("SAGAD_RELAY_SOURCES=outbox=" + payments_dsn_);
    env.push_back("SAGAD_RELAY_POLL_INTERVAL=100ms");
    auto sagad = SagadProcess::Start(dsn_, env);
    ASSERT_TRUE(sagad.ok()) << sagad.status();
    absl::MutexLock lock(&sagad_mu_);
    sagad_ = *std::move(sagad);
    sagas_ = saga::v1::SagaService::NewStub(sagad_->channel());
  }

  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "--- kafka_payments log\n" << saga::testing::TailOfFile(payments_log_, 4000)
                << "\n--- sagad log\n" << sagad_->log().substr(sagad_->log().size() > 6000 ? sagad_->log().size() - 6000 : 0) << "\n";
    }
    std::remove(payments_log_.c_str());
  }

  void StartPayments() {
    auto payments = saga::testing::ChildProcess::Spawn(
        {.argv = {KAFKA_PAYMENTS, "--bootstrap", SharedKafka().bootstrap_servers(), "--dsn",
                  payments_dsn_, "--commands", commands_},
         .output_path = payments_log_});
    ASSERT_TRUE(payments.ok()) << payments.status();
    payments_ = *std::move(payments);
  }

  // reserve (gRPC) -> charge (Kafka) -> ship (gRPC), each with a compensation.
  void RegisterMixed() {
    saga::v1::RegisterDefinitionRequest request;
    auto* d = request.mutable_definition();
    d->set_name("mixed");
    d->mutable_default_retry_policy()->mutable_initial_backoff()->set_nanos(50000000);
    d->mutable_default_retry_policy()->mutable_max_backoff()->set_nanos(500000000);
    d->mutable_default_step_timeout()->set_seconds(5);
    auto grpc_step = [&](const std::string& name) {
      auto* step = d->add_steps();
      step->set_name(name);
      step->mutable_action()->mutable_grpc()->set_target(participant_.target());
      step->mutable_action()->mutable_grpc()->set_method("/shop.S/" + name);
      step->mutable_compensation()->mutable_grpc()->set_target(participant_.target());
      step->mutable_compensation()->mutable_grpc()->set_method("/shop.S/undo_" + name);
      return step;
    };
    grpc_step("reserve");
    auto* charge = d->add_steps();
    charge->set_name("charge");
    charge->add_depends_on("reserve");
    charge->mutable_action()->mutable_kafka()->set_command_topic(commands_);
    charge->mutable_action()->mutable_kafka()->set_reply_topic(replies_);
    charge->mutable_compensation()->mutable_kafka()->set_command_topic(commands_);
    charge->mutable_compensation()->mutable_kafka()->set_reply_topic(replies_);
    grpc_step("ship")->add_depends_on("charge");
    saga::v1::RegisterDefinitionResponse response;
    grpc::Status status = sagas_->RegisterDefinition(DeadlineContext().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  saga::v1::Saga Run(const std::map<std::string, std::string>& payloads,
                     const std::string& traceparent = "") {
    saga::v1::StartSagaRequest start;
    start.set_definition_name("mixed");
    start.set_wait_for_completion(true);
    for (const auto& [step, payload] : payloads) (*start.mutable_payloads())[step] = payload;
    saga::v1::StartSagaResponse response;
    auto context = DeadlineContext(absl::Seconds(60));
    if (!traceparent.empty()) context->AddMetadata("traceparent", traceparent);
    grpc::Status status = sagas_->StartSaga(context.get(), start, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.saga();
  }

  // payments_effects of `saga_id`: how many charges and refunds took effect.
  std::pair<int, int> PaymentEffects(const std::string& saga_id) {
    pqxx::connection conn(payments_dsn_);
    pqxx::result r = pqxx::nontransaction(conn).exec_params(
        "SELECT count(*) FILTER (WHERE operation = 'charge'), "
        "count(*) FILTER (WHERE operation = 'refund') FROM payments_effects WHERE saga_id = $1",
        saga_id);
    return {r[0][0].as<int>(), r[0][1].as<int>()};
  }

  std::string dsn_, payments_dsn_, commands_, replies_, payments_log_;
  saga::testing::RecordingParticipant participant_;
  std::unique_ptr<saga::testing::ChildProcess> payments_;
  absl::Mutex sagad_mu_;  // the crash test swaps sagad while its client runs
  std::unique_ptr<SagadProcess> sagad_;
  std::unique_ptr<saga::v1::SagaService::Stub> sagas_;
};

TEST_F(SagadKafkaStepsTest, AGrpcKafkaGrpcSagaCompletes) {
  const std::string caller_trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  saga::v1::Saga saga = Run({{"charge", "4200"}}, caller_trace);
  EXPECT_EQ(saga.state(), saga::v1::SAGA_STATE_COMPLETED) << saga.error();
  EXPECT_EQ(PaymentEffects(saga.saga_id()), std::make_pair(1, 0));
  auto effects = participant_.effects();
  EXPECT_EQ((effects[{saga.saga_id(), "reserve"}].actions), 1);
  EXPECT_EQ((effects[{saga.saga_id(), "ship"}].actions), 1);

  // The charge command on Kafka carries the caller's trace, like the gRPC calls.
  auto commands = saga::testing::ConsumeUntil(
      SharedKafka().bootstrap_servers(), commands_,
      [&](const std::vector<KafkaRecord>& records) {
        for (const KafkaRecord& r : records) {
          if (r.key == saga.saga_id()) return true;
        }
        return false;
      },
      absl::Seconds(30));
  ASSERT_TRUE(commands.ok()) << commands.status();
  std::map<std::string, std::string> headers;
  for (const KafkaRecord& r : *commands) {
    if (r.key == saga.saga_id()) headers.insert(r.headers.begin(), r.headers.end());
  }
  EXPECT_EQ(headers["saga-step"], "charge");
  EXPECT_EQ(headers["traceparent"].substr(0, 35), caller_trace.substr(0, 35));
  for (const auto& call : participant_.calls()) {
    if (call.saga_id != saga.saga_id()) continue;
    EXPECT_EQ(call.traceparent.substr(0, 35), caller_trace.substr(0, 35));
  }
}

TEST_F(SagadKafkaStepsTest, ItCompensatesTheKafkaStepWhenTheLastStepFails) {
  participant_.SetScript("/shop.S/ship", [](const auto&, int) {
    return Reply{absl::FailedPreconditionError("no carrier")};
  });
  saga::v1::Saga saga = Run({});
  EXPECT_EQ(saga.state(), saga::v1::SAGA_STATE_COMPENSATED) << saga.error();
  EXPECT_EQ(PaymentEffects(saga.saga_id()), std::make_pair(1, 1));  // charged, refunded once
  auto effects = participant_.effects();
  EXPECT_EQ((effects[{saga.saga_id(), "reserve"}].compensations), 1);
}

TEST_F(SagadKafkaStepsTest, ADeclinedChargeCompensatesTheStepsBeforeIt) {
  saga::v1::Saga saga = Run({{"charge", "decline"}});
  EXPECT_EQ(saga.state(), saga::v1::SAGA_STATE_COMPENSATED) << saga.error();
  EXPECT_THAT(saga.error(), ::testing::HasSubstr("card declined"));
  EXPECT_EQ(PaymentEffects(saga.saga_id()), std::make_pair(0, 0));
  auto effects = participant_.effects();
  EXPECT_EQ((effects[{saga.saga_id(), "reserve"}].compensations), 1);
  EXPECT_EQ((effects[{saga.saga_id(), "ship"}].actions), 0);
}

// The Kafka participant is down when the charge is sent: the call times out (5 s), is sent
// again with the same idempotency key, and once the participant is back the saga completes
// with one charge, although the participant saw the command twice.
TEST_F(SagadKafkaStepsTest, ACallWithNoReplyTimesOutAndIsRetriedUntilTheParticipantAnswers) {
  payments_->Signal(SIGTERM);
  ASSERT_TRUE(payments_->Wait(absl::Seconds(30)).ok());
  saga::v1::Saga saga;
  std::thread runner([&] { saga = Run({}); });
  // Past the first attempt's timeout (5 s): the engine has sent the command again.
  saga::testing::Pause(absl::Seconds(7));
  StartPayments();
  runner.join();
  EXPECT_EQ(saga.state(), saga::v1::SAGA_STATE_COMPLETED) << saga.error();
  EXPECT_EQ(PaymentEffects(saga.saga_id()), std::make_pair(1, 0));
  pqxx::connection conn(payments_dsn_);
  // Both attempts reached the participant; it applied the first and answered the second from
  // its ledger.
  EXPECT_GE(pqxx::nontransaction(conn)
                .exec_params("SELECT count(*) FROM inbox WHERE message_id LIKE $1",
                             saga.saga_id() + "/charge/action/%")[0][0]
                .as<int>(),
            2);
}

TEST_F(SagadKafkaStepsTest, DuplicatedAndLateRepliesNeverAdvanceOrCompensateTwice) {
  participant_.SetScript("/shop.S/ship", [](const testing::ParticipantCall& call, int) {
    return call.payload == "fail" ? Reply{absl::FailedPreconditionError("no carrier")} : Reply{};
  });
  // Every reply on the topic is produced twice more: at once, and again a second later. A
  // consumer of its own (deduplicating, so each original is seen once) picks them up.
  absl::Mutex mu;
  std::vector<outbox::OutboxRow> seen;
  auto watcher = sdk::IdempotentConsumer::Create(
      {.bootstrap_servers = SharedKafka().bootstrap_servers(),
       .group_id = "duplicator-" + NewUuid().substr(0, 8),
       .topics = {replies_},
       .pg_dsn = dsn_},
      [&](pqxx::work&, const sdk::InboxMessage& m) -> absl::Status {
        if (m.message_id.find("/copy") != std::string::npos) return absl::OkStatus();
        outbox::OutboxRow row{.topic = replies_, .key = m.key, .payload = m.payload};
        for (const auto& h : m.headers) {
          if (h.first != "message-id") row.headers.push_back(h);
        }
        row.message_id = m.message_id + "/copy";
        absl::MutexLock lock(&mu);
        seen.push_back(std::move(row));
        return absl::OkStatus();
      });
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  std::thread watching([&] { EXPECT_TRUE((*watcher)->Run().ok()); });
  std::atomic<bool> stop{false};
  std::atomic<int> copies{0};
  std::thread duplicator([&] {
    auto producer = outbox::kafka::KafkaProducer::Create(
        {.bootstrap_servers = SharedKafka().bootstrap_servers()});
    ASSERT_TRUE(producer.ok());
    std::vector<std::pair<absl::Time, outbox::OutboxRow>> late;
    while (!stop) {
      std::vector<outbox::OutboxRow> batch;
      {
        absl::MutexLock lock(&mu);
        batch.swap(seen);
      }
      for (const outbox::OutboxRow& row : batch) {
        outbox::OutboxRow later = row;
        later.message_id += "-late";
        late.emplace_back(absl::Now() + absl::Seconds(1), std::move(later));
      }
      for (auto it = late.begin(); it != late.end();) {
        if (it->first <= absl::Now()) {
          batch.push_back(std::move(it->second));
          it = late.erase(it);
        } else {
          ++it;
        }
      }
      if (!batch.empty()) {
        std::vector<const outbox::OutboxRow*> send;
        for (const auto& row : batch) send.push_back(&row);
        (*producer)->Send(send);
        copies += static_cast<int>(send.size());
      }
      saga::testing::Pause(absl::Milliseconds(20));
    }
  });

  constexpr int kSagas = 12;
  std::vector<std::thread> starters;
  std::vector<saga::v1::Saga> results(kSagas);
  for (int i = 0; i < kSagas; ++i) {
    starters.emplace_back([&, i] {
      std::map<std::string, std::string> payloads;
      if (i % 3 == 1) payloads["ship"] = "fail";
      if (i % 3 == 2) payloads["charge"] = "decline";
      results[i] = Run(payloads);
    });
  }
  for (std::thread& t : starters) t.join();
  // Let the late copies arrive before looking.
  saga::testing::Pause(absl::Seconds(3));
  stop = true;
  duplicator.join();
  (*watcher)->Stop();
  watching.join();
  // Two copies of each reply: 12 charges, 4 refunds at least.
  EXPECT_GE(copies.load(), 2 * (kSagas + kSagas / 3));

  auto effects = participant_.effects();
  for (int i = 0; i < kSagas; ++i) {
    const saga::v1::Saga& saga = results[i];
    const auto [charges, refunds] = PaymentEffects(saga.saga_id());
    if (i % 3 == 0) {
      EXPECT_EQ(saga.state(), saga::v1::SAGA_STATE_COMPLETED) << i << " " << saga.error();
      EXPECT_EQ(charges, 1);
      EXPECT_EQ(refunds, 0);
      EXPECT_EQ((effects[{saga.saga_id(), "ship"}].actions), 1);
    } else if (i % 3 == 1) {
      EXPECT_EQ(saga.state(), saga::v1::SAGA_STATE_COMPENSATED) << i << " " << saga.error();
      EXPECT_EQ(charges, 1);
      EXPECT_EQ(refunds, 1);
      EXPECT_EQ((effects[{saga.saga_id(), "reserve"}].compensations), 1);
    } else {
      EXPECT_EQ(saga.state(), saga::v1::SAGA_STATE_COMPENSATED) << i << " " << saga.error();
      EXPECT_EQ(charges, 0);
      EXPECT_EQ(refunds, 0);
      EXPECT_EQ((effects[{saga.saga_id(), "reserve"}].compensations), 1);
    }
    // Each reserve applied once, and its compensation at most once.
    EXPECT_EQ((effects[{saga.saga_id(), "reserve"}].actions), 1);
    EXPECT_LE((effects[{saga.saga_id(), "reserve"}].compensations), 1);
  }
  // /metrics counts the replies sagad's inbox read: the originals and their copies (the copies
  // carry message ids of their own, so the inbox applies them and the invoker drops them).
  httplib::Client http("127.0.0.1", sagad_->http_port());
  const std::regex pattern("sagad_inbox_messages_total\\{outcome=\"applied\"\\} (\\d+)");
  int applied = 0;
  EXPECT_TRUE(saga::testing::WaitFor(
      [&] {
        auto metrics = http.Get("/metrics");
        std::smatch match;
        if (!metrics || !std::regex_search(metrics->body, match, pattern)) return false;
        applied = std::stoi(match[1]);
        return applied >= kSagas + copies.load();
      },
      absl::Seconds(20), absl::Milliseconds(100)))
      << applied << " replies applied";

  // The sagas are over: nothing advanced after the end.
  for (const saga::v1::Saga& saga : results) {
    saga::v1::GetSagaRequest get;
    get.set_saga_id(saga.saga_id());
    saga::v1::GetSagaResponse got;
    ASSERT_TRUE(sagas_->GetSaga(DeadlineContext().get(), get, &got).ok());
    EXPECT_EQ(got.saga().state(), saga.state());
  }
}

// sagad is killed with SIGKILL four times at random moments while 150 sagas start and run over
// about 12 s, with commands and replies in flight. After each restart the recovered steps are sent again with their
// idempotency keys and the new instance reads the replies afresh. Every saga ends, and each
// effect, on either kind of participant, took place once (invariant 1).
TEST_F(SagadKafkaStepsTest, SigkillDuringKafkaStepsLosesNoSagaAndChargesOnce) {
  constexpr int kSagas = 150;
  participant_.SetScript("/shop.S/ship", [](const testing::ParticipantCall& call, int) {
    return call.payload == "fail" ? Reply{absl::FailedPreconditionError("no carrier")} : Reply{};
  });
  const int grpc_port = sagad_->grpc_port();
  std::vector<std::string> ids;
  std::thread client([&] {
    ids = saga::testing::StartManyRetrying(
        [&] {
          absl::MutexLock lock(&sagad_mu_);
          return sagad_->channel();
        },
        kSagas,
        [](int i) {
          saga::v1::StartSagaRequest start;
          start.set_definition_name("mixed");
          start.set_idempotency_key(saga::StrCat("mixed-", i));
          (*start.mutable_payloads())["ship"] = i % 3 == 0 ? "fail" : "ok";
          return start;
        },
        absl::Minutes(3), absl::Milliseconds(80));  // over about 12 s, across the kills
  });
  struct Join {
    std::thread& t;
    ~Join() { if (t.joinable()) t.join(); }
  } join{client};
  auto count = [&](const std::string& sql) {
    pqxx::connection conn(dsn_);
    return pqxx::nontransaction(conn).exec(sql)[0][0].as<int>();
  };
  std::mt19937 random(std::random_device{}());
  int kills = 0;
  std::vector<int> running_at_kills;  // sagas started and not ended at the moment of each kill
  for (; kills < 4; ++kills) {
    // A random moment.
    saga::testing::Pause(absl::Milliseconds(std::uniform_int_distribution(1000, 4000)(random)));
    SagadProcess* victim;
    {
      absl::MutexLock lock(&sagad_mu_);
      victim = sagad_.get();
    }
    victim->process().Signal(SIGKILL);
    ASSERT_TRUE(victim->process().Wait(absl::Seconds(10)).ok());
    running_at_kills.push_back(count("SELECT count(*) FROM sagas WHERE state NOT IN (3, 4)"));
    StartSagad(grpc_port);
    ASSERT_FALSE(HasFatalFailure());
  }
  client.join();
  ASSERT_EQ(ids.size(), static_cast<size_t>(kSagas));

  // The kills interrupted running sagas (else the test proves nothing).
  EXPECT_GT(absl::c_accumulate(running_at_kills, 0), 0);
  EXPECT_TRUE(saga::testing::WaitFor(
      [&] { return count("SELECT count(*) FROM sagas WHERE state IN (3, 4)") == kSagas; },
      absl::Minutes(3), absl::Milliseconds(200)))
      << "not every saga ended";
  std::vector<std::string> violations;
  int completed = 0, compensated = 0;
  for (const std::string& id : ids) {
    saga::v1::GetSagaRequest get;
    get.set_saga_id(id);
    saga::v1::GetSagaResponse got;
    ASSERT_TRUE(sagas_->GetSaga(DeadlineContext().get(), get, &got).ok());
    const saga::v1::Saga& saga = got.saga();
    const auto [charges, refunds] = PaymentEffects(id);
    if (saga.state() == saga::v1::SAGA_STATE_COMPLETED) {
      ++completed;
      if (charges != 1 || refunds != 0) {
        violations.push_back(saga::StrCat(id, " completed with ", charges, " charges and ",
                                          refunds, " refunds"));
      }
    } else if (saga.state() == saga::v1::SAGA_STATE_COMPENSATED) {
      ++compensated;
      if (charges > 1 || refunds != charges) {
        violations.push_back(saga::StrCat(id, " compensated with ", charges, " charges and ",
                                          refunds, " refunds"));
      }
    }
    // The gRPC steps, on the recording participant.
    saga::v1::Saga grpc_steps = saga;
    grpc_steps.clear_steps();
    for (const auto& step : saga.steps()) {
      if (step.name() != "charge") *grpc_steps.add_steps() = step;
    }
    for (auto& v : saga::testing::InvariantOneViolations(grpc_steps, participant_)) {
      violations.push_back(std::move(v));
    }
  }
  EXPECT_THAT(violations, ::testing::IsEmpty());
  EXPECT_EQ(completed, kSagas - kSagas / 3);
  EXPECT_EQ(compensated, kSagas / 3);
  std::cerr << "[kafka crash test] " << kills << " SIGKILLs, " << kSagas << " sagas: " << completed
            << " completed, " << compensated << " compensated, " << violations.size()
            << " violations; sagas running at each kill: " << absl::StrJoin(running_at_kills, ", ")
            << "\n";
}

}  // namespace
}  // namespace saga
