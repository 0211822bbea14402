#include "polycloud/base/units.h"

#include <gtest/gtest.h>

#include "polycloud/base/rng.h"
#include "polycloud/base/status.h"

namespace polycloud {
namespace {

TEST(MoneyTest, CostOfGpuSecondsIsExactAndRoundsHalfUp) {
  // One GPU-hour at $2.50.
  EXPECT_EQ(CostOfGpuSeconds(3600, Money::FromMicros(2'500'000)).micros(), 2'500'000);
  // One GPU-second at $1/h is 277.777... micro-dollars: rounds to 278.
  EXPECT_EQ(CostOfGpuSeconds(1, Money::FromDollars(1)).micros(), 278);
}

TEST(MoneyTest, CostOfHugeUsageDoesNotOverflow) {
  // A million GPUs for ten years at $10/h: 8.76e16 micro-dollars, product 3.15e20.
  int64_t gpu_seconds = 1'000'000LL * 10 * 365 * 86400;
  EXPECT_EQ(CostOfGpuSeconds(gpu_seconds, Money::FromDollars(10)).micros(),
            1'000'000LL * 10 * 365 * 24 * 10 * 1'000'000);
}

TEST(MulDivRoundTest, SixtyFourBitPathAgreesWithTheWideOne) {
  const int64_t values[] = {0,
                            1,
                            -1,
                            499,
                            500,
                            -500,
                            999,
                            1'000'000,
                            -7'654'321,
                            int64_t{1} << 30,
                            -(int64_t{1} << 31),
                            int64_t{1} << 40,
                            (int64_t{1} << 61) + 3,
                            INT64_MAX / 3,
                            INT64_MIN / 5};
  const int64_t divisors[] = {1, 2, 3, 10, 1000, 3600, 1'000'003, int64_t{1} << 62};
  for (int64_t a : values) {
    for (int64_t b : values) {
      for (int64_t c : divisors) {
        __int128 p = static_cast<__int128>(a) * b;
        if (p / c > INT64_MAX || p / c < INT64_MIN) continue;  // result does not fit
        EXPECT_EQ(MulDivRound(a, b, c), MulDivRound128(a, b, c)) << a << " * " << b << " / " << c;
      }
    }
  }
}

TEST(MoneyTest, FormatsShortAndExact) {
  EXPECT_EQ(FormatMoneyShort(Money::FromDollars(38'000'000'000)), "$38.00B");
  EXPECT_EQ(FormatMoneyShort(Money::FromMicros(1'234'567)), "$1.23");
  EXPECT_EQ(FormatMoneyExact(Money::FromMicros(-1'500'001)), "-1.500001");
  EXPECT_EQ(FormatMoney(Money::FromMicros(1'005'000)), "1.01");
}

TEST(DurationTest, FormatsCompactly) {
  EXPECT_EQ(FormatDuration(Duration::Seconds(45)), "45s");
  EXPECT_EQ(FormatDuration(Duration::Hours(26) + Duration::Minutes(3)), "1d02h03m");
}

TEST(StatusTest, EachCodeHasOneExitCode) {
  EXPECT_EQ(ExitCodeFor(InvalidInput("x")), kExitInvalidInput);
  EXPECT_EQ(ExitCodeFor(InvalidArgument("x")), kExitUsage);
  EXPECT_EQ(ExitCodeFor(IoError("x")), kExitIoError);
  EXPECT_EQ(ExitCodeFor(NotFound("x")), kExitNotFound);
  EXPECT_EQ(ExitCodeFor(Status::Ok()), kExitOk);
}

TEST(RngTest, SameSeedSameStreamAndForksDiffer) {
  Rng a(42), b(42);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.Next(), b.Next());
  Rng c = Rng::Fork(42, "research"), d = Rng::Fork(42, "batch");
  EXPECT_NE(c.Next(), d.Next());
  Rng e(7);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(e.Below(10), 10u);
}

}  // namespace
}  // namespace polycloud
