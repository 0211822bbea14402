// Logarithms and powers computed with integers only, so that what depends on
// them (job streams' durations, the generator's load scaling) is the same on
// every platform: std::pow and std::log are not required to be correctly
// rounded, and their last bit differs between maths libraries.
//
//   LogUniform d(60, 86400);                          // seconds, 1 min .. 1 day
//   int64_t seconds = d.At(rng.Next() >> 11);         // log-uniform in [60, 86400]
//   double ln = LnOfRatio(86400, 60);                 // ln(1440)
//
// Both carry about 63 significant bits internally (more than a double's 53),
// so for the inputs the project ships they give what the double formulas they
// replace gave on glibc (tests check known answers).
//
// Thread-safety: LogUniform is immutable after construction.
#ifndef POLYCLOUD_BASE_PORTABLE_MATH_H_
#define POLYCLOUD_BASE_PORTABLE_MATH_H_

#include <cstdint>

namespace polycloud {

// lo · (hi/lo)^u for u = k / 2^53, rounded to the nearest integer (halves
// away from zero): the integer form of llround(lo * pow(hi / lo, u)).
class LogUniform {
 public:
  // 0 < lo <= hi.
  LogUniform(int64_t lo, int64_t hi);
  // k in [0, 2^53) (e.g. Rng::Next() >> 11); the result is in [lo, hi].
  int64_t At(uint64_t k) const;

  // A positive number m · 2^e with m's top bit set (64 significant bits).
  struct Wide {
    uint64_t m;
    int32_t e;
  };

 private:
  int64_t lo_, hi_;
  // table_[c][v] = (hi/lo)^(v · 2^(8c-53)): the factor for byte c of k, so a
  // draw is 7 multiplications (the 53 bits in bytes 0..5 and 5 bits of byte 6).
  Wide table_[7][256];
};

// ln(num / den) for 0 < den <= num, as the double nearest a 64-bit fixed-point
// value (error below 1e-17).
double LnOfRatio(int64_t num, int64_t den);

}  // namespace polycloud

#endif  // POLYCLOUD_BASE_PORTABLE_MATH_H_
