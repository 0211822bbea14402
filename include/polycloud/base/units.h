// Quantities with their units in the type: Money (integer micro-dollars),
// Duration and Time (integer seconds, UTC), Power (integer watts).
//
// Everything is an exact integer so that sums never drift and the simulator is
// byte-for-byte deterministic on every platform. Products that may overflow 64
// bits (GPU-seconds × price) go through MulDiv, which uses 128-bit arithmetic.
//
//   Money price = Money::FromMicros(2'500'000);          // $2.50
//   Money cost = CostOfGpuSeconds(gpu_seconds, price);   // price is per GPU-hour
//
// Thread-safety: plain values.
#ifndef POLYCLOUD_BASE_UNITS_H_
#define POLYCLOUD_BASE_UNITS_H_

#include <compare>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

namespace polycloud {

// A signed integer amount of one unit. Tag makes each unit a distinct type.
template <typename Tag>
class Quantity {
 public:
  constexpr Quantity() = default;
  constexpr explicit Quantity(int64_t raw) : raw_(raw) {}
  constexpr int64_t raw() const { return raw_; }

  constexpr auto operator<=>(const Quantity&) const = default;
  constexpr Quantity operator+(Quantity o) const { return Quantity(raw_ + o.raw_); }
  constexpr Quantity operator-(Quantity o) const { return Quantity(raw_ - o.raw_); }
  constexpr Quantity operator-() const { return Quantity(-raw_); }
  constexpr Quantity& operator+=(Quantity o) {
    raw_ += o.raw_;
    return *this;
  }
  constexpr Quantity& operator-=(Quantity o) {
    raw_ -= o.raw_;
    return *this;
  }
  constexpr Quantity operator*(int64_t k) const { return Quantity(raw_ * k); }
  constexpr bool is_zero() const { return raw_ == 0; }

 private:
  int64_t raw_ = 0;
};

struct MoneyTag {};
struct DurationTag {};
struct PowerTag {};

// Money in integer micro-dollars (1 USD = 1'000'000).
class Money : public Quantity<MoneyTag> {
 public:
  using Quantity::Quantity;
  constexpr Money(Quantity<MoneyTag> q) : Quantity(q) {}  // NOLINT
  static constexpr Money FromMicros(int64_t micros) { return Money(micros); }
  static constexpr Money FromDollars(int64_t dollars) { return Money(dollars * 1'000'000); }
  constexpr int64_t micros() const { return raw(); }
};

// A span of time in whole seconds.
class Duration : public Quantity<DurationTag> {
 public:
  using Quantity::Quantity;
  constexpr Duration(Quantity<DurationTag> q) : Quantity(q) {}  // NOLINT
  static constexpr Duration Seconds(int64_t s) { return Duration(s); }
  static constexpr Duration Minutes(int64_t m) { return Duration(m * 60); }
  static constexpr Duration Hours(int64_t h) { return Duration(h * 3600); }
  static constexpr Duration Days(int64_t d) { return Duration(d * 86400); }
  constexpr int64_t seconds() const { return raw(); }
};

// Electrical power in whole watts.
class Power : public Quantity<PowerTag> {
 public:
  using Quantity::Quantity;
  constexpr Power(Quantity<PowerTag> q) : Quantity(q) {}  // NOLINT
  static constexpr Power Watts(int64_t w) { return Power(w); }
  static constexpr Power Megawatts(int64_t mw) { return Power(mw * 1'000'000); }
  constexpr int64_t watts() const { return raw(); }
};

// An instant: whole seconds since 1970-01-01T00:00:00Z.
class Time {
 public:
  constexpr Time() = default;
  static constexpr Time FromUnixSeconds(int64_t s) { return Time(s); }
  static constexpr Time Min() { return Time(std::numeric_limits<int64_t>::min() / 4); }
  static constexpr Time Max() { return Time(std::numeric_limits<int64_t>::max() / 4); }
  constexpr int64_t unix_seconds() const { return s_; }

  constexpr auto operator<=>(const Time&) const = default;
  constexpr Time operator+(Duration d) const { return Time(s_ + d.seconds()); }
  constexpr Time operator-(Duration d) const { return Time(s_ - d.seconds()); }
  constexpr Duration operator-(Time o) const { return Duration(s_ - o.s_); }

 private:
  constexpr explicit Time(int64_t s) : s_(s) {}
  int64_t s_ = 0;
};

// a * b / c with a 128-bit intermediate, rounded half away from zero, or
// nullopt when the result does not fit in 64 bits. c > 0.
[[nodiscard]] std::optional<int64_t> CheckedMulDivRound(int64_t a, int64_t b, int64_t c);
// The same for results known to fit: the validator's bounds (docs/scenario.md,
// "Magnitudes") keep every product it is called with in range, so a result
// that does not fit is a programming error and fails a check (it used to be
// truncated to 64 bits silently).
int64_t MulDivRound128(int64_t a, int64_t b, int64_t c);
// The same; products that fit in 63 bits (nearly all) stay in 64-bit
// arithmetic, which placement and binding call on every decision.
inline int64_t MulDivRound(int64_t a, int64_t b, int64_t c) {
  int64_t p;
  if (__builtin_mul_overflow(a, b, &p) || p > (int64_t{1} << 61) || p < -(int64_t{1} << 61) ||
      c > (int64_t{1} << 61)) {
    return MulDivRound128(a, b, c);
  }
  const int64_t half = c / 2;
  return p >= 0 ? (p + half) / c : (p - half) / c;
}

// Cost of `gpu_seconds` at `price_per_gpu_hour`, exact to the micro-dollar.
inline Money CostOfGpuSeconds(int64_t gpu_seconds, Money price_per_gpu_hour) {
  return Money::FromMicros(MulDivRound(gpu_seconds, price_per_gpu_hour.micros(), 3600));
}

// "$1,234.567890" style rendering is the report's job; these are plain forms.
std::string FormatMoney(Money m);        // "1234.56" (dollars, 2 decimals, rounded)
std::string FormatMoneyExact(Money m);   // "1234.567890"
std::string FormatMoneyShort(Money m);   // "$1.23B", "$45.6M", "$789.0K", "$12.34"
std::string FormatPower(Power p);        // "12.345 MW"
std::string FormatDuration(Duration d);  // "3d04h05m06s" / "45s"

}  // namespace polycloud

#endif  // POLYCLOUD_BASE_UNITS_H_
