// A small, portable, seeded random number generator (xoshiro256** seeded by
// splitmix64). The standard library's distributions are not specified
// bit-for-bit across implementations, so polycloud draws its own: the same
// seed gives the same stream with every compiler. Not thread-safe; give each
// stream its own Rng (Rng::Fork derives an independent one from a name).
#ifndef POLYCLOUD_BASE_RNG_H_
#define POLYCLOUD_BASE_RNG_H_

#include <cstdint>
#include <string_view>

namespace polycloud {

class Rng {
 public:
  explicit Rng(uint64_t seed);
  // An independent stream derived from this seed and a label (e.g. a stream id).
  static Rng Fork(uint64_t seed, std::string_view label);
  // A generator in the given xoshiro256** state (not all zero), bypassing the
  // splitmix64 seeding: for known-answer tests against the reference code.
  static Rng FromState(uint64_t s0, uint64_t s1, uint64_t s2, uint64_t s3);

  uint64_t Next();
  // Uniform in [0, n), n > 0, without modulo bias.
  uint64_t Below(uint64_t n);
  // Uniform in [0, 1) with 53 bits.
  double Unit();

 private:
  Rng() = default;
  uint64_t s_[4];
};

}  // namespace polycloud

#endif  // POLYCLOUD_BASE_RNG_H_
