// Tests of the SagaEngine against a real PostgreSQL (PgSagaStore) and real gRPC participants on
// loopback (RecordingParticipant, called through GrpcParticipantInvoker). Every test ends by
// checking invariant 1 of DESIGN.md on the participants' effect logs.
#include "coordinator/saga_engine.h"

#include <google/protobuf/text_format.h>

#include <pqxx/pqxx>

#include "absl/synchronization/notification.h"
#include "coordinator/definition_registry.h"
#include "coordinator/grpc/grpc_participant_invoker.h"
#include "coordinator/participant_router.h"
#include "coordinator/pg/pg_definition_store.h"
#include "coordinator/pg/pg_saga_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sdk/base/strings.h"
#include "tests/fakes/recording_participant.h"
#include "tests/harness/migrated_database.h"
#include "tests/harness/wait.h"

namespace saga::coordinator {
namespace {

using ::saga::testing::RecordingParticipant;
using ::saga::testing::Reply;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

void ExpectInvariantOne(const saga::v1::Saga& saga, RecordingParticipant& participant) {
  EXPECT_THAT(saga::testing::InvariantOneViolations(saga, participant), ::testing::IsEmpty());
}

class SagaEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = saga::testing::NewMigratedDatabase();
    ASSERT_TRUE(db.ok()) << db.status();
    dsn_ = db->dsn;
    pool_ = std::move(db->pool);
    definitions_ = std::make_unique<pg::PgDefinitionStore>(pool_.get());
    registry_ = std::make_unique<DefinitionRegistry>(definitions_.get());
    store_ = std::make_unique<pg::PgSagaStore>(pool_.get(), "sagad.saga-events");
    engine_ = NewEngine("engine-a", absl::Seconds(10));
  }

  void TearDown() override { engine_.reset(); }

  std::unique_ptr<SagaEngine> NewEngine(const std::string& id, absl::Duration ttl) {
    auto engine = std::make_unique<SagaEngine>(
        store_.get(), registry_.get(), &invoker_, &clock_,
        EngineOptions{.instance_id = id, .lease_ttl = ttl,
                      .recovery_interval = absl::Milliseconds(100)});
    engine->Start();
    return engine;
  }

  // Registers a definition whose steps all call `participant_`.
  void Register(const std::string& text) {
    std::string full = text;
    size_t pos;
    while ((pos = full.find("TARGET")) != std::string::npos) {
      full.replace(pos, 6, participant_.target());
    }
    saga::v1::SagaDefinition definition;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(full, &definition)) << full;
    ASSERT_TRUE(registry_->Register(definition).ok());
  }

  absl::StatusOr<StartResult> Start(const std::string& name, const std::string& key = "",
                                    SagaEngine* engine = nullptr) {
    saga::v1::StartSagaRequest request;
    request.set_definition_name(name);
    request.set_idempotency_key(key);
    if (name == "order") (*request.mutable_payloads())["reserve"] = "sku-42";
    absl::Mutex mu;
    std::optional<absl::StatusOr<StartResult>> result;
    (engine ? engine : engine_.get())
        ->StartSaga(request, "", [&](absl::StatusOr<StartResult> r) {
          absl::MutexLock lock(&mu);
          result = std::move(r);
        });
    absl::MutexLock lock(&mu);
    mu.AwaitWithTimeout(absl::Condition(
                            +[](std::optional<absl::StatusOr<StartResult>>* r) {
                              return r->has_value();
                            },
                            &result),
                        absl::Seconds(30));
    if (!result) return absl::DeadlineExceededError("StartSaga did not answer");
    return *std::move(result);
  }

  // Waits until the stored saga ends; returns it.
  saga::v1::Saga AwaitEnd(const std::string& saga_id, absl::Duration timeout = absl::Seconds(30)) {
    saga::v1::Saga saga;
    bool ended = saga::testing::WaitFor(
        [&] {
          auto s = store_->Get(saga_id);
          if (!s.ok()) return false;
          saga = *s;
          return SagaMachine::IsTerminal(s->state()) ||
                 s->state() == saga::v1::SAGA_STATE_QUARANTINED;
        },
        timeout, absl::Milliseconds(20));
    EXPECT_TRUE(ended) << "saga " << saga_id << " is still " << saga.state();
    return saga;
  }

  std::vector<std::string> Calls(const std::string& saga_id) {
    std::vector<std::string> out;
    for (const auto& c : participant_.calls()) {
      if (c.saga_id == saga_id) out.push_back(c.step + ":" + c.operation);
    }
    return out;
  }

  int Count(const std::string& sql) {
    pqxx::connection conn(dsn_);
    pqxx::read_transaction tx(conn);
    return tx.exec(sql)[0][0].as<int>();
  }

  static std::string Step(const std::string& name, const std::string& extra = "") {
    return "steps { name: \"" + name + "\" action { grpc { target: \"TARGET\" method: \"/shop.S/" +
           name + "\" } } compensation { grpc { target: \"TARGET\" method: \"/shop.S/undo_" +
           name + "\" } } " + extra + " }\n";
  }
  static std::string Order() {
    return "name: \"order\"\n"
           "default_retry_policy { initial_backoff { nanos: 10000000 } "
           "max_backoff { nanos: 50000000 } max_attempts: 3 }\n" +
           Step("reserve") + Step("charge", "depends_on: \"reserve\"") +
           Step("ship", "depends_on: \"charge\"");
  }

  std::string dsn_;
  std::unique_ptr<saga::pg::ConnectionPool> pool_;
  std::unique_ptr<pg::PgDefinitionStore> definitions_;
  std::unique_ptr<DefinitionRegistry> registry_;
  std::unique_ptr<pg::PgSagaStore> store_;
  RecordingParticipant participant_;
  grpc_invoker::GrpcParticipantInvoker invoker_;
  RealClock clock_;
  std::unique_ptr<SagaEngine> engine_;
};

