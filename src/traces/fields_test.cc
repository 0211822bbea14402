#include "fields.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "polycloud/base/parse.h"

namespace polycloud::traces::internal {
namespace {

// The readers parse plain numbers and times on a fast path; these tests hold
// it to exactly what the base parsers accept and return.

const std::vector<std::string> kNumbers = {"0",
                                           "00",
                                           "7",
                                           "66.0",
                                           "1.5",
                                           "1.",
                                           ".5",
                                           "1.500",
                                           "1.5001",
                                           "12.34567",
                                           "999999999999999999",
                                           "9999999999999999999",
                                           "1_000",
                                           "+1",
                                           "-0",
                                           "-3",
                                           "1e5",
                                           " 7 ",
                                           "0x10",
                                           "",
                                           "5.289200",
                                           "23.47126",
                                           "0.000000001",
                                           "0.0000000001",
                                           "1000000000",
                                           "1000000000.001"};

void ExpectAgreesWithBase(int scale, int64_t max_scaled) {
  std::string text = "v\n";
  for (const std::string& n : kNumbers) text += "\"" + n + "\"\n";
  ReadOptions options;
  Result<CsvReader> csv = CsvReader::Open(TraceInput::Memory(text), {{"v", true}}, options);
  ASSERT_TRUE(csv.ok());
  for (const std::string& n : kNumbers) {
    Result<bool> more = csv->Next();
    ASSERT_TRUE(more.ok() && *more);
    std::string_view trimmed = TrimField(n);
    Result<std::optional<int64_t>> decimal = OptionalDecimalField(*csv, 0, scale, max_scaled);
    Result<int64_t> base_decimal = ParseScaledDecimal(trimmed, scale);
    if (trimmed.empty()) {
      EXPECT_TRUE(decimal.ok() && !decimal->has_value());
    } else if (base_decimal.ok() && *base_decimal <= max_scaled) {
      ASSERT_TRUE(decimal.ok()) << n;
      EXPECT_EQ(**decimal, *base_decimal) << n;
    } else {
      EXPECT_FALSE(decimal.ok()) << n;
    }
    Result<std::optional<int64_t>> integer = OptionalIntField(*csv, 0, 0, max_scaled);
    Result<int64_t> base_integer = ParseInteger(trimmed);
    if (trimmed.empty()) {
      EXPECT_TRUE(integer.ok() && !integer->has_value());
    } else if (base_integer.ok() && *base_integer >= 0 && *base_integer <= max_scaled) {
      ASSERT_TRUE(integer.ok()) << n;
      EXPECT_EQ(**integer, *base_integer) << n;
    } else {
      EXPECT_FALSE(integer.ok()) << n;
    }
  }
}

TEST(FieldsTest, NumbersAgreeWithTheBaseParsers) {
  ExpectAgreesWithBase(3, int64_t{1'000'000'000} * 1000);
  ExpectAgreesWithBase(9, int64_t{1'000'000} * 1'000'000'000);
  ExpectAgreesWithBase(0, 1'000'000);
}

TEST(FieldsTest, TimestampsAgreeWithParseTime) {
  std::vector<std::string> texts = {
      "2017-10-09 07:01:55", "2017-10-09T07:01:55", "2024-02-29 00:00:00", "2023-02-29 00:00:00",
      "2100-02-29 12:00:00", "2000-02-29 12:00:00", "2023-04-31 00:00:00", "2023-13-01 00:00:00",
      "2023-00-10 00:00:00", "2023-01-00 00:00:00", "2023-01-01 24:00:00", "2023-01-01 23:60:00",
      "2023-01-01 23:59:60", "0000-01-01 00:00:00", "9999-12-31 23:59:59", "2023-1-01 00:00:000",
      "2023-01-01 00:00",    "2023/01/01 00:00:00"};
  for (int month = 1; month <= 12; ++month) {
    for (int day = 28; day <= 31; ++day) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "1900-%02d-%02d 01:02:03", month, day);
      texts.emplace_back(buf);
      std::snprintf(buf, sizeof buf, "2024-%02d-%02d 01:02:03", month, day);
      texts.emplace_back(buf);
    }
  }
  for (const std::string& text : texts) {
    Result<Timestamp> fast = ParseTimestamp(text);
    Result<Time> base = ParseTime(text);
    ASSERT_EQ(fast.ok(), base.ok()) << text;
    if (base.ok()) {
      EXPECT_EQ(fast->seconds, *base) << text;
      EXPECT_EQ(fast->nanos, 0);
    }
  }
}

TEST(FieldsTest, TimestampFractionBecomesNanoseconds) {
  Result<Timestamp> t = ParseTimestamp("2023-11-16 18:17:03.9799600");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->seconds, *ParseTime("2023-11-16T18:17:03Z"));
  EXPECT_EQ(t->nanos, 979'960'000);
  EXPECT_EQ(ParseTimestamp("2023-11-16 18:17:03.5Z")->nanos, 500'000'000);
  EXPECT_FALSE(ParseTimestamp("2023-11-16 18:17:03.").ok());
  EXPECT_FALSE(ParseTimestamp("2023-11-16 18:17:03.1234567890").ok());
  EXPECT_FALSE(ParseTimestamp("2023-11-16").ok());  // a trace time needs a time of day
}

TEST(FieldsTest, QuotedEscapesControlBytesAndCutsLongText) {
  EXPECT_EQ(Quoted("a\"b\x01"), "\"a\\\"b\\x01\"");
  EXPECT_EQ(Quoted(std::string(100, 'x')), "\"" + std::string(60, 'x') + "...\"");
}

}  // namespace
}  // namespace polycloud::traces::internal
