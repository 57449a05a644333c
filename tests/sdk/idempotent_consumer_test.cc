// The idempotent consumer against the real PostgreSQL and the real Kafka broker: every message
// delivered two or three times has one effect; a consumer that restarts with no offsets
// committed applies nothing twice; a group that starts at a moment skips older messages; batch mode the same; a failing handler is retried, then
// its message parked while others flow; a consumer process SIGKILLed again and again during
// 100,000 messages leaves exactly one effect per message id (invariant 4 of DESIGN.md).
#include "sdk/inbox/idempotent_consumer.h"

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include <pqxx/pqxx>

#include "absl/random/random.h"
#include "gtest/gtest.h"
#include "outbox/kafka/kafka_producer.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"
#include "sdk/base/uuid.h"
#include "tests/harness/child_process.h"
#include "tests/harness/kafka_broker.h"
#include "tests/harness/kafka_client.h"
#include "tests/harness/migrated_database.h"
#include "tests/harness/sanitizer_reports.h"
#include "tests/harness/wait.h"

namespace saga::testing {
namespace {

class IdempotentConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = NewMigratedDatabase(4);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    topic_ = "inbox-test-" + NewUuid().substr(0, 8);
    ASSERT_TRUE(CreateTopic(SharedKafka().bootstrap_servers(), topic_, 4).ok());
    Exec("CREATE TABLE effects (message_id text NOT NULL, payload bytea)");
  }

  void Exec(const std::string& sql) {
    pqxx::connection conn(db_.dsn);
    pqxx::nontransaction(conn).exec(sql);
  }
  int64_t Scalar(const std::string& sql) {
    pqxx::connection conn(db_.dsn);
    return pqxx::nontransaction(conn).exec(sql)[0][0].as<int64_t>();
  }

  // Sends messages m-<first>..m-<first+count-1> (message-id header = that id) once.
  void Produce(int first, int count, const std::function<bool(int)>& include = nullptr) {
    auto producer = outbox::kafka::KafkaProducer::Create(
        {.bootstrap_servers = SharedKafka().bootstrap_servers()});
    ASSERT_TRUE(producer.ok());
    std::vector<outbox::OutboxRow> rows;
    for (int i = first; i < first + count; ++i) {
      if (include && !include(i)) continue;
      rows.push_back({.topic = topic_, .key = saga::StrCat("key-", i % 32),
                      .payload = saga::StrCat(i), .message_id = saga::StrCat("m-", i)});
    }
    for (size_t start = 0; start < rows.size(); start += 5000) {
      std::vector<const outbox::OutboxRow*> batch;
      for (size_t i = start; i < std::min(rows.size(), start + 5000); ++i) batch.push_back(&rows[i]);
      for (const auto& d : (*producer)->Send(batch)) {
        ASSERT_EQ(d.outcome, outbox::Delivery::Outcome::kPersisted) << d.error;
      }
    }
  }

  // Runs a consumer on a thread until `done(stats)`, then stops it.
  sdk::IdempotentConsumerStats Consume(sdk::IdempotentConsumerOptions options,
                                       sdk::InboxHandler handler,
                                       const std::function<bool(const sdk::IdempotentConsumerStats&)>& done) {
    options.bootstrap_servers = SharedKafka().bootstrap_servers();
    options.topics = {topic_};
    options.pg_dsn = db_.dsn;
    if (options.group_id.empty()) options.group_id = "group-" + NewUuid().substr(0, 8);
    if (options.consumer_name.empty()) options.consumer_name = "effects";
    auto consumer = sdk::IdempotentConsumer::Create(options, std::move(handler));
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    if (!consumer.ok()) return {};
    std::thread runner([&] { EXPECT_TRUE((*consumer)->Run().ok()); });
    EXPECT_TRUE(WaitFor([&] { return done((*consumer)->stats()); }, absl::Minutes(2),
                        absl::Milliseconds(20)))
        << "applied " << (*consumer)->stats().applied << ", duplicates "
        << (*consumer)->stats().duplicates;
    (*consumer)->Stop();
    runner.join();
    return (*consumer)->stats();
  }

  static sdk::InboxHandler RecordEffect() {
    return [](pqxx::work& tx, const sdk::InboxMessage& m) -> absl::Status {
      tx.exec_params("INSERT INTO effects (message_id, payload) VALUES ($1, $2)", m.message_id,
                     pqxx::binarystring(m.payload));
      return absl::OkStatus();
    };
  }

