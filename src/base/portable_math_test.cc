#include "polycloud/base/portable_math.h"

#include <gtest/gtest.h>

#include "polycloud/base/rng.h"

namespace polycloud {
namespace {

constexpr uint64_t kHalf = uint64_t{1} << 52;  // u = 0.5

TEST(LogUniformTest, EndsAndExactPowersAreExact) {
  LogUniform d(100, 10'000);
  EXPECT_EQ(d.At(0), 100);
  EXPECT_EQ(d.At(kHalf), 1'000);                     // 100 · 100^0.5
  EXPECT_EQ(d.At(kHalf + (kHalf >> 1)), 3'162);      // 100 · 100^0.75 = 3162.27...
  EXPECT_EQ(d.At((uint64_t{1} << 53) - 1), 10'000);  // 9999.99999999999949...
  LogUniform same(60, 60);
  EXPECT_EQ(same.At(12345), 60);
  LogUniform two(1, 4);
  EXPECT_EQ(two.At(kHalf), 2);
  EXPECT_EQ(two.At(kHalf >> 1), 1);  // 4^0.25 = 1.414... rounds to 1
}

// Known answers, each the exact value of lo · (hi/lo)^(k/2^53) rounded, from
// arbitrary-precision arithmetic (Python's decimal at 50 digits); on glibc the
// double formula the streams used, llround(lo * pow(hi/lo, k * 2^-53)), agrees.
TEST(LogUniformTest, MatchesArbitraryPrecisionKnownAnswers) {
  struct Case {
    int64_t lo, hi;
    uint64_t k;
    int64_t want;
  };
  const Case cases[] = {
#include "portable_math_cases.inc"
  };
  for (const Case& c : cases) {
    EXPECT_EQ(LogUniform(c.lo, c.hi).At(c.k), c.want) << c.lo << " " << c.hi << " " << c.k;
  }
}

TEST(LnOfRatioTest, KnownValues) {
  EXPECT_EQ(LnOfRatio(5, 5), 0.0);
  EXPECT_DOUBLE_EQ(LnOfRatio(2, 1), 0.69314718055994530942);
  EXPECT_EQ(LnOfRatio(2, 1), 0x1.62e42fefa39efp-1);   // ln 2, correctly rounded
  EXPECT_EQ(LnOfRatio(10, 1), 0x1.26bb1bbb55516p+1);  // ln 10, correctly rounded
  EXPECT_EQ(LnOfRatio(86400, 60), LnOfRatio(1440, 1));
  // The generator's four streams' max/min duration ratios (src/gen/scale.cc).
  EXPECT_EQ(LnOfRatio(96, 1), 0x1.241e47e07a4f8p+2);
  EXPECT_EQ(LnOfRatio(48, 1), 0x1.ef8383c50bb75p+1);
  EXPECT_EQ(LnOfRatio(72, 1), 0x1.11b4e5cf4573fp+2);
  EXPECT_EQ(LnOfRatio(28, 1), 0x1.aa85ad6964a23p+1);
}

// Correctly rounded (Python's decimal at 60 digits) where glibc 2.36's log()
// is one unit in the last place off: the platform dependence this removes.
TEST(LnOfRatioTest, IsCorrectlyRoundedWhereLibmIsNot) {
  EXPECT_EQ(LnOfRatio(4'719'245, 1), 0x1.ebbfc50b05f28p+3);  // glibc: ...f27
  EXPECT_EQ(LnOfRatio(6'131'371, 1), 0x1.f4202f940686ap+3);  // glibc: ...86b
}

}  // namespace
}  // namespace polycloud
