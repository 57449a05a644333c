// Smoke test of the real Apache Kafka broker (KRaft mode) that integration tests use: an
// idempotent producer's batch is persisted, every record is consumed back, and records of one
// key keep their order. It also checks the broker survives a restart with its data.
#include <map>

#include "gtest/gtest.h"
#include "sdk/base/strings.h"
#include "sdk/base/uuid.h"
#include "tests/harness/kafka_broker.h"
#include "tests/harness/kafka_client.h"

namespace saga::testing {
namespace {

std::vector<std::pair<std::string, std::string>> Records(int count, int keys) {
  std::vector<std::pair<std::string, std::string>> records;
  for (int i = 0; i < count; ++i) {
    records.emplace_back(saga::StrCat("key-", i % keys), saga::StrCat(i));
  }
  return records;
}

// Every record arrived once, and within each key in the order produced.
void ExpectAllInOrderPerKey(const std::vector<KafkaRecord>& consumed, int count) {
  ASSERT_EQ(consumed.size(), static_cast<size_t>(count));
  std::map<std::string, int> last_per_key;
  std::vector<bool> seen(count, false);
  for (const KafkaRecord& r : consumed) {
    int value = std::stoi(r.value);
    ASSERT_FALSE(seen[value]) << "duplicate " << value;
    seen[value] = true;
    auto it = last_per_key.find(r.key);
    if (it != last_per_key.end()) {
      EXPECT_GT(value, it->second) << "key " << r.key << " reordered";
    }
    last_per_key[r.key] = value;
  }
}

TEST(KafkaBrokerTest, IdempotentBatchIsPersistedConsumedOnceAndInOrderPerKey) {
  KafkaBroker& broker = SharedKafka();
  const std::string topic = "smoke-" + NewUuid().substr(0, 8);
  constexpr int kCount = 10000;
  ASSERT_TRUE(ProduceAll(broker.bootstrap_servers(), topic, Records(kCount, 16),
                         absl::Seconds(60)).ok());
  auto consumed = ConsumeFromStart(broker.bootstrap_servers(), topic, kCount, absl::Seconds(60));
  ASSERT_TRUE(consumed.ok()) << consumed.status();
  ExpectAllInOrderPerKey(*consumed, kCount);
}

TEST(KafkaBrokerTest, RecordsSurviveABrokerRestart) {
  KafkaBroker& broker = SharedKafka();
  const std::string topic = "restart-" + NewUuid().substr(0, 8);
  ASSERT_TRUE(ProduceAll(broker.bootstrap_servers(), topic, Records(100, 4), absl::Seconds(60)).ok());
  ASSERT_TRUE(broker.Restart().ok());
  auto consumed = ConsumeFromStart(broker.bootstrap_servers(), topic, 100, absl::Seconds(60));
  ASSERT_TRUE(consumed.ok()) << consumed.status();
  ExpectAllInOrderPerKey(*consumed, 100);
}

}  // namespace
}  // namespace saga::testing