  void ExpectOneEffectPerMessage(int64_t messages) {
    EXPECT_EQ(Scalar("SELECT count(DISTINCT message_id) FROM effects"), messages);
    EXPECT_EQ(Scalar("SELECT count(*) FROM effects"), messages) << "a message had two effects";
  }

  MigratedDatabase db_;
  std::string topic_;
};

TEST_F(IdempotentConsumerTest, MessagesDeliveredTwoOrThreeTimesHaveOneEffectEach) {
  constexpr int kMessages = 3000;
  Produce(0, kMessages);
  Produce(0, kMessages);                                   // every one twice
  Produce(0, kMessages, [](int i) { return i % 2 == 1; });  // odd ones three times
  const int64_t deliveries = kMessages * 2 + kMessages / 2;
  auto stats = Consume({}, RecordEffect(), [&](const auto& s) {
    return s.applied + s.duplicates >= deliveries;
  });
  EXPECT_EQ(stats.applied, kMessages);
  EXPECT_EQ(stats.duplicates, deliveries - kMessages);
  ExpectOneEffectPerMessage(kMessages);

  // A consumer that restarts before any offset was committed (a new group reads from the
  // start) applies nothing again.
  stats = Consume({}, RecordEffect(),
                  [&](const auto& s) { return s.applied + s.duplicates >= deliveries; });
  EXPECT_EQ(stats.applied, 0);
  EXPECT_EQ(stats.duplicates, deliveries);
  ExpectOneEffectPerMessage(kMessages);
}

// start_at places a new group's partitions at the first message produced at or after it; once
// the group committed offsets, a restart resumes there whatever start_at says.
TEST_F(IdempotentConsumerTest, StartAtSkipsOlderMessagesAndCommittedOffsetsComeFirst) {
  Produce(0, 500);
  Pause(absl::Milliseconds(50));  // Kafka timestamps are in milliseconds
  const absl::Time between = absl::Now();
  Pause(absl::Milliseconds(50));
  Produce(500, 500);
  const std::string group = "group-" + NewUuid().substr(0, 8);
  auto stats = Consume({.group_id = group, .start_at = between}, RecordEffect(),
                       [&](const auto& s) { return s.applied >= 500; });
  EXPECT_EQ(stats.applied, 500);
  EXPECT_EQ(Scalar("SELECT count(*) FROM effects WHERE substr(message_id, 3)::int < 500"), 0);

  Produce(1000, 100);
  stats = Consume({.group_id = group, .start_at = absl::Now() + absl::Hours(1)}, RecordEffect(),
                  [&](const auto& s) { return s.applied >= 100; });
  EXPECT_EQ(stats.applied, 100);
  EXPECT_EQ(stats.duplicates, 0);
  ExpectOneEffectPerMessage(600);
}

TEST_F(IdempotentConsumerTest, BatchModeAppliesEachMessageOnceToo) {
  constexpr int kMessages = 5000;
  Produce(0, kMessages);
  Produce(0, kMessages, [](int i) { return i % 3 == 0; });
  Produce(0, kMessages, [](int i) { return i % 5 == 0; });
  const int64_t deliveries = kMessages + (kMessages + 2) / 3 + kMessages / 5;
  auto stats = Consume({.batch_size = 200}, RecordEffect(), [&](const auto& s) {
    return s.applied + s.duplicates >= deliveries;
  });
  EXPECT_EQ(stats.applied, kMessages);
  ExpectOneEffectPerMessage(kMessages);
}

TEST_F(IdempotentConsumerTest, FailingHandlerIsRetriedThenItsMessageParkedWhileOthersFlow) {
  Produce(0, 20);
  std::atomic<int> flaky_calls{0};
  auto handler = [&](pqxx::work& tx, const sdk::InboxMessage& m) -> absl::Status {
    if (m.message_id == "m-7") return absl::FailedPreconditionError("account 7 is closed");
    // m-3 fails twice, then works: one effect in the end.
    if (m.message_id == "m-3" && flaky_calls.fetch_add(1) < 2) {
      tx.exec_params("INSERT INTO effects (message_id) VALUES ('rolled back')");
      return absl::UnavailableError("ledger busy");
    }
    return RecordEffect()(tx, m);
  };
  auto stats = Consume({.max_attempts = 3, .retry_base = absl::Milliseconds(10)}, handler,
                       [](const auto& s) { return s.applied + s.parked >= 20; });
  EXPECT_EQ(stats.applied, 19);
  EXPECT_EQ(stats.parked, 1);
  ExpectOneEffectPerMessage(19);
  EXPECT_EQ(Scalar("SELECT count(*) FROM effects WHERE message_id = 'rolled back'"), 0);
  pqxx::connection conn(db_.dsn);
  pqxx::result parked = pqxx::nontransaction(conn).exec(
      "SELECT message_id, error, attempts FROM inbox_parked");
  ASSERT_EQ(parked.size(), 1u);
  EXPECT_EQ(parked[0][0].as<std::string>(), "m-7");
  EXPECT_NE(parked[0][1].as<std::string>().find("account 7 is closed"), std::string::npos);
  EXPECT_EQ(parked[0][2].as<int>(), 3);
}

