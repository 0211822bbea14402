#include "polycloud/base/parse.h"

#include <gtest/gtest.h>

namespace polycloud {
namespace {

TEST(ParseTimeTest, AcceptsDatesAndUtcTimes) {
  EXPECT_EQ(ParseTime("1970-01-01")->unix_seconds(), 0);
  EXPECT_EQ(ParseTime("2025-11-03")->unix_seconds(), 1762128000);
  EXPECT_EQ(ParseTime("2025-11-03T06:30:00Z")->unix_seconds(), 1762128000 + 6 * 3600 + 1800);
  EXPECT_EQ(ParseTime("2025-11-03 06:30")->unix_seconds(), 1762128000 + 6 * 3600 + 1800);
  EXPECT_EQ(FormatTime(*ParseTime("2024-02-29")), "2024-02-29");
  EXPECT_EQ(FormatTime(*ParseTime("2032-12-31T23:59:59Z")), "2032-12-31T23:59:59Z");
}

TEST(ParseTimeTest, RejectsImpossibleDatesAndJunk) {
  EXPECT_FALSE(ParseTime("2025-02-29").ok());
  EXPECT_FALSE(ParseTime("2025-13-01").ok());
  EXPECT_FALSE(ParseTime("2025-1-01").ok());
  EXPECT_FALSE(ParseTime("2025-01-01T25:00").ok());
  EXPECT_FALSE(ParseTime("2025-01-01x").ok());
  EXPECT_FALSE(ParseTime("").ok());
  EXPECT_NE(ParseTime("yesterday").status().message().find("expected a UTC date"),
            std::string::npos);
}

TEST(ParseDurationTest, RequiresUnits) {
  EXPECT_EQ(ParseDuration("90m")->seconds(), 5400);
  EXPECT_EQ(ParseDuration("1d12h")->seconds(), 36 * 3600);
  EXPECT_EQ(ParseDuration("2w")->seconds(), 14 * 86400);
  EXPECT_FALSE(ParseDuration("90").ok());
  EXPECT_FALSE(ParseDuration("h").ok());
  EXPECT_FALSE(ParseDuration("5x").ok());
  EXPECT_FALSE(ParseDuration("-5m").ok());
  EXPECT_FALSE(ParseDuration("99999999999999999999d").ok());
}

TEST(ParseScaledDecimalTest, IsExactWithoutFloatingPoint) {
  EXPECT_EQ(*ParseScaledDecimal("2.50", 6), 2'500'000);
  EXPECT_EQ(*ParseScaledDecimal("0.000001", 6), 1);
  EXPECT_EQ(*ParseScaledDecimal("38_000_000_000", 6), 38'000'000'000'000'000);
  EXPECT_EQ(*ParseScaledDecimal("1.2500000", 6), 1'250'000);  // trailing zeros are fine
  EXPECT_FALSE(ParseScaledDecimal("0.0000001", 6).ok());
  EXPECT_FALSE(ParseScaledDecimal("-1", 6).ok());
  EXPECT_FALSE(ParseScaledDecimal("1e9", 6).ok());
  EXPECT_FALSE(ParseScaledDecimal("99999999999999", 6).ok());
  EXPECT_FALSE(ParseScaledDecimal(".", 6).ok());
}

TEST(ParseIntegerTest, AcceptsSeparatorsRejectsJunk) {
  EXPECT_EQ(*ParseInteger("100_000"), 100000);
  EXPECT_EQ(*ParseInteger("-7"), -7);
  EXPECT_FALSE(ParseInteger("12a").ok());
  EXPECT_FALSE(ParseInteger("_1").ok());
  EXPECT_FALSE(ParseInteger("99999999999999999999").ok());
}

}  // namespace
}  // namespace polycloud
