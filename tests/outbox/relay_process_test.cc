// `sagad relay` processes against the real PostgreSQL and the real Kafka broker: a relay
// SIGKILLed again and again while 200,000 rows flow, and two relays of which one is killed.
// Both check invariant 4 of DESIGN.md with the workload's checker: every committed row
// arrives, duplicates carry only ids that were written, and each key arrives in commit order.
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include <pqxx/result>
#include <pqxx/transaction>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "gtest/gtest.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"
#include "sdk/base/uuid.h"
#include "tests/harness/child_process.h"
#include "tests/harness/kafka_broker.h"
#include "tests/harness/kafka_client.h"
#include "tests/harness/migrated_database.h"
#include "tests/harness/sanitizer_reports.h"
#include "tests/harness/wait.h"
#include "tests/outbox/outbox_workload.h"

namespace saga::testing {
namespace {

class RelayProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = NewMigratedDatabase(16);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    topic_ = "relay-process-" + NewUuid().substr(0, 8);
    ASSERT_TRUE(CreateTopic(SharedKafka().bootstrap_servers(), topic_, 8).ok());
    log_dir_ = std::filesystem::temp_directory_path() / ("sagad-relay-" + NewUuid().substr(0, 8));
    std::filesystem::create_directories(log_dir_);
  }
  void TearDown() override {
    for (const auto& log : std::filesystem::directory_iterator(log_dir_)) {
      saga::testing::ExpectNoSanitizerReport(log.path().string(), "sagad relay");
    }
    if (!HasFailure()) std::filesystem::remove_all(log_dir_);
  }

  // Starts `sagad relay` with a lease TTL of `ttl`.
  std::unique_ptr<ChildProcess> StartRelay(const std::string& name, absl::Duration ttl) {
    auto child = ChildProcess::Spawn(SpawnOptions{
        .argv = {SAGAD_BINARY, "relay"},
        .env = {"SAGAD_PG_DSN=" + db_.dsn,
                "SAGAD_KAFKA_BROKERS=" + SharedKafka().bootstrap_servers(),
                "SAGAD_INSTANCE_ID=" + name, "SAGAD_LEASE_TTL=" + absl::FormatDuration(ttl),
                "SAGAD_RELAY_POLL_INTERVAL=100ms", "SAGAD_KAFKA_DELIVERY_TIMEOUT=10s"},
        .output_path = (log_dir_ / (name + ".log")).string()});
    EXPECT_TRUE(child.ok()) << child.status();
    return child.ok() ? *std::move(child) : nullptr;
  }

  // Partitions whose lease is valid now, by owner.
  absl::flat_hash_map<std::string, int> LeasesByOwner() {
    absl::flat_hash_map<std::string, int> owners;
    EXPECT_TRUE(db_.pool
                    ->Run("reading leases",
                          [&](pqxx::connection& conn) {
                            pqxx::read_transaction tx(conn);
                            for (const auto& row : tx.exec(
                                     "SELECT owner, count(*) FROM outbox_relay_leases "
                                     "WHERE lease_expires_at > now() GROUP BY owner")) {
                              owners[row[0].as<std::string>()] = row[1].as<int>();
                            }
                            return absl::OkStatus();
                          })
                    .ok());
    return owners;
  }

  int64_t OutboxRows() {
    int64_t rows = -1;
    EXPECT_TRUE(db_.pool
                    ->Run("counting",
                          [&](pqxx::connection& conn) {
                            pqxx::read_transaction tx(conn);
                            rows = tx.exec("SELECT count(*) FROM outbox")[0][0].as<int64_t>();
                            return absl::OkStatus();
                          })
                    .ok());
    return rows;
  }

  // Consumes the topic until every written row arrived, then checks invariant 4.
  CheckSummary ConsumeAndCheck(const OutboxWorkload& workload) {
    auto records = ConsumeUntil(
        SharedKafka().bootstrap_servers(), topic_,
        [&](const std::vector<KafkaRecord>& r) { return workload.AllConsumed(r); },
        absl::Minutes(3));
    EXPECT_TRUE(records.ok()) << records.status();
    if (!records.ok()) return {};
    auto summary = workload.Check(*records);
    EXPECT_TRUE(summary.ok()) << summary.status();
    return summary.ok() ? *summary : CheckSummary{};
  }

