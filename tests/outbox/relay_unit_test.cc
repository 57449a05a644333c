// The relay's decisions, against in-memory fakes: what it sends, deletes, counts and parks.
// The real PostgreSQL and Kafka versions are in relay_test.cc and relay_process_test.cc.
#include "outbox/relay.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_outbox.h"

namespace saga::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Outcome = outbox::Delivery::Outcome;

class RelayUnitTest : public ::testing::Test {
 protected:
  outbox::OutboxRelay MakeRelay(int max_attempts = 3) {
    return outbox::OutboxRelay(&source_, &producer_, &clock_,
                               {.relay_id = "r", .max_attempts = max_attempts});
  }
  // One cycle, then its batch collected and settled.
  static bool RunAndFlush(outbox::OutboxRelay& relay) {
    return relay.RunOnce().ok() && relay.Flush().ok();
  }
  FakeOutboxSource source_;
  FakeProducer producer_;
  RealClock clock_;
};

TEST_F(RelayUnitTest, DeliversInIdOrderAndDeletesPersistedRows) {
  source_.Add("a", "a1");
  source_.Add("b", "b1");
  source_.Add("a", "a2");
  auto relay = MakeRelay();
  auto read = relay.RunOnce();
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, 3);
  EXPECT_EQ(source_.rows.size(), 3u);  // in flight: nothing is deleted before the reports
  ASSERT_TRUE(relay.Flush().ok());
  EXPECT_THAT(producer_.sent, ElementsAre("a1", "b1", "a2"));
  EXPECT_TRUE(source_.rows.empty());
  EXPECT_EQ(relay.stats().delivered, 3);
}

TEST_F(RelayUnitTest, RowTooLargeForItsTopicIsRefusedUnsentAndHoldsItsKeyBack) {
  producer_.max_bytes = 1000;
  source_.Add("a", "a1");
  const int64_t big = source_.Add("p", std::string(2000, 'x'));
  const int64_t behind = source_.Add("p", "p2");
  source_.Add("b", "b1");
  auto relay = MakeRelay();
  ASSERT_TRUE(RunAndFlush(relay));
  EXPECT_THAT(producer_.sent, ElementsAre("a1", "b1"));  // neither the big row nor p2
  ASSERT_EQ(source_.rejections.size(), 1u);
  EXPECT_EQ(source_.rejections[0].id, big);
  EXPECT_FALSE(source_.rejections[0].park);
  EXPECT_THAT(source_.rejections[0].error, HasSubstr("max.message.bytes"));
  EXPECT_GT(source_.rejections[0].retry_after, absl::ZeroDuration());
  EXPECT_TRUE(source_.rows.contains(big));
  EXPECT_TRUE(source_.rows.contains(behind));
  EXPECT_EQ(producer_.forgotten, 1);  // the limit is asked again before the next attempt
}

TEST_F(RelayUnitTest, RejectedRowGoesAloneOnRetryAndIsParkedAtTheAttemptLimit) {
  const int64_t id = source_.Add("k", "poison");
  producer_.outcomes["poison"] = Outcome::kRejected;
  auto relay = MakeRelay(/*max_attempts=*/3);
  ASSERT_TRUE(RunAndFlush(relay));
  source_.Add("k", "behind");  // committed after the first rejection
  source_.Add("j", "other");
  ASSERT_TRUE(RunAndFlush(relay));
  ASSERT_TRUE(RunAndFlush(relay));
  ASSERT_EQ(source_.rejections.size(), 3u);
  EXPECT_FALSE(source_.rejections[0].park);
  EXPECT_FALSE(source_.rejections[1].park);
  EXPECT_TRUE(source_.rejections[2].park);
  EXPECT_LT(source_.rejections[0].retry_after, source_.rejections[1].retry_after);
  EXPECT_TRUE(source_.parked[id]);
  // "behind" was never sent: the failed row went alone each time; the other key flowed.
  EXPECT_THAT(producer_.sent, ElementsAre("poison", "poison", "other", "poison"));
  EXPECT_EQ(relay.stats().parked, 1);
  EXPECT_EQ(relay.stats().reordered, 0);
  ASSERT_TRUE(RunAndFlush(relay));  // parked: its key waits, nothing is sent
  EXPECT_EQ(producer_.sent.size(), 4u);
}

TEST_F(RelayUnitTest, UnavailableBrokerLeavesRowsUntouchedAndCountsNoAttempt) {
  source_.Add("k", "m1");
  source_.Add("j", "m2");
  producer_.outcomes["m1"] = Outcome::kUnavailable;
  producer_.outcomes["m2"] = Outcome::kUnavailable;
  auto relay = MakeRelay();
  ASSERT_TRUE(RunAndFlush(relay));
  EXPECT_EQ(source_.settles, 0);
  EXPECT_EQ(source_.rows.size(), 2u);
  for (const auto& [id, row] : source_.rows) EXPECT_EQ(row.attempts, 0);
  EXPECT_EQ(relay.stats().unavailable, 2);
}

