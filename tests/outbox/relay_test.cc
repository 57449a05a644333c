// The outbox relay against the real PostgreSQL and the real Kafka broker (in-process relay):
// the gap test, a poison row parked and requeued, and a broker stopped for 30 seconds.
// Every test checks invariant 4 of DESIGN.md: each committed row reaches Kafka at least once,
// in commit order per key, and only ids that were written arrive.
#include <thread>

#include <pqxx/result>
#include <pqxx/transaction>

#include "absl/container/flat_hash_map.h"
#include "gtest/gtest.h"
#include "outbox/kafka/kafka_producer.h"
#include "outbox/pg/parked_messages.h"
#include "outbox/pg/pg_outbox_source.h"
#include "outbox/relay.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"
#include "sdk/base/uuid.h"
#include "sdk/outbox/outbox_writer.h"
#include "tests/harness/kafka_broker.h"
#include "tests/harness/kafka_client.h"
#include "tests/harness/migrated_database.h"
#include "tests/harness/wait.h"
#include "tests/outbox/outbox_workload.h"

namespace saga::testing {
namespace {

// A relay of the test database's outbox, in this process.
class InProcessRelay {
 public:
  static std::unique_ptr<InProcessRelay> Start(const std::string& dsn,
                                               outbox::RelayOptions options) {
    auto relay = std::unique_ptr<InProcessRelay>(new InProcessRelay());
    auto source = outbox::pg::PgOutboxSource::Create(dsn, "outbox");
    EXPECT_TRUE(source.ok()) << source.status();
    relay->source_ = *std::move(source);
    auto producer = outbox::kafka::KafkaProducer::Create(
        {.bootstrap_servers = SharedKafka().bootstrap_servers(),
         .delivery_timeout = absl::Seconds(10)});
    EXPECT_TRUE(producer.ok()) << producer.status();
    relay->producer_ = *std::move(producer);
    if (options.relay_id.empty()) options.relay_id = "test-relay-" + NewUuid().substr(0, 8);
    relay->relay_ = std::make_unique<outbox::OutboxRelay>(relay->source_.get(),
                                                          relay->producer_.get(), &relay->clock_,
                                                          options);
    relay->relay_->Start();
    return relay;
  }
  ~InProcessRelay() { relay_->Stop(); }
  outbox::RelayStats stats() const { return relay_->stats(); }

 private:
  InProcessRelay() = default;
  std::unique_ptr<outbox::pg::PgOutboxSource> source_;
  std::unique_ptr<outbox::kafka::KafkaProducer> producer_;
  RealClock clock_;
  std::unique_ptr<outbox::OutboxRelay> relay_;
};

int64_t OutboxRows(pg::ConnectionPool& pool) {
  int64_t rows = -1;
  EXPECT_TRUE(pool.Run("counting", [&](pqxx::connection& conn) {
                    pqxx::read_transaction tx(conn);
                    rows = tx.exec("SELECT count(*) FROM outbox")[0][0].as<int64_t>();
                    return absl::OkStatus();
                  }).ok());
  return rows;
}

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = NewMigratedDatabase(24);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    topic_ = "relay-test-" + NewUuid().substr(0, 8);
  }

  MigratedDatabase db_;
  std::string topic_;
};

// A relay waiting for rows wakes on the insert's NOTIFY, long before its poll timeout.
TEST_F(RelayTest, AnInsertWakesTheWaitingRelayThroughListenNotify) {
  auto source = outbox::pg::PgOutboxSource::Create(db_.dsn, "outbox");
  ASSERT_TRUE(source.ok()) << source.status();
  // The first call reports the rows that may have come while nobody listened.
  auto first = (*source)->WaitForRows(absl::ZeroDuration());
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);
  absl::Duration waited;
  std::thread waiter([&] {
    const absl::Time start = absl::Now();
    auto woken = (*source)->WaitForRows(absl::Seconds(60));
    EXPECT_TRUE(woken.ok() && *woken);
    waited = absl::Now() - start;
  });
  Pause(absl::Milliseconds(300));  // let it wait
  ASSERT_TRUE(db_.pool
                  ->Run("writing",
                        [&](pqxx::connection& conn) {
                          pqxx::work tx(conn);
                          saga::v1::OutboxMessage m;
                          m.set_topic(topic_);
                          m.set_key("k");
                          m.set_payload("v");
                          if (auto id = sdk::WriteOutboxMessage(tx, m); !id.ok()) return id.status();
                          tx.commit();
                          return absl::OkStatus();
                        })
                  .ok());
  waiter.join();
  EXPECT_GE(waited, absl::Milliseconds(250));
  EXPECT_LT(waited, absl::Seconds(10)) << "woken by the poll timeout, not by NOTIFY";
}