TEST_F(IdempotentConsumerTest, InboxForgetsIdsOlderThanItsRetention) {
  Produce(0, 300);
  // The same group both times: the second run resumes after the committed offsets.
  const sdk::IdempotentConsumerOptions options{.group_id = "retention-" + NewUuid().substr(0, 8),
                                               .retention = absl::Seconds(3),
                                               .cleanup_interval = absl::Milliseconds(100)};
  auto stats = Consume(options, RecordEffect(), [](const auto& s) { return s.applied >= 300; });
  EXPECT_EQ(stats.applied, 300);
  EXPECT_EQ(Scalar("SELECT count(*) FROM inbox WHERE consumer = 'effects'"), 300);
  // Another consumer name is another namespace: its ids are not touched.
  Exec("INSERT INTO inbox (consumer, message_id, received_at) "
       "VALUES ('other', 'x', now() - interval '1 hour')");
  Pause(absl::Milliseconds(3100));  // the ids age past the retention
  Produce(300, 1);                  // and a consumer runs again
  Consume(options, RecordEffect(), [&](const auto& s) {
            return s.applied >= 1 && Scalar("SELECT count(*) FROM inbox WHERE consumer = "
                                            "'effects' AND message_id <> 'm-300'") == 0;
          });
  EXPECT_EQ(Scalar("SELECT count(*) FROM inbox WHERE consumer = 'effects'"), 1);  // m-300
  EXPECT_EQ(Scalar("SELECT count(*) FROM inbox WHERE consumer = 'other'"), 1);
  ExpectOneEffectPerMessage(301);
}

TEST_F(IdempotentConsumerTest, ConsumerKilledWithSigkillRepeatedlyAppliesEachMessageOnce) {
  constexpr int kMessages = 100000;
  Produce(0, kMessages);
  const std::string group = "killed-" + NewUuid().substr(0, 8);
  const std::string log = (std::filesystem::temp_directory_path() / (group + ".log")).string();
  auto start = [&](int batch) {
    auto child = ChildProcess::Spawn(SpawnOptions{
        .argv = {EFFECT_CONSUMER, SharedKafka().bootstrap_servers(), group, topic_, db_.dsn,
                 saga::StrCat(batch)},
        .output_path = log});
    EXPECT_TRUE(child.ok()) << child.status();
    return child.ok() ? *std::move(child) : nullptr;
  };
  absl::BitGen random;
  int kills = 0;
  std::unique_ptr<ChildProcess> consumer = start(1);
  ASSERT_NE(consumer, nullptr);
  const absl::Time deadline = absl::Now() + absl::Minutes(4);
  while (kills < 10 && Scalar("SELECT count(*) FROM effects") < kMessages &&
         absl::Now() < deadline) {
    Pause(absl::Milliseconds(absl::Uniform(random, 300, 1500)));
    consumer->Signal(SIGKILL);
    ASSERT_TRUE(consumer->Wait(absl::Seconds(10)).ok());
    ++kills;
    // Alternate one message per transaction and batches of 100.
    consumer = start(kills % 2 == 0 ? 1 : 100);
    ASSERT_NE(consumer, nullptr);
  }
  ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(DISTINCT message_id) FROM effects") >= kMessages; },
                      absl::Minutes(4), absl::Milliseconds(200)))
      << TailOfFile(log);
  consumer->Signal(SIGTERM);
  ASSERT_TRUE(consumer->Wait(absl::Seconds(30)).ok());
  ExpectOneEffectPerMessage(kMessages);
  EXPECT_GE(kills, 3);
  LogInfo("consumer crash test", {{"kills", saga::StrCat(kills)},
                                  {"messages", saga::StrCat(kMessages)}});
  saga::testing::ExpectNoSanitizerReport(log, "the effect consumer");
  std::filesystem::remove(log);
}

}  // namespace
}  // namespace saga::testing
