#include "outbox/headers_json.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace saga::outbox {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST(HeadersJsonTest, ReadsWhatPostgresPrintsForJsonb) {
  auto h = ParseHeadersJson(R"({"a": "1", "traceparent": "00-abc-01"})");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(*h, (Pairs{{"a", "1"}, {"traceparent", "00-abc-01"}}));
  EXPECT_EQ(*ParseHeadersJson("{}"), Pairs{});
  EXPECT_EQ(*ParseHeadersJson(" { } "), Pairs{});
}

TEST(HeadersJsonTest, UnescapesStringsIncludingUnicode) {
  auto h = ParseHeadersJson(R"({"q\"uote": "a\\b\/c\n\t", "u": "\u00e9\ud83d\ude00"})");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ((*h)[0].first, "q\"uote");
  EXPECT_EQ((*h)[0].second, "a\\b/c\n\t");
  EXPECT_EQ((*h)[1].second, "\xc3\xa9\xf0\x9f\x98\x80");
}

TEST(HeadersJsonTest, KeepsNonStringScalarsAsTheirText) {
  auto h = ParseHeadersJson(R"({"n": 42, "b": true, "z": null})");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(*h, (Pairs{{"n", "42"}, {"b", "true"}, {"z", "null"}}));
}

TEST(HeadersJsonTest, RefusesWhatIsNotAFlatObject) {
  for (const char* bad : {"", "[]", "{", R"({"a"})", R"({"a": "b",})", R"({"a": {"b": 1}})",
                          R"({"a": "b"} x)", R"({"a": "\ud83d"})", R"({"a": "\q"})"}) {
    EXPECT_FALSE(ParseHeadersJson(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace saga::outbox