// 16 writers with random sleeps inside their transactions write 100,000 rows while the relay
// runs: every row is consumed, and each key's rows arrive in commit order.
TEST_F(RelayTest, GapTestEveryRowArrivesInCommitOrderPerKey) {
  ASSERT_TRUE(CreateTopic(SharedKafka().bootstrap_servers(), topic_, 8).ok());
  auto workload = OutboxWorkload::Create(db_.pool.get(), {.topic = topic_, .keys = 64,
                                                          .writers = 16});
  ASSERT_TRUE(workload.ok()) << workload.status();
  auto relay = InProcessRelay::Start(db_.dsn, {});
  const absl::Time start = absl::Now();
  ASSERT_TRUE((*workload)->Write(100000).ok());
  const absl::Duration writing = absl::Now() - start;
  ASSERT_TRUE(WaitFor([&] { return OutboxRows(*db_.pool) == 0; }, absl::Minutes(3),
                      absl::Milliseconds(100)))
      << OutboxRows(*db_.pool) << " rows still in the outbox";
  const absl::Duration relaying = absl::Now() - start;
  auto records = ConsumeUntil(
      SharedKafka().bootstrap_servers(), topic_,
      [&](const std::vector<KafkaRecord>& r) { return (*workload)->AllConsumed(r); },
      absl::Minutes(3));
  ASSERT_TRUE(records.ok()) << records.status();
  auto summary = (*workload)->Check(*records);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->distinct, 100000u);
  // Trace context and message id travel as headers.
  bool traced = false;
  for (const auto& [name, value] : records->front().headers) traced |= name == "traceparent";
  EXPECT_TRUE(traced);
  const outbox::RelayStats stats = relay->stats();
  EXPECT_EQ(stats.delivered, 100000);
  EXPECT_EQ(stats.reordered, 0);
  LogInfo("gap test", {{"rows", "100000"},
                       {"writing", absl::FormatDuration(writing)},
                       {"all_relayed_after", absl::FormatDuration(relaying)},
                       {"duplicates", saga::StrCat(summary->duplicates)},
                       {"relay_cycles", saga::StrCat(stats.cycles)}});
}

// A row larger than its topic accepts is parked after the attempt limit; other keys flow, its
// own key waits; once the limit is raised, requeueing it delivers it and its key resumes.
TEST_F(RelayTest, PoisonRowIsParkedHoldsItsKeyAndIsDeliveredAfterRequeue) {
  ASSERT_TRUE(CreateTopic(SharedKafka().bootstrap_servers(), topic_, 4,
                          {{"max.message.bytes", "100000"}})
                  .ok());
  auto write = [&](const std::string& key, const std::string& payload, std::string* id) {
    ASSERT_TRUE(db_.pool
                    ->Run("writing",
                          [&](pqxx::connection& conn) {
                            pqxx::work tx(conn);
                            saga::v1::OutboxMessage m;
                            m.set_topic(topic_);
                            m.set_key(key);
                            m.set_payload(payload);
                            auto written = sdk::WriteOutboxMessage(tx, m);
                            if (!written.ok()) return written.status();
                            if (id != nullptr) *id = *written;
                            tx.commit();
                            return absl::OkStatus();
                          })
                    .ok());
  };
  const std::string poison(300000, 'p');
  std::string poison_id;
  write("other", "o1", nullptr);
  write("held", "h1", nullptr);
  write("held", poison, &poison_id);
  write("held", "h3", nullptr);
  write("other", "o2", nullptr);
  write("held", "h4", nullptr);
  write("other", "o3", nullptr);

  auto relay = InProcessRelay::Start(
      db_.dsn, {.max_attempts = 3, .poll_interval = absl::Milliseconds(100),
                .retry_base = absl::Milliseconds(50)});
  outbox::pg::ParkedPage parked;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto page = outbox::pg::ListParked(*db_.pool, "outbox", "", 0, 10);
        if (!page.ok() || page->messages.empty()) return false;
        parked = *page;
        return true;
      },
      absl::Seconds(30), absl::Milliseconds(50)));
  ASSERT_EQ(parked.messages.size(), 1u);
  EXPECT_EQ(parked.messages[0].message_id(), poison_id);
  EXPECT_EQ(parked.messages[0].attempts(), 3u);
  EXPECT_EQ(parked.messages[0].payload_size(), poison.size());
  EXPECT_NE(parked.messages[0].last_error().find("max.message.bytes"), std::string::npos)
      << parked.messages[0].last_error();

  // The other key flowed; the held key delivered h1 only, and h3, h4 wait in the outbox.
  auto counts = [](const std::vector<KafkaRecord>& records) {
    absl::flat_hash_map<std::string, std::vector<std::string>> by_key;
    absl::flat_hash_set<std::string> seen;
    for (const KafkaRecord& r : records) {
      if (seen.insert(r.message_id).second) by_key[r.key].push_back(r.value);
    }
    return by_key;
  };
  auto before = ConsumeUntil(
      SharedKafka().bootstrap_servers(), topic_,
      [&](const std::vector<KafkaRecord>& r) {
        auto by_key = counts(r);
        return by_key["other"].size() >= 3 && !by_key["held"].empty();
      },
      absl::Seconds(60));
  ASSERT_TRUE(before.ok());
  auto by_key = counts(*before);
  EXPECT_EQ(by_key["other"], (std::vector<std::string>{"o1", "o2", "o3"}));
  EXPECT_EQ(by_key["held"], (std::vector<std::string>{"h1"}));
  EXPECT_EQ(OutboxRows(*db_.pool), 3);  // the poison row and the two behind it

  // Raise the limit, requeue: the key resumes in order.
  ASSERT_TRUE(SetTopicConfigs(SharedKafka().bootstrap_servers(), topic_,
                              {{"max.message.bytes", "1000000"}})
                  .ok());
  auto requeued = outbox::pg::RequeueParked(*db_.pool, "outbox", {poison_id, "no-such-id"});
  ASSERT_TRUE(requeued.ok()) << requeued.status();
  EXPECT_EQ(*requeued, 1);
  auto after = ConsumeUntil(
      SharedKafka().bootstrap_servers(), topic_,
      [&](const std::vector<KafkaRecord>& r) { return counts(r)["held"].size() >= 4; },
      absl::Seconds(60));
  ASSERT_TRUE(after.ok());
  by_key = counts(*after);
  ASSERT_EQ(by_key["held"].size(), 4u);
  EXPECT_EQ(by_key["held"][0], "h1");
  EXPECT_EQ(by_key["held"][1], poison);
  EXPECT_EQ(by_key["held"][2], "h3");
  EXPECT_EQ(by_key["held"][3], "h4");
  EXPECT_TRUE(WaitFor([&] { return OutboxRows(*db_.pool) == 0; }, absl::Seconds(30)));
  EXPECT_EQ(relay->stats().reordered, 0);
}