TEST_F(SagaEngineTest, HappyPathCallsEachStepOnceWithItsMetadataAndCompletes) {
  Register(Order());
  auto started = Start("order");
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_TRUE(started->created);
  const std::string id = started->saga.saga_id();
  saga::v1::Saga saga = AwaitEnd(id);
  EXPECT_EQ(saga.state(), saga::v1::SAGA_STATE_COMPLETED);
  EXPECT_THAT(Calls(id), ElementsAre("reserve:action", "charge:action", "ship:action"));
  for (const auto& call : participant_.calls()) {
    EXPECT_EQ(call.idempotency_key, id + "/" + call.step + "/action");
    EXPECT_EQ(call.lease_epoch, "1");
    EXPECT_THAT(call.traceparent, ::testing::MatchesRegex("00-[0-9a-f]{32}-[0-9a-f]{16}-01"));
  }
  EXPECT_EQ(participant_.calls()[0].payload, "sku-42");
  EXPECT_EQ(participant_.calls()[0].method, "/shop.S/reserve");
  ExpectInvariantOne(saga, participant_);
  // Every transition is in the history and in the outbox, in the same transactions.
  auto history = store_->History(id, 0, 100);
  ASSERT_TRUE(history.ok());
  ASSERT_FALSE(history->empty());
  for (size_t i = 0; i < history->size(); ++i) EXPECT_EQ((*history)[i].sequence(), i + 1);
  EXPECT_EQ(history->front().type(), saga::v1::SagaEvent::TYPE_SAGA_STARTED);
  EXPECT_EQ(history->back().type(), saga::v1::SagaEvent::TYPE_SAGA_COMPLETED);
  // One transition row per commit in the history, and one outbox message for each.
  EXPECT_EQ(Count("SELECT count(*) FROM outbox"), Count("SELECT count(*) FROM saga_history"));
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE topic = 'sagad.saga-events' AND "
                  "convert_from(msg_key, 'UTF8') = '" + id + "'"),
            Count("SELECT count(*) FROM saga_history"));
}