  MigratedDatabase db_;
  std::string topic_;
  std::filesystem::path log_dir_;
};

TEST_F(RelayProcessTest, RelayKilledAgainAndAgainLosesNothingAndKeepsKeyOrder) {
  auto workload = OutboxWorkload::Create(
      db_.pool.get(), {.topic = topic_, .keys = 64, .writers = 8, .rows_per_transaction = 10,
                       .pause_between_transactions = absl::Milliseconds(2)});
  ASSERT_TRUE(workload.ok());
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    EXPECT_TRUE((*workload)->Write(200000).ok());
    writing = false;
  });
  absl::BitGen random;
  int kills = 0;
  std::unique_ptr<ChildProcess> relay = StartRelay("relay-0", absl::Seconds(1));
  ASSERT_NE(relay, nullptr);
  // Kill at random moments while rows flow (at least 6 times, even if writing ends first).
  const absl::Time deadline = absl::Now() + absl::Minutes(5);
  while ((writing || kills < 6) && absl::Now() < deadline) {
    Pause(absl::Milliseconds(absl::Uniform(random, 300, 2000)));
    relay->Signal(SIGKILL);
    ASSERT_TRUE(relay->Wait(absl::Seconds(10)).ok());
    ++kills;
    relay = StartRelay(saga::StrCat("relay-", kills), absl::Seconds(1));
    ASSERT_NE(relay, nullptr);
  }
  writer.join();
  ASSERT_GE(kills, 6);
  ASSERT_TRUE(WaitFor([&] { return OutboxRows() == 0; }, absl::Minutes(3),
                      absl::Milliseconds(100)))
      << OutboxRows() << " rows left";
  const CheckSummary summary = ConsumeAndCheck(**workload);
  EXPECT_EQ(summary.distinct, 200000u);
  LogInfo("relay crash test", {{"kills", saga::StrCat(kills)},
                               {"consumed", saga::StrCat(summary.consumed)},
                               {"duplicates", saga::StrCat(summary.duplicates)}});
}

TEST_F(RelayProcessTest, TwoRelaysShareAndTheSurvivorTakesOverWithinTtlPlusOneSecond) {
  const absl::Duration ttl = absl::Seconds(2);
  auto a = StartRelay("relay-a", ttl);
  auto b = StartRelay("relay-b", ttl);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto owners = LeasesByOwner();
        return owners["relay-a"] == 32 && owners["relay-b"] == 32;
      },
      absl::Seconds(30), absl::Milliseconds(50)))
      << "the relays did not settle on 32 partitions each";

  auto workload = OutboxWorkload::Create(
      db_.pool.get(), {.topic = topic_, .keys = 64, .writers = 4,
                       .pause_between_transactions = absl::Milliseconds(1)});
  ASSERT_TRUE(workload.ok());
  std::thread writer([&] { EXPECT_TRUE((*workload)->Write(30000).ok()); });
  Pause(absl::Seconds(2));
  a->Signal(SIGKILL);
  const absl::Time killed = absl::Now();
  ASSERT_TRUE(a->Wait(absl::Seconds(10)).ok());
  ASSERT_TRUE(WaitFor([&] { return LeasesByOwner()["relay-b"] == 64; }, absl::Seconds(30),
                      absl::Milliseconds(20)));
  const absl::Duration takeover = absl::Now() - killed;
  EXPECT_LE(takeover, ttl + absl::Seconds(1));
  writer.join();
  ASSERT_TRUE(WaitFor([&] { return OutboxRows() == 0; }, absl::Minutes(2),
                      absl::Milliseconds(100)));
  const CheckSummary summary = ConsumeAndCheck(**workload);
  EXPECT_EQ(summary.distinct, 30000u);
  LogInfo("relay takeover", {{"takeover", absl::FormatDuration(takeover)},
                             {"lease_ttl", absl::FormatDuration(ttl)},
                             {"duplicates", saga::StrCat(summary.duplicates)}});
}

}  // namespace
}  // namespace saga::testing
