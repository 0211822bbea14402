// Checked 64-bit integer arithmetic: the result, or std::nullopt when it would
// not fit. Used where a product of validated inputs can still exceed 64 bits
// (docs/scenario.md, "Magnitudes"), so that a result that does not fit becomes
// an error naming the input that caused it instead of a wrapped number.
//
//   std::optional<int64_t> w = CheckedMul(work_gpu_seconds, int64_t{1000});
//   if (!w) return InvalidInput("work_gpu_hours: too large");
//
// Thread-safety: pure functions.
#ifndef POLYCLOUD_BASE_CHECKED_H_
#define POLYCLOUD_BASE_CHECKED_H_

#include <cstdint>
#include <optional>

namespace polycloud {

// a * b, or nullopt on overflow.
[[nodiscard]] inline std::optional<int64_t> CheckedMul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// a + b, or nullopt on overflow.
[[nodiscard]] inline std::optional<int64_t> CheckedAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// a - b, or nullopt on overflow.
[[nodiscard]] inline std::optional<int64_t> CheckedSub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) return std::nullopt;
  return r;
}

}  // namespace polycloud

#endif  // POLYCLOUD_BASE_CHECKED_H_