// A saga dropped from memory after a failed commit must not be kept alive by its owner's lease
// renewals, or recovery never resumes it (found by the fault matrix: sagas stuck RUNNING after
// a PostgreSQL restart).
TEST_F(SagaEngineTest, LeasesAreRenewedOnlyForTheSagasTheInstanceStillDrives) {
  Register(R"(name: "slow" steps { name: "wait"
              action { grpc { target: "TARGET" method: "/shop.S/wait" } } })");
  participant_.SetScript("/shop.S/wait", [](const auto&, int) {
    return Reply{absl::OkStatus(), absl::Seconds(20), false};
  });
  auto a = Start("slow");
  auto b = Start("slow");
  ASSERT_TRUE(a.ok() && b.ok());
  {  // Both now held by an owner that drives neither, their leases about to expire.
    pqxx::connection conn(dsn_);
    pqxx::work tx(conn);
    tx.exec("UPDATE sagas SET owner = 'gone', lease_expires_at = now() + interval '1 second'");
    tx.commit();
  }
  ASSERT_TRUE(store_->RenewLeases("gone", {a->saga.saga_id()}, absl::Seconds(60)).ok());
  EXPECT_EQ(Count(saga::StrCat("SELECT count(*) FROM sagas WHERE saga_id = '", a->saga.saga_id(),
                               "' AND lease_expires_at > now() + interval '30 seconds'")),
            1);
  EXPECT_EQ(Count(saga::StrCat("SELECT count(*) FROM sagas WHERE saga_id = '", b->saga.saga_id(),
                               "' AND lease_expires_at < now() + interval '2 seconds'")),
            1);
}

TEST_F(SagaEngineTest, ABusinessFailureAtEachStepCompensatesTheEarlierStepsInReverse) {
  Register(Order());
  const std::vector<std::string> steps = {"reserve", "charge", "ship"};
  for (size_t failing = 0; failing < steps.size(); ++failing) {
    participant_.SetScript("/shop.S/" + steps[failing], [](const auto&, int) {
      return Reply{absl::FailedPreconditionError("refused")};
    });
    auto started = Start("order");
    ASSERT_TRUE(started.ok()) << started.status();
    const std::string id = started->saga.saga_id();
    saga::v1::Saga saga = AwaitEnd(id);
    EXPECT_EQ(saga.state(), saga::v1::SAGA_STATE_COMPENSATED);
    std::vector<std::string> expected;
    for (size_t i = 0; i <= failing; ++i) expected.push_back(steps[i] + ":action");
    for (size_t i = failing; i-- > 0;) expected.push_back(steps[i] + ":compensation");
    EXPECT_EQ(Calls(id), expected) << "failing " << steps[failing];
    ExpectInvariantOne(saga, participant_);
    participant_.SetScript("/shop.S/" + steps[failing], [](const auto&, int) { return Reply{}; });
  }
}

TEST_F(SagaEngineTest, TransientFailuresAreRetriedWithTheSameIdempotencyKey) {
  Register(Order());
  participant_.SetScript("/shop.S/charge", [](const auto&, int n) {
    return n <= 2 ? Reply{absl::UnavailableError("try later")} : Reply{};
  });
  auto started = Start("order");
  ASSERT_TRUE(started.ok()) << started.status();
  const std::string id = started->saga.saga_id();
  saga::v1::Saga saga = AwaitEnd(id);
  EXPECT_EQ(saga.state(), saga::v1::SAGA_STATE_COMPLETED);
  EXPECT_EQ(saga.steps(1).attempts(), 3u);
  std::set<std::string> keys;
  for (const auto& c : participant_.calls()) {
    if (c.step == "charge") keys.insert(c.idempotency_key);
  }
  EXPECT_EQ(keys.size(), 1u);
  ExpectInvariantOne(saga, participant_);
}

TEST_F(SagaEngineTest, AStepThatTimesOutIsCompensatedSafely) {
  Register("name: \"order\"\n"
           "default_retry_policy { initial_backoff { nanos: 10000000 } max_attempts: 2 }\n"
           "default_step_timeout { nanos: 200000000 }\n" +
           Step("reserve") + Step("charge", "depends_on: \"reserve\""));
  // charge always answers too late: it applies, but after the caller gave up.
  participant_.SetScript("/shop.S/charge", [](const auto&, int) {
    return Reply{absl::OkStatus(), absl::Milliseconds(400)};
  });
  auto started = Start("order");
  ASSERT_TRUE(started.ok()) << started.status();
  const std::string id = started->saga.saga_id();
  saga::v1::Saga saga = AwaitEnd(id);
  EXPECT_EQ(saga.state(), saga::v1::SAGA_STATE_COMPENSATED);
  EXPECT_EQ(saga.steps(1).state(), saga::v1::STEP_STATE_COMPENSATED);
  // Let the late actions land, then check: charge's effect (if any) is undone or blocked.
  EXPECT_TRUE(saga::testing::WaitFor([&] { return participant_.delayed_answers() == 0; },
                                     absl::Seconds(5)));
  ExpectInvariantOne(saga, participant_);
}

