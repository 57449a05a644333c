// Tests of the embedded Kafka (librdkafka's mock cluster) that sagad runs when no brokers are
// given: an outside client reaches it on loopback and round-trips records through it. This
// tests the embedded default itself; integration tests of Kafka use the real broker.
#include "outbox/kafka/embedded_cluster.h"

#include "gtest/gtest.h"
#include "sdk/base/strings.h"
#include "tests/harness/kafka_client.h"

namespace saga::outbox::kafka {
namespace {

TEST(EmbeddedClusterTest, OutsideClientsProduceAndConsumeThroughIt) {
  auto cluster = EmbeddedCluster::Start(1);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  EXPECT_EQ((*cluster)->bootstrap_servers().rfind("127.0.0.1:", 0), 0u)
      << (*cluster)->bootstrap_servers();
  std::vector<std::pair<std::string, std::string>> records;
  for (int i = 0; i < 100; ++i) records.emplace_back("k", saga::StrCat(i));
  ASSERT_TRUE(saga::testing::ProduceAll((*cluster)->bootstrap_servers(), "events", records,
                                        absl::Seconds(30))
                  .ok());
  auto consumed = saga::testing::ConsumeFromStart((*cluster)->bootstrap_servers(), "events", 100,
                                                  absl::Seconds(30));
  ASSERT_TRUE(consumed.ok()) << consumed.status();
  ASSERT_EQ(consumed->size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ((*consumed)[i].value, saga::StrCat(i));
}

// SAGAD_EMBEDDED_KAFKA_RTT, the fault matrix's slow network: every answer comes that much late.
TEST(EmbeddedClusterTest, ARoundTripDelaysEveryAnswer) {
  auto cluster = EmbeddedCluster::Start(1, absl::Milliseconds(400));
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  const absl::Time start = absl::Now();
  ASSERT_TRUE(saga::testing::ProduceAll((*cluster)->bootstrap_servers(), "slow", {{"k", "v"}},
                                        absl::Seconds(30))
                  .ok());
  // At least a metadata request and the produce request, each answered 400 ms late.
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(800));
  auto consumed =
      saga::testing::ConsumeFromStart((*cluster)->bootstrap_servers(), "slow", 1, absl::Seconds(30));
  ASSERT_TRUE(consumed.ok()) << consumed.status();
  ASSERT_EQ(consumed->size(), 1u);
  EXPECT_EQ((*consumed)[0].value, "v");
}

TEST(EmbeddedClusterTest, RefusesZeroBrokers) {
  EXPECT_EQ(EmbeddedCluster::Start(0).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace saga::outbox::kafka
