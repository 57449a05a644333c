// Tests of saga::base: logs, UUIDs, the blocking executor.
#include <atomic>
#include <set>

#include "gtest/gtest.h"
#include "sdk/base/blocking_executor.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"
#include "sdk/base/traceparent.h"
#include "sdk/base/uuid.h"

namespace saga {
namespace {

TEST(UuidTest, NewUuidsAreCanonicalVersion4AndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewUuid();
    ASSERT_TRUE(IsUuid(id)) << id;
    EXPECT_EQ(id[14], '4') << id;
    EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(UuidTest, IsUuidRejectsMalformedText) {
  EXPECT_TRUE(IsUuid("123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_TRUE(IsUuid("123E4567-E89B-12D3-A456-426614174000"));
  EXPECT_FALSE(IsUuid(""));
  EXPECT_FALSE(IsUuid("123e4567e89b12d3a456426614174000"));
  EXPECT_FALSE(IsUuid("123e4567-e89b-12d3-a456-42661417400g"));
  EXPECT_FALSE(IsUuid("123e4567-e89b-12d3-a456-4266141740000"));
  EXPECT_FALSE(IsUuid("{123e4567-e89b-12d3-a456-426614174000}"));
}

TEST(TraceparentTest, NewOnesAreValidSampledAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string t = saga::NewTraceparent();
    EXPECT_TRUE(saga::IsValidTraceparent(t)) << t;
    EXPECT_EQ(t.substr(0, 3), "00-");
    EXPECT_EQ(t.substr(52), "-01");
    seen.insert(t.substr(3, 32));
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(TraceparentTest, OnlyWellFormedOnesArePassedOn) {
  const std::string good = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  EXPECT_TRUE(saga::IsValidTraceparent(good));
  EXPECT_TRUE(saga::IsValidTraceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"));
  EXPECT_TRUE(
      saga::IsValidTraceparent("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what"));
  for (const std::string& bad : {
           std::string(""), std::string("garbage"), good + "-extra",  // version 00 is exact
           std::string("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
           std::string("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"),  // uppercase
           std::string("00-00000000000000000000000000000000-b7ad6b7169203331-01"),
           std::string("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"),
           std::string("00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
           std::string("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g"),
           std::string("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x"),
       }) {
    EXPECT_FALSE(saga::IsValidTraceparent(bad)) << bad;
  }
}

TEST(LogTest, RedactDsnHidesPasswordsInBothForms) {
  EXPECT_EQ(RedactDsn("postgresql://app:s3cret@db:5432/sagad"), "postgresql://app:***@db:5432/sagad");
  EXPECT_EQ(RedactDsn("host=db user=app password=s3cret dbname=x"),
            "host=db user=app password=*** dbname=x");
  EXPECT_EQ(RedactDsn("host=db password='a b c' dbname=x"), "host=db password=*** dbname=x");
  EXPECT_EQ(RedactDsn("postgresql://app@db/sagad"), "postgresql://app@db/sagad");
}

TEST(LogTest, JsonQuoteEscapesControlCharacters) {
  EXPECT_EQ(JsonQuote("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
}

TEST(StringsTest, StrCatTakesStdStringView) {
  std::string_view view = "view";
  EXPECT_EQ(StrCat(view, "-", 42, "-", std::string("s")), "view-42-s");
  std::string out = "x";
  StrAppend(&out, view);
  EXPECT_EQ(out, "xview");
}

TEST(BlockingExecutorTest, RunsEverythingQueuedBeforeShutdownAndRefusesAfter) {
  BlockingExecutor executor(4);
  std::atomic<int> ran{0};
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(executor.Schedule([&] { ran.fetch_add(1); }));
  executor.Shutdown();
  EXPECT_EQ(ran.load(), 1000);
  EXPECT_FALSE(executor.Schedule([&] { ran.fetch_add(1); }));
  EXPECT_EQ(ran.load(), 1000);
}

}  // namespace
}  // namespace saga