// The broker process stops for 30 seconds while rows keep coming: the relay backs off, resumes
// when the broker is back, and loses nothing.
TEST_F(RelayTest, BrokerStoppedThirtySecondsLosesNothing) {
  ASSERT_TRUE(CreateTopic(SharedKafka().bootstrap_servers(), topic_, 4).ok());
  auto workload = OutboxWorkload::Create(
      db_.pool.get(), {.topic = topic_, .keys = 32, .writers = 4,
                       .pause_between_transactions = absl::Milliseconds(5)});
  ASSERT_TRUE(workload.ok());
  auto relay = InProcessRelay::Start(db_.dsn, {.poll_interval = absl::Milliseconds(200)});
  std::thread writer([&] { EXPECT_TRUE((*workload)->Write(20000).ok()); });
  Pause(absl::Seconds(3));
  ASSERT_TRUE(SharedKafka().Stop().ok());
  const int64_t delivered_at_stop = relay->stats().delivered;
  Pause(absl::Seconds(30));
  EXPECT_GT(OutboxRows(*db_.pool), 0);  // rows waited in the outbox meanwhile
  // The lag metric shows it: the oldest row waits since about the stop.
  EXPECT_GT(relay->stats().lag_seconds, 15);
  ASSERT_TRUE(SharedKafka().Restart().ok());
  writer.join();
  ASSERT_TRUE(WaitFor([&] { return OutboxRows(*db_.pool) == 0; }, absl::Minutes(3),
                      absl::Milliseconds(100)));
  auto records = ConsumeUntil(
      SharedKafka().bootstrap_servers(), topic_,
      [&](const std::vector<KafkaRecord>& r) { return (*workload)->AllConsumed(r); },
      absl::Minutes(2));
  ASSERT_TRUE(records.ok());
  auto summary = (*workload)->Check(*records);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->distinct, 20000u);
  EXPECT_GT(relay->stats().delivered, delivered_at_stop);
  EXPECT_TRUE(WaitFor([&] { return relay->stats().lag_seconds < 5; }, absl::Seconds(10)));
  LogInfo("broker stop test", {{"delivered_before_stop", saga::StrCat(delivered_at_stop)},
                               {"duplicates", saga::StrCat(summary->duplicates)}});
}

}  // namespace
}  // namespace saga::testing
