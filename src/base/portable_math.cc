#include "polycloud/base/portable_math.h"

#include <bit>

#include "polycloud/base/status.h"

namespace polycloud {
namespace {

using u128 = unsigned __int128;
using Wide = LogUniform::Wide;

int BitLength(u128 v) {
  const uint64_t hi = static_cast<uint64_t>(v >> 64);
  return hi != 0 ? 128 - std::countl_zero(hi) : 64 - std::countl_zero(static_cast<uint64_t>(v));
}

// v · 2^e (v > 0) rounded to 64 significant bits, half up.
Wide Normalize(u128 v, int32_t e) {
  const int shift = BitLength(v) - 64;
  if (shift <= 0) return {static_cast<uint64_t>(v << -shift), e + shift};
  const u128 rounded = (v >> shift) + ((v >> (shift - 1)) & 1);
  if (rounded >> 64) return {uint64_t{1} << 63, e + shift + 1};  // carried into bit 64
  return {static_cast<uint64_t>(rounded), e + shift};
}

// floor(a · b / 2^128).
u128 MulHigh(u128 a, u128 b) {
  const u128 a0 = static_cast<uint64_t>(a), a1 = a >> 64;
  const u128 b0 = static_cast<uint64_t>(b), b1 = b >> 64;
  const u128 p01 = a0 * b1, p10 = a1 * b0;
  const u128 mid = ((a0 * b0) >> 64) + static_cast<uint64_t>(p01) + static_cast<uint64_t>(p10);
  return a1 * b1 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
}

Wide Mul(Wide a, Wide b) { return Normalize(static_cast<u128>(a.m) * b.m, a.e + b.e); }

// floor(sqrt(v)) by Newton's method from a power of two at or above the root.
u128 ISqrt(u128 v) {
  if (v < 2) return v;
  u128 x = u128{1} << ((BitLength(v) + 1) / 2);
  for (;;) {
    const u128 y = (x + v / x) / 2;
    if (y >= x) return x;
    x = y;
  }
}

// sqrt(m · 2^e): widen m to 127 or 128 bits with an even exponent, then take
// the integer root (64 significant bits, truncated).
Wide Sqrt(Wide a) {
  int shift = 64;
  if (((a.e - shift) & 1) != 0) shift = 63;
  const u128 wide = static_cast<u128>(a.m) << shift;
  return Normalize(ISqrt(wide), (a.e - shift) / 2);
}

}  // namespace

LogUniform::LogUniform(int64_t lo, int64_t hi) : lo_(lo), hi_(hi) {
  POLYCLOUD_CHECK(lo > 0 && hi >= lo);
  // hi/lo with 64 fractional bits: the quotient is at least 2^64, so it keeps
  // at least 64 significant bits.
  const Wide ratio = Normalize((static_cast<u128>(hi) << 64) / static_cast<u128>(lo), -64);
  // root[i] = (hi/lo)^(2^-(i+1)): bit j of k weighs 2^(j-53), so it takes root[52-j].
  Wide root[53];
  Wide r = ratio;
  for (Wide& x : root) x = r = Sqrt(r);
  // Each entry is one more factor than the entry without its lowest set bit,
  // so no entry is more than 8 roundings from the exact product.
  for (int c = 0; c < 7; ++c) {
    table_[c][0] = {uint64_t{1} << 63, -63};  // 1.0
    for (int v = 1; v < 256; ++v) {
      const int j = 8 * c + std::countr_zero(static_cast<unsigned>(v));
      table_[c][v] = j > 52 ? table_[c][0] : Mul(table_[c][v & (v - 1)], root[52 - j]);
    }
  }
}

int64_t LogUniform::At(uint64_t k) const {
  // (hi/lo)^(k/2^53) = product over k's bytes of the table's factor.
  Wide acc = table_[6][(k >> 48) & 0x1f];
  for (int c = 5; c >= 0; --c) acc = Mul(acc, table_[c][(k >> (8 * c)) & 0xff]);
  // lo · acc, rounded half up.
  const u128 p = static_cast<u128>(lo_) * acc.m;
  int64_t out;
  if (acc.e >= 0) {
    out = acc.e >= 64 ? hi_ : static_cast<int64_t>(p << acc.e);
  } else if (acc.e <= -128) {
    out = 0;
  } else {
    const int s = -acc.e;
    out = static_cast<int64_t>((p >> s) + ((p >> (s - 1)) & 1));
  }
  return out < lo_ ? lo_ : out > hi_ ? hi_ : out;
}

double LnOfRatio(int64_t num, int64_t den) {
  POLYCLOUD_CHECK(den > 0 && num >= den);
  if (num == den) return 0.0;
  // ln(y) = 2·atanh(s) = 2·(s + s^3/3 + s^5/5 + ...) with s = (y-1)/(y+1) < 1/3,
  // all with 124 fractional bits, so the double nearest the result is (nearly
  // always) the correctly rounded logarithm.
  auto mul124 = [](u128 a, u128 b) { return MulHigh(a << 2, b << 2); };  // a, b < 2^125
  auto two_atanh = [&](u128 s) -> u128 {
    const u128 s2 = mul124(s, s);
    u128 sum = 0, term = s;
    for (uint64_t k = 1; term != 0; k += 2) {
      sum += term / k;
      term = mul124(term, s2);
    }
    return 2 * sum;
  };
  // num/den = (m / 2^63) · 2^(e + 63) with m / 2^63 in [1, 2).
  const Wide x = Normalize((static_cast<u128>(num) << 64) / static_cast<u128>(den), -64);
  const u128 one = u128{1} << 63;
  const u128 a = static_cast<u128>(x.m) - one, b = static_cast<u128>(x.m) + one;
  // s = a/b with 124 fractional bits, in two long divisions (64 then 60 bits).
  const u128 q1 = (a << 64) / b, r1 = (a << 64) % b;
  const u128 s = (q1 << 60) + (r1 << 60) / b;
  const u128 ln2 = two_atanh((u128{1} << 124) / 3) >> 4;  // 120 fractional bits
  const u128 fixed = static_cast<u128>(x.e + 63) * ln2 + (two_atanh(s) >> 4);
  return static_cast<double>(fixed) * 0x1p-120;
}

}  // namespace polycloud