TEST_F(SagaEngineTest, AStatusEndpointTurnsAnUnknownOutcomeIntoSuccess) {
  Register("name: \"order\"\n"
           "default_retry_policy { initial_backoff { nanos: 10000000 } max_attempts: 2 }\n"
           "default_step_timeout { nanos: 200000000 }\n" +
           Step("reserve") +
           Step("charge", "depends_on: \"reserve\" status { grpc { target: \"TARGET\" "
                          "method: \"/shop.S/charge_status\" } }"));
  // Every charge answers too late (after the 200 ms timeout), but the first one does apply, at
  // 400 ms; the status endpoint, asked after the two attempts timed out (~410 ms), answers
  // 100 ms later, within its own timeout, that it ran.
  participant_.SetScript("/shop.S/charge", [](const auto&, int) {
    return Reply{absl::OkStatus(), absl::Milliseconds(400)};
  });
  participant_.SetScript("/shop.S/charge_status", [](const auto&, int) {
    return Reply{absl::OkStatus(), absl::Milliseconds(100)};
  });
  auto started = Start("order");
  ASSERT_TRUE(started.ok()) << started.status();
  const std::string id = started->saga.saga_id();
  saga::v1::Saga saga = AwaitEnd(id);
  EXPECT_EQ(saga.state(), saga::v1::SAGA_STATE_COMPLETED);
  EXPECT_EQ(saga.steps(1).state(), saga::v1::STEP_STATE_SUCCEEDED);
  EXPECT_THAT(Calls(id), ::testing::Contains("charge:status"));
  EXPECT_TRUE(saga::testing::WaitFor([&] { return participant_.delayed_answers() == 0; },
                                     absl::Seconds(5)));
  ExpectInvariantOne(saga, participant_);
}

TEST_F(SagaEngineTest, IndependentStepsRunInParallel) {
  Register("name: \"fanout\"\n" + Step("a") + Step("b") +
           Step("join", "depends_on: \"a\" depends_on: \"b\""));
  participant_.SetScript("/shop.S/a", [](const auto&, int) {
    return Reply{absl::OkStatus(), absl::Milliseconds(300)};
  });
  auto started = Start("fanout");
  ASSERT_TRUE(started.ok()) << started.status();
  const std::string id = started->saga.saga_id();
  // b is called while a is still running.
  EXPECT_TRUE(saga::testing::WaitFor([&] { return Calls(id).size() == 2; }, absl::Seconds(5)));
  saga::v1::Saga saga = AwaitEnd(id);
  EXPECT_EQ(saga.state(), saga::v1::SAGA_STATE_COMPLETED);
  EXPECT_EQ(Calls(id).back(), "join:action");
}

TEST_F(SagaEngineTest, PivotThenRetriableStepsRetriedUntilTheySucceed) {
  Register("name: \"order\"\n"
           "default_retry_policy { initial_backoff { nanos: 5000000 } max_backoff { nanos: 5000000 } "
           "max_attempts: 2 }\n" +
           Step("reserve") + Step("charge", "kind: STEP_KIND_PIVOT depends_on: \"reserve\"") +
           "steps { name: \"ship\" kind: STEP_KIND_RETRIABLE depends_on: \"charge\" "
           "action { grpc { target: \"TARGET\" method: \"/shop.S/ship\" } } }\n");
  participant_.SetScript("/shop.S/ship", [](const auto&, int n) {
    return n <= 6 ? Reply{absl::AbortedError("carrier busy")} : Reply{};
  });
  auto started = Start("order");
  ASSERT_TRUE(started.ok()) << started.status();
  saga::v1::Saga saga = AwaitEnd(started->saga.saga_id());
  EXPECT_EQ(saga.state(), saga::v1::SAGA_STATE_COMPLETED);
  EXPECT_EQ(saga.steps(2).attempts(), 7u);
  ExpectInvariantOne(saga, participant_);
}

