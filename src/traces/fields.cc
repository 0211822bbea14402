#include "fields.h"

#include <cstdio>

#include "polycloud/base/parse.h"

namespace polycloud::traces::internal {

std::string Quoted(std::string_view text) {
  constexpr size_t kMaxShown = 60;
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '"') {
      out += "\\\"";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMaxShown) out += "...";
  out += '"';
  return out;
}

std::string_view TrimField(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

Status ColumnError(const CsvReader& csv, int column, std::string_view what) {
  return InvalidInput("column '" + std::string(csv.ColumnName(column)) + "': " + std::string(what));
}

Result<std::string_view> TextField(const CsvReader& csv, int column) {
  std::string_view text = TrimField(csv.Field(column));
  if (text.empty()) return ColumnError(csv, column, "expected a value, found an empty field");
  return text;
}

namespace {

// Fast paths for the plain forms that make up nearly every row of the large
// traces. The base parsers build their error text before knowing whether they
// fail, which costs more than the parse; these accept only a subset of what
// the base parsers accept, give the same value, and leave everything else
// (including every error) to them.
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::optional<int64_t> PlainInteger(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (!IsDigit(c)) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

std::optional<int64_t> PlainDecimal(std::string_view text, int scale) {
  size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole.empty() || static_cast<int>(whole.size()) > 18 - scale) return std::nullopt;
  if (dot != std::string_view::npos && fraction.empty()) return std::nullopt;
  if (static_cast<int>(fraction.size()) > scale) return std::nullopt;
  int64_t value = 0;
  for (char c : whole) {
    if (!IsDigit(c)) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  int digits = 0;
  for (char c : fraction) {
    if (!IsDigit(c)) return std::nullopt;
    value = value * 10 + (c - '0');
    ++digits;
  }
  for (; digits < scale; ++digits) value *= 10;
  return value;
}

bool TwoDigits(std::string_view s, size_t at, int64_t& out) {
  if (!IsDigit(s[at]) || !IsDigit(s[at + 1])) return false;
  out = (s[at] - '0') * 10 + (s[at + 1] - '0');
  return true;
}

// "YYYY-MM-DD HH:MM:SS" or with 'T', exactly; otherwise nullopt.
std::optional<Time> PlainTime(std::string_view s) {
  if (s.size() != 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') ||
      s[13] != ':' || s[16] != ':') {
    return std::nullopt;
  }
  int64_t c, y, mo, d, h, mi, sec;
  if (!TwoDigits(s, 0, c) || !TwoDigits(s, 2, y) || !TwoDigits(s, 5, mo) || !TwoDigits(s, 8, d) ||
      !TwoDigits(s, 11, h) || !TwoDigits(s, 14, mi) || !TwoDigits(s, 17, sec)) {
    return std::nullopt;
  }
  y += c * 100;
  static constexpr int64_t kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 59 || d < 1) return std::nullopt;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > kDays[mo - 1] + (mo == 2 && leap ? 1 : 0)) return std::nullopt;
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return Time::FromUnixSeconds(days * 86400 + h * 3600 + mi * 60 + sec);
}

std::string Decimal(int64_t scaled, int scale) {
  int64_t unit = 1;
  for (int i = 0; i < scale; ++i) unit *= 10;
  std::string out = std::to_string(scaled / unit);
  if (scaled % unit != 0) {
    std::string frac = std::to_string(scaled % unit);
    frac.insert(0, static_cast<size_t>(scale) - frac.size(), '0');
    while (frac.back() == '0') frac.pop_back();
    out += "." + frac;
  }
  return out;
}

}  // namespace

Result<std::optional<int64_t>> OptionalIntField(const CsvReader& csv, int column, int64_t min,
                                                int64_t max) {
  std::string_view text = TrimField(csv.Field(column));
  if (text.empty()) return std::optional<int64_t>();
  if (std::optional<int64_t> plain = PlainInteger(text); plain && *plain >= min && *plain <= max) {
    return plain;
  }
  Result<int64_t> value = ParseInteger(text);
  if (!value.ok() || *value < min || *value > max) {
    return ColumnError(csv, column,
                       "expected an integer from " + std::to_string(min) + " to " +
                           std::to_string(max) + ", found " + Quoted(text));
  }
  return std::optional<int64_t>(*value);
}

Result<int64_t> IntField(const CsvReader& csv, int column, int64_t min, int64_t max) {
  POLYCLOUD_ASSIGN_OR_RETURN(std::optional<int64_t> value, OptionalIntField(csv, column, min, max));
  if (!value) {
    return ColumnError(csv, column,
                       "expected an integer from " + std::to_string(min) + " to " +
                           std::to_string(max) + ", found an empty field");
  }
  return *value;
}

Result<std::optional<int64_t>> OptionalDecimalField(const CsvReader& csv, int column, int scale,
                                                    int64_t max_scaled) {
  std::string_view text = TrimField(csv.Field(column));
  if (text.empty()) return std::optional<int64_t>();
  if (std::optional<int64_t> plain = PlainDecimal(text, scale); plain && *plain <= max_scaled) {
    return plain;
  }
  Result<int64_t> value = ParseScaledDecimal(text, scale);
  if (!value.ok() || *value > max_scaled) {
    std::string expected = "expected a non-negative decimal number up to " +
                           Decimal(max_scaled, scale) + " with at most " + std::to_string(scale) +
                           " decimal places, found " + Quoted(text);
    return ColumnError(csv, column, expected);
  }
  return std::optional<int64_t>(*value);
}

Result<int64_t> DecimalField(const CsvReader& csv, int column, int scale, int64_t max_scaled) {
  POLYCLOUD_ASSIGN_OR_RETURN(std::optional<int64_t> value,
                             OptionalDecimalField(csv, column, scale, max_scaled));
  if (!value) {
    return ColumnError(csv, column, "expected a non-negative decimal number, found an empty field");
  }
  return *value;
}

Result<Timestamp> ParseTimestamp(std::string_view text) {
  // Built only on failure: this runs once per row of the large traces.
  auto expected = [text]() {
    return "expected a UTC time \"YYYY-MM-DD HH:MM:SS[.fraction]\", found " + Quoted(text);
  };
  std::string_view whole = text;
  if (!whole.empty() && whole.back() == 'Z') whole.remove_suffix(1);
  Timestamp out;
  size_t dot = whole.find('.');
  if (dot != std::string_view::npos) {
    std::string_view fraction = whole.substr(dot + 1);
    if (fraction.empty() || fraction.size() > 9) return InvalidInput(expected());
    int64_t nanos = 0;
    for (char c : fraction) {
      if (c < '0' || c > '9') return InvalidInput(expected());
      nanos = nanos * 10 + (c - '0');
    }
    for (size_t i = fraction.size(); i < 9; ++i) nanos *= 10;
    out.nanos = static_cast<int32_t>(nanos);
    whole = whole.substr(0, dot);
  }
  // ParseTime also takes a bare date; a trace timestamp must have a time of day.
  if (whole.size() < 16) return InvalidInput(expected());
  if (std::optional<Time> plain = PlainTime(whole)) {
    out.seconds = *plain;
    return out;
  }
  Result<Time> seconds = ParseTime(whole);
  if (!seconds.ok()) {
    const std::string& why = seconds.status().message();
    if (why.rfind("expected", 0) == 0) return InvalidInput(expected());
    return InvalidInput(expected() + " (" + why + ")");
  }
  out.seconds = *seconds;
  return out;
}

}  // namespace polycloud::traces::internal