// A first attempt sends a key's rows together; if the broker refuses one (other than for its
// size, which is checked before), a later one may already be persisted: counted and logged.
TEST_F(RelayUnitTest, RowPersistedAfterAnEarlierRowOfItsKeyFailedIsCounted) {
  source_.Add("k", "first");
  source_.Add("k", "second");
  producer_.outcomes["first"] = Outcome::kRejected;
  auto relay = MakeRelay();
  ASSERT_TRUE(RunAndFlush(relay));
  EXPECT_EQ(relay.stats().reordered, 1);
  EXPECT_EQ(relay.stats().delivered, 1);
}

// Under load the next batch is read while one is in flight, and sent once its reports are in:
// no row twice, rows of one key in order, and a key whose row failed in flight held back.
TEST_F(RelayUnitTest, NextBatchIsReadDuringTheSendAndHeldBehindFailuresInFlight) {
  for (int i = 1; i <= 3; ++i) {
    source_.Add("k", "k" + std::to_string(i));
    source_.Add("j", "j" + std::to_string(i));
  }
  producer_.outcomes["k1"] = Outcome::kRejected;
  outbox::OutboxRelay relay(&source_, &producer_, &clock_,
                            {.relay_id = "r", .batch_size = 2, .max_attempts = 3});
  ASSERT_TRUE(relay.RunOnce().ok());  // reads k1 j1, sends them
  EXPECT_EQ(producer_.begun, 1);
  ASSERT_TRUE(relay.RunOnce().ok());  // reads k2 j2 while k1 j1 are out; k1 failed: k2 held
  EXPECT_EQ(producer_.begun, 1);
  ASSERT_TRUE(relay.Flush().ok());
  EXPECT_THAT(producer_.sent, ElementsAre("k1", "j1", "j2"));
  EXPECT_EQ(relay.stats().reordered, 0);
  // k1 (rejected once) goes alone, then the rest of k in order.
  producer_.outcomes.clear();
  while (!source_.rows.empty()) ASSERT_TRUE(RunAndFlush(relay));
  EXPECT_THAT(producer_.sent, ElementsAre("k1", "j1", "j2", "k1", "k2", "k3", "j3"));
}

TEST_F(RelayUnitTest, KeyHeldBehindARowTheBrokerDidNotTakeResumesWhileRowsKeepComing) {
  source_.Add("a", "a1");
  source_.Add("b", "b1");
  producer_.outcomes["a1"] = Outcome::kUnavailable;
  auto relay = MakeRelay();
  ASSERT_TRUE(relay.RunOnce().ok());  // a1 b1 out
  source_.Add("a", "a2");
  source_.Add("b", "b2");
  ASSERT_TRUE(relay.RunOnce().ok());  // a1 was not taken: a2 held back, b2 sent
  producer_.outcomes.clear();         // the broker is back
  // New rows every cycle, never a pause to catch up: a1 and a2 must still go out, in order.
  for (int i = 3; i <= 5; ++i) {
    source_.Add("b", "b" + std::to_string(i));
    ASSERT_TRUE(relay.RunOnce().ok());
  }
  EXPECT_THAT(producer_.sent,
              ElementsAre("a1", "b1", "b2", "a1", "a2", "b3", "b4", "b5"));
  EXPECT_EQ(relay.stats().reordered, 0);
}

TEST_F(RelayUnitTest, LeasesRenewDuringASendButPartitionsAreGivenBackOnlyOnceAllIsSettled) {
  // A zero TTL makes the leases due at every cycle.
  outbox::OutboxRelay relay(&source_, &producer_, &clock_,
                            {.relay_id = "r", .lease_ttl = absl::ZeroDuration()});
  source_.Add("a", "a1");
  ASSERT_TRUE(relay.RunOnce().ok());  // a1 at the broker
  source_.share = 1;                  // another relay joined
  source_.Add("b", "b1");
  ASSERT_TRUE(relay.RunOnce().ok());  // renewed without waiting for a1; b1 sent
  EXPECT_EQ(source_.partitions.size(), 3u) << "gave partitions away with a1 in flight";
  EXPECT_EQ(source_.rows.size(), 2u);
  ASSERT_TRUE(relay.RunOnce().ok());  // over its share: settles a1 and b1, then gives back
  EXPECT_THAT(source_.may_release_calls, ElementsAre(true, false, true));
  EXPECT_EQ(source_.partitions.size(), 1u);
  EXPECT_EQ(source_.rows_waiting_at_release, 0);
  EXPECT_THAT(producer_.sent, ElementsAre("a1", "b1"));
  EXPECT_EQ(relay.stats().owned_partitions, 1);
}

TEST_F(RelayUnitTest, WithoutPartitionsNothingIsRead) {
  source_.partitions.clear();
  source_.Add("k", "m");
  auto relay = MakeRelay();
  auto read = relay.RunOnce();
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, 0);
  EXPECT_EQ(source_.reads, 0);
  EXPECT_TRUE(producer_.sent.empty());
}

}  // namespace
}  // namespace saga::testing
