#include "polycloud/base/checked.h"

#include <gtest/gtest.h>

#include <limits>

#include "polycloud/base/units.h"

namespace polycloud {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

TEST(CheckedTest, ReturnsTheResultWhenItFits) {
  EXPECT_EQ(CheckedMul(3'000'000'000, 1000), 3'000'000'000'000);
  EXPECT_EQ(CheckedAdd(kMax - 1, 1), kMax);
  EXPECT_EQ(CheckedSub(kMin + 1, 1), kMin);
  EXPECT_EQ(CheckedMul(-4, kMax / 4), -(kMax / 4) * 4);
}

TEST(CheckedTest, ReturnsNothingInsteadOfWrapping) {
  // The work of issue 10: 3e12 GPU-hours = 1.08e16 GPU-seconds, × 1000.
  EXPECT_EQ(CheckedMul(10'800'000'000'000'000, 1000), std::nullopt);
  EXPECT_EQ(CheckedMul(kMin, -1), std::nullopt);
  EXPECT_EQ(CheckedAdd(kMax, 1), std::nullopt);
  EXPECT_EQ(CheckedSub(kMin, 1), std::nullopt);
}

TEST(MulDivRoundTest, CheckedFormReportsResultsBeyondSixtyFourBits) {
  // Used to come back truncated to the low 64 bits.
  EXPECT_EQ(CheckedMulDivRound(kMax, 4, 2), std::nullopt);
  EXPECT_EQ(CheckedMulDivRound(kMax, kMax, 1), std::nullopt);
  EXPECT_EQ(CheckedMulDivRound(kMin, 2, 1), std::nullopt);
  // Exactly at the edges it fits.
  EXPECT_EQ(CheckedMulDivRound(kMax, 2, 2), kMax);
  EXPECT_EQ(CheckedMulDivRound(kMin, 3, 3), kMin);
  EXPECT_EQ(CheckedMulDivRound(kMax, kMax, kMax), kMax);
  EXPECT_EQ(CheckedMulDivRound(7, 1, 2), 4);  // half away from zero
  EXPECT_EQ(CheckedMulDivRound(-7, 1, 2), -4);
}

TEST(MulDivRoundDeathTest, WideFormFailsACheckInsteadOfTruncating) {
  EXPECT_DEATH(MulDivRound128(kMax, 4, 2), "check failed");
  // The inline form takes the wide path for such products and fails alike.
  EXPECT_DEATH(MulDivRound(kMax / 2, 8, 3), "check failed");
}

}  // namespace
}  // namespace polycloud
