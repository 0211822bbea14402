#include "polycloud/base/parse.h"

#include <cctype>
#include <cstdio>
#include <limits>

#include "polycloud/base/text.h"

namespace polycloud {
namespace {

// A short escaped excerpt: a value may be megabytes long or hold control bytes.
std::string Quote(std::string_view s) { return QuoteExcerpt(s); }

bool ReadDigits(std::string_view s, size_t& pos, size_t count, int64_t& out) {
  out = 0;
  for (size_t i = 0; i < count; ++i, ++pos) {
    if (pos >= s.size() || !std::isdigit(static_cast<unsigned char>(s[pos]))) return false;
    out = out * 10 + (s[pos] - '0');
  }
  return true;
}

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

}  // namespace

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += (m <= 2);
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

Result<Time> ParseTime(std::string_view s) {
  const std::string expected =
      "expected a UTC date \"YYYY-MM-DD\" or time \"YYYY-MM-DDTHH:MM:SSZ\", found " + Quote(s);
  size_t pos = 0;
  int64_t y, mo, d, h = 0, mi = 0, sec = 0;
  if (!ReadDigits(s, pos, 4, y) || pos >= s.size() || s[pos++] != '-' ||
      !ReadDigits(s, pos, 2, mo) || pos >= s.size() || s[pos++] != '-' ||
      !ReadDigits(s, pos, 2, d)) {
    return InvalidInput(expected);
  }
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != ' ') return InvalidInput(expected);
    ++pos;
    if (!ReadDigits(s, pos, 2, h) || pos >= s.size() || s[pos++] != ':' ||
        !ReadDigits(s, pos, 2, mi)) {
      return InvalidInput(expected);
    }
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!ReadDigits(s, pos, 2, sec)) return InvalidInput(expected);
    }
    if (pos < s.size() && s[pos] == 'Z') ++pos;
    if (pos != s.size()) return InvalidInput(expected);
  }
  if (mo < 1 || mo > 12) return InvalidInput("month out of range 01-12 in " + Quote(s));
  if (d < 1 || d > DaysInMonth(y, static_cast<unsigned>(mo))) {
    return InvalidInput("day out of range for the month in " + Quote(s));
  }
  if (h > 23 || mi > 59 || sec > 59) return InvalidInput("time of day out of range in " + Quote(s));
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return Time::FromUnixSeconds(days * 86400 + h * 3600 + mi * 60 + sec);
}

std::string FormatTimeFull(Time t) {
  int64_t s = t.unix_seconds();
  int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
  int64_t rem = s - days * 86400;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ",
                static_cast<long long>(y), m, d, static_cast<long long>(rem / 3600),
                static_cast<long long>((rem / 60) % 60), static_cast<long long>(rem % 60));
  return buf;
}

std::string FormatTime(Time t) {
  std::string full = FormatTimeFull(t);
  if (full.compare(10, 10, "T00:00:00Z") == 0) return full.substr(0, 10);
  return full;
}

Result<Duration> ParseDuration(std::string_view s) {
  const std::string expected =
      "expected a duration with units such as \"45s\", \"90m\", \"2h\", \"7d\", \"1w\" or "
      "\"1d12h\", "
      "found " +
      Quote(s);
  if (s.empty()) return InvalidInput(expected);
  int64_t total = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    if (!std::isdigit(static_cast<unsigned char>(s[pos]))) return InvalidInput(expected);
    int64_t n = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (n > std::numeric_limits<int64_t>::max() / 100)
        return InvalidInput("duration too large: " + Quote(s));
      n = n * 10 + (s[pos++] - '0');
    }
    if (pos >= s.size()) return InvalidInput(expected);
    int64_t unit;
    switch (s[pos++]) {
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
      case 'w':
        unit = 7 * 86400;
        break;
      default:
        return InvalidInput(expected);
    }
    if (n > (std::numeric_limits<int64_t>::max() / 8 - total) / unit) {
      return InvalidInput("duration too large: " + Quote(s));
    }
    total += n * unit;
  }
  return Duration::Seconds(total);
}

Result<int64_t> ParseScaledDecimal(std::string_view s, int scale_digits) {
  const std::string expected = "expected a non-negative decimal number, found " + Quote(s);
  if (s.empty()) return InvalidInput(expected);
  size_t pos = 0;
  __int128 whole = 0;
  bool any = false;
  while (pos < s.size() && (std::isdigit(static_cast<unsigned char>(s[pos])) || s[pos] == '_')) {
    if (s[pos] != '_') {
      whole = whole * 10 + (s[pos] - '0');
      any = true;
      if (whole > std::numeric_limits<int64_t>::max())
        return InvalidInput("number too large: " + Quote(s));
    }
    ++pos;
  }
  __int128 frac = 0;
  int frac_digits = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (frac_digits == scale_digits) {
        if (s[pos] != '0') {
          return InvalidInput("too many decimal places in " + Quote(s) + " (at most " +
                              std::to_string(scale_digits) + ")");
        }
      } else {
        frac = frac * 10 + (s[pos] - '0');
        ++frac_digits;
      }
      any = true;
      ++pos;
    }
  }
  if (!any || pos != s.size()) return InvalidInput(expected);
  __int128 scale = 1;
  for (int i = 0; i < scale_digits; ++i) scale *= 10;
  for (int i = frac_digits; i < scale_digits; ++i) frac *= 10;
  __int128 v = whole * scale + frac;
  if (v > std::numeric_limits<int64_t>::max()) return InvalidInput("number too large: " + Quote(s));
  return static_cast<int64_t>(v);
}

Result<int64_t> ParseInteger(std::string_view s) {
  const std::string expected = "expected an integer, found " + Quote(s);
  size_t pos = 0;
  bool neg = false;
  if (pos < s.size() && (s[pos] == '-' || s[pos] == '+')) neg = s[pos++] == '-';
  if (pos >= s.size()) return InvalidInput(expected);
  __int128 v = 0;
  bool any = false;
  for (; pos < s.size(); ++pos) {
    char c = s[pos];
    if (c == '_' && any) continue;
    if (!std::isdigit(static_cast<unsigned char>(c))) return InvalidInput(expected);
    v = v * 10 + (c - '0');
    any = true;
    if (v > std::numeric_limits<int64_t>::max())
      return InvalidInput("integer too large: " + Quote(s));
  }
  if (!any) return InvalidInput(expected);
  return static_cast<int64_t>(neg ? -v : v);
}

}  // namespace polycloud
