#include "polycloud/http/query.h"

#include <gtest/gtest.h>

namespace polycloud::http {
namespace {

TEST(ParseQueryStringTest, DecodesNamesAndValues) {
  ApiResult<StringMap> q = ParseQueryString("state=queued&name=a%20b+c&flag&&x=%2F");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->at("state"), "queued");
  EXPECT_EQ(q->at("name"), "a b c");
  EXPECT_EQ(q->at("flag"), "");
  EXPECT_EQ(q->at("x"), "/");
  EXPECT_EQ(q->size(), 4u);
}

TEST(ParseQueryStringTest, RefusesBadEscapesEmptyNamesAndRepeats) {
  EXPECT_EQ(ParseQueryString("a=%zz").error().message,
            "query parameter \"a=%zz\": a '%' must be followed by two hex digits");
  EXPECT_EQ(ParseQueryString("a=%4").error().code, "invalid_query");
  EXPECT_EQ(ParseQueryString("=3").error().message, "query parameter \"=3\" has no name");
  EXPECT_EQ(ParseQueryString("limit=1&limit=2").error().message,
            "query parameter \"limit\" is given more than once");
}

TEST(PercentTest, EncodesWhatDecodes) {
  const std::string raw = "a b/c?d=e&f%g~h\xc3\xa9";
  EXPECT_EQ(PercentEncode(raw), "a%20b%2Fc%3Fd%3De%26f%25g~h%C3%A9");
  EXPECT_EQ(PercentDecode(PercentEncode(raw), false), raw);
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
  EXPECT_FALSE(PercentDecode("%", false).has_value());
}

TEST(QueryReaderTest, ReadsTypedParametersAndRefusesUnknownOnes) {
  StringMap q = *ParseQueryString("limit=50&state=queued&all=true");
  QueryReader r(q);
  EXPECT_EQ(r.Int("limit", 1, 1000), 50);
  EXPECT_EQ(r.Enum("state", {"queued", "running"}), "queued");
  EXPECT_EQ(r.Bool("all"), true);
  EXPECT_FALSE(r.String("after").has_value());
  EXPECT_FALSE(r.Finish().has_value());

  StringMap extra = *ParseQueryString("limit=5&lmit=6");
  QueryReader r2(extra);
  r2.Int("limit", 1, 10);
  EXPECT_EQ(r2.Finish()->message, "unknown query parameter \"lmit\" (expected one of: limit)");
}

TEST(QueryReaderTest, SaysExpectedAndFound) {
  StringMap q = *ParseQueryString("limit=5x");
  QueryReader r(q);
  EXPECT_FALSE(r.Int("limit", 1, 1000).has_value());
  ApiError e = *r.Finish();
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.code, "invalid_query");
  EXPECT_EQ(e.message,
            "query parameter \"limit\": expected an integer from 1 to 1000, found \"5x\"");
  EXPECT_FALSE(e.pointer.has_value());
}

}  // namespace
}  // namespace polycloud::http