TEST_F(SagaEngineTest, TheDeadlineAbortsASagaThatTakesTooLong) {
  Register("name: \"order\" deadline { nanos: 300000000 }\n" + Step("reserve") +
           Step("charge", "depends_on: \"reserve\""));
  participant_.SetScript("/shop.S/charge", [](const auto&, int) {
    return Reply{absl::OkStatus(), absl::Seconds(1)};
  });
  auto started = Start("order");
  ASSERT_TRUE(started.ok()) << started.status();
  saga::v1::Saga saga = AwaitEnd(started->saga.saga_id());
  EXPECT_EQ(saga.state(), saga::v1::SAGA_STATE_COMPENSATED);
  EXPECT_THAT(saga.error(), HasSubstr("deadline"));
  ExpectInvariantOne(saga, participant_);
}

TEST_F(SagaEngineTest, AbortCompensatesARunningSaga) {
  Register(Order());
  participant_.SetScript("/shop.S/charge", [](const auto&, int) {
    return Reply{absl::OkStatus(), absl::Milliseconds(300)};
  });
  auto started = Start("order");
  ASSERT_TRUE(started.ok()) << started.status();
  const std::string id = started->saga.saga_id();
  ASSERT_TRUE(saga::testing::WaitFor([&] { return Calls(id).size() == 2; }, absl::Seconds(5)));
  absl::Notification aborted;
  absl::StatusOr<saga::v1::Saga> result;
  engine_->Abort(id, "alice", "customer cancelled", [&](absl::StatusOr<saga::v1::Saga> s) {
    result = std::move(s);
    aborted.Notify();
  });
  ASSERT_TRUE(aborted.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(result.ok()) << result.status();
  saga::v1::Saga saga = AwaitEnd(id);
  EXPECT_EQ(saga.state(), saga::v1::SAGA_STATE_COMPENSATED);
  EXPECT_THAT(saga.error(), HasSubstr("aborted by alice: customer cancelled"));
  ExpectInvariantOne(saga, participant_);
  // A second abort of a compensated saga is refused.
  absl::Notification again;
  absl::Status second;
  engine_->Abort(id, "alice", "again", [&](absl::StatusOr<saga::v1::Saga> s) {
    second = s.status();
    again.Notify();
  });
  ASSERT_TRUE(again.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(second.code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(SagaEngineTest, TheSameIdempotencyKeyReturnsTheSameSaga) {
  Register(Order());
  auto first = Start("order", "order-1001");
  ASSERT_TRUE(first.ok());
  auto second = Start("order", "order-1001");
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(first->created);
  EXPECT_FALSE(second->created);
  EXPECT_EQ(first->saga.saga_id(), second->saga.saga_id());
  AwaitEnd(first->saga.saga_id());
  EXPECT_EQ(Count("SELECT count(*) FROM sagas"), 1);
}

TEST_F(SagaEngineTest, BadStartsWriteNothing) {
  Register(Order());
  EXPECT_EQ(Start("nothing").status().code(), absl::StatusCode::kNotFound);
  saga::v1::StartSagaRequest request;
  request.set_definition_name("order");
  (*request.mutable_payloads())["ghost"] = "x";
  absl::Notification done;
  absl::Status status;
  engine_->StartSaga(request, "", [&](absl::StatusOr<StartResult> r) {
    status = r.status();
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("payloads[\"ghost\"]"));
  EXPECT_EQ(Count("SELECT count(*) FROM sagas"), 0);
}

TEST_F(SagaEngineTest, ASecondInstanceResumesTheSagasOfOneThatStopped) {
  engine_ = NewEngine("engine-a", absl::Milliseconds(800));
  Register(Order());
  // charge hangs for the first engine: its sagas are in flight when it stops.
  participant_.SetScript("/shop.S/charge", [](const auto& call, int) {
    return call.lease_epoch == "1" ? Reply{absl::UnavailableError("down"), absl::Seconds(2)}
                                   : Reply{};
  });
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    auto started = Start("order");
    ASSERT_TRUE(started.ok()) << started.status();
    ids.push_back(started->saga.saga_id());
  }
  ASSERT_TRUE(saga::testing::WaitFor(
      [&] {
        return static_cast<int>(participant_.calls().size()) >= 40;  // reserve and charge, each
      },
      absl::Seconds(10)));
  engine_->Stop();  // leaves the leases to expire, as a crash would
  const absl::Time stopped = absl::Now();
  auto b = NewEngine("engine-b", absl::Milliseconds(800));
  for (const std::string& id : ids) {
    saga::v1::Saga saga = AwaitEnd(id);
    EXPECT_EQ(saga.state(), saga::v1::SAGA_STATE_COMPLETED);
    ExpectInvariantOne(saga, participant_);
  }
  // Within the lease TTL plus a second.
  EXPECT_LT(absl::Now() - stopped, absl::Milliseconds(800) + absl::Seconds(1) + absl::Seconds(1));
  EXPECT_EQ(Count("SELECT count(*) FROM sagas WHERE owner = 'engine-b' AND lease_epoch = 2"), 20);
}

}  // namespace
}  // namespace saga::coordinator

namespace saga::coordinator {
namespace {

// Stands in for the Kafka side: answers each call at once, after noting whether the command
// was already durable in the outbox when the call was handed over.
class CommandCheckingInvoker : public ParticipantInvoker {
 public:
  explicit CommandCheckingInvoker(std::string dsn) : dsn_(std::move(dsn)) {}
  void Invoke(const Invocation& invocation, std::function<void(absl::Status)> done) override {
    pqxx::connection conn(dsn_);
    pqxx::result row = pqxx::nontransaction(conn).exec_params(
        "SELECT topic, convert_from(msg_key, 'UTF8'), headers->>'reply-topic', "
        "headers->>'idempotency-key' FROM outbox WHERE message_id = $1",
        saga::StrCat(invocation.idempotency_key, "/", invocation.attempt));
    absl::MutexLock lock(&mu_);
    committed_flags_.push_back(invocation.command_committed);
    if (row.size() == 1) {
      rows_.push_back(saga::StrCat(row[0][0].as<std::string>(), " ", row[0][1].as<std::string>(),
                                   " ", row[0][2].as<std::string>(), " ",
                                   row[0][3].as<std::string>()));
    }
    done(absl::OkStatus());
  }
  std::vector<bool> committed_flags() {
    absl::MutexLock lock(&mu_);
    return committed_flags_;
  }
  std::vector<std::string> rows() {
    absl::MutexLock lock(&mu_);
    return rows_;
  }

 private:
  const std::string dsn_;
  absl::Mutex mu_;
  std::vector<bool> committed_flags_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> rows_ ABSL_GUARDED_BY(mu_);
};

TEST_F(SagaEngineTest, AKafkaStepsCommandCommitsWithTheTransitionThatDispatchesIt) {
  Register("name: \"mixed\"\n" + Step("reserve") +
           "steps { name: \"charge\" depends_on: \"reserve\" action { kafka { command_topic: "
           "\"payments.commands\" reply_topic: \"payments.replies\" } } }\n");
  CommandCheckingInvoker kafka(dsn_);
  ParticipantRouter router(&invoker_, &kafka);
  engine_.reset();
  auto engine = std::make_unique<SagaEngine>(store_.get(), registry_.get(), &router, &clock_,
                                             EngineOptions{.instance_id = "engine-k"});
  engine->Start();
  auto started = Start("mixed", "", engine.get());
  ASSERT_TRUE(started.ok()) << started.status();
  const std::string id = started->saga.saga_id();
  EXPECT_EQ(AwaitEnd(id).state(), saga::v1::SAGA_STATE_COMPLETED);
  engine.reset();
  EXPECT_THAT(kafka.committed_flags(), ElementsAre(true));
  // When the call was handed over, its command was already in the outbox, keyed by saga id.
  EXPECT_THAT(kafka.rows(), ElementsAre(saga::StrCat("payments.commands ", id,
                                                     " payments.replies ", id, "/charge/action")));
}

}  // namespace
}  // namespace saga::coordinator
