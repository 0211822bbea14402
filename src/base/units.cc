#include "polycloud/base/units.h"

#include <cstdio>
#include <cstdlib>

#include "polycloud/base/status.h"

namespace polycloud {

std::optional<int64_t> CheckedMulDivRound(int64_t a, int64_t b, int64_t c) {
  POLYCLOUD_CHECK(c > 0);
  // |a * b| <= 2^126 and half < 2^62, so neither the product nor the rounding
  // step overflows 128 bits.
  const __int128 p = static_cast<__int128>(a) * b;
  const __int128 half = c / 2;
  const __int128 q = p >= 0 ? (p + half) / c : (p - half) / c;
  if (q > std::numeric_limits<int64_t>::max() || q < std::numeric_limits<int64_t>::min()) {
    return std::nullopt;
  }
  return static_cast<int64_t>(q);
}

int64_t MulDivRound128(int64_t a, int64_t b, int64_t c) {
  const std::optional<int64_t> q = CheckedMulDivRound(a, b, c);
  POLYCLOUD_CHECK(q.has_value());  // a bound in docs/scenario.md does not hold
  return *q;
}

std::string FormatMoney(Money m) {
  int64_t cents = MulDivRound(m.micros(), 1, 10'000);
  const char* sign = cents < 0 ? "-" : "";
  int64_t a = std::llabs(cents);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%lld.%02lld", sign, static_cast<long long>(a / 100),
                static_cast<long long>(a % 100));
  return buf;
}

std::string FormatMoneyExact(Money m) {
  const char* sign = m.micros() < 0 ? "-" : "";
  int64_t a = std::llabs(m.micros());
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%lld.%06lld", sign, static_cast<long long>(a / 1'000'000),
                static_cast<long long>(a % 1'000'000));
  return buf;
}

std::string FormatMoneyShort(Money m) {
  // Rounded through integers (tenths or hundredths of the unit) for determinism.
  int64_t micros = m.micros();
  const char* sign = micros < 0 ? "-" : "";
  int64_t a = std::llabs(micros);
  struct Scale {
    int64_t div;
    const char* suffix;
  };
  static constexpr Scale kScales[] = {
      {1'000'000'000'000'000LL, "B"}, {1'000'000'000'000LL, "M"}, {1'000'000'000LL, "K"}};
  char buf[64];
  for (const Scale& s : kScales) {
    if (a >= s.div) {
      int64_t hundredths = MulDivRound(a, 100, s.div);
      std::snprintf(buf, sizeof buf, "%s$%lld.%02lld%s", sign,
                    static_cast<long long>(hundredths / 100),
                    static_cast<long long>(hundredths % 100), s.suffix);
      return buf;
    }
  }
  int64_t cents = MulDivRound(a, 1, 10'000);
  std::snprintf(buf, sizeof buf, "%s$%lld.%02lld", sign, static_cast<long long>(cents / 100),
                static_cast<long long>(cents % 100));
  return buf;
}

std::string FormatPower(Power p) {
  int64_t kw = MulDivRound(p.watts(), 1, 1000);
  const char* sign = kw < 0 ? "-" : "";
  int64_t a = std::llabs(kw);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%lld.%03lld MW", sign, static_cast<long long>(a / 1000),
                static_cast<long long>(a % 1000));
  return buf;
}

std::string FormatDuration(Duration d) {
  int64_t s = d.seconds();
  std::string out = s < 0 ? "-" : "";
  s = std::llabs(s);
  int64_t days = s / 86400, h = (s / 3600) % 24, m = (s / 60) % 60, sec = s % 60;
  char buf[64];
  if (days > 0) {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh%02lldm", static_cast<long long>(days),
                  static_cast<long long>(h), static_cast<long long>(m));
  } else if (h > 0) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm%02llds", static_cast<long long>(h),
                  static_cast<long long>(m), static_cast<long long>(sec));
  } else if (m > 0) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(m),
                  static_cast<long long>(sec));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(sec));
  }
  return out + buf;
}

}  // namespace polycloud
