// Strict parsers for the textual forms of polycloud's units, shared by the
// scenario loader, trace readers and the command line.
//
// Each returns a Result whose error message says what was expected; callers
// prefix the location (file:line:column). No parser accepts trailing junk,
// and none goes through floating point: "2.50" dollars is exactly 2'500'000
// micro-dollars.
//
//   Result<Time> t = ParseTime("2025-11-03T06:00:00Z");
//   Result<Duration> d = ParseDuration("90m");
#ifndef POLYCLOUD_BASE_PARSE_H_
#define POLYCLOUD_BASE_PARSE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "polycloud/base/status.h"
#include "polycloud/base/units.h"

namespace polycloud {

// "YYYY-MM-DD" (midnight UTC), "YYYY-MM-DDTHH:MM[:SS]Z" or with a space instead of T
// (the trailing Z is optional; all times are UTC).
Result<Time> ParseTime(std::string_view text);
// ISO form: "2025-11-03T06:00:00Z", or "2025-11-03" when at midnight.
std::string FormatTime(Time t);
// Always the full "2025-11-03T06:00:00Z".
std::string FormatTimeFull(Time t);
// Days since epoch for a civil date, and back (proleptic Gregorian).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);
void CivilFromDays(int64_t days, int64_t& y, unsigned& m, unsigned& d);

// "45s", "90m", "2h", "7d", "1w", or combinations "1d12h"; a bare integer is
// rejected (units are mandatory).
Result<Duration> ParseDuration(std::string_view text);

// A non-negative decimal with at most `max_fraction_digits` fraction digits, scaled
// by 10^scale_digits: ParseScaledDecimal("2.5", 6) == 2'500'000.
Result<int64_t> ParseScaledDecimal(std::string_view text, int scale_digits);
// A decimal integer, optionally signed, with optional '_' digit separators.
Result<int64_t> ParseInteger(std::string_view text);

}  // namespace polycloud

#endif  // POLYCLOUD_BASE_PARSE_H_
