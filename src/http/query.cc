#include "polycloud/http/query.h"

#include <charconv>

#include "polycloud/base/text.h"

namespace polycloud::http {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

}  // namespace

std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = HexValue(text[i + 1]), lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    if (IsUnreserved(c)) {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
  return out;
}

ApiResult<StringMap> ParseQueryString(std::string_view query) {
  StringMap out;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (piece.empty()) continue;
    const size_t eq = piece.find('=');
    std::optional<std::string> name = PercentDecode(piece.substr(0, eq), true);
    std::optional<std::string> value = PercentDecode(
        eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1), true);
    if (!name || !value) {
      return BadRequest(code::kInvalidQuery, "query parameter " + QuoteExcerpt(piece) +
                                                 ": a '%' must be followed by two hex digits");
    }
    if (name->empty()) {
      return BadRequest(code::kInvalidQuery,
                        "query parameter " + QuoteExcerpt(piece) + " has no name");
    }
    if (!out.emplace(*name, std::move(*value)).second) {
      return BadRequest(code::kInvalidQuery,
                        "query parameter " + QuoteExcerpt(*name) + " is given more than once");
    }
  }
  return out;
}

const std::string* QueryReader::Lookup(std::string_view name) {
  known_.emplace(name);
  if (error_) return nullptr;
  auto it = query_.find(name);
  return it == query_.end() ? nullptr : &it->second;
}

void QueryReader::Fail(std::string_view name, const std::string& expected,
                       const std::string& found) {
  if (error_) return;
  error_ = BadRequest(code::kInvalidQuery, "query parameter " + QuoteExcerpt(name) + ": expected " +
                                               expected + ", found " + QuoteExcerpt(found, 40));
}

std::optional<std::string> QueryReader::String(std::string_view name, size_t max_bytes) {
  const std::string* v = Lookup(name);
  if (v == nullptr) return std::nullopt;
  if (v->size() > max_bytes) {
    return Fail(name, "at most " + std::to_string(max_bytes) + " bytes", *v), std::nullopt;
  }
  return *v;
}

std::optional<int64_t> QueryReader::Int(std::string_view name, int64_t min, int64_t max) {
  const std::string* v = Lookup(name);
  if (v == nullptr) return std::nullopt;
  int64_t x = 0;
  const char* end = v->data() + v->size();
  auto [ptr, ec] = std::from_chars(v->data(), end, x);
  if (v->empty() || ec != std::errc() || ptr != end || x < min || x > max) {
    Fail(name, "an integer from " + std::to_string(min) + " to " + std::to_string(max), *v);
    return std::nullopt;
  }
  return x;
}

std::optional<bool> QueryReader::Bool(std::string_view name) {
  const std::string* v = Lookup(name);
  if (v == nullptr) return std::nullopt;
  if (*v == "true") return true;
  if (*v == "false") return false;
  return Fail(name, "true or false", *v), std::nullopt;
}

std::optional<std::string> QueryReader::Enum(std::string_view name,
                                             std::initializer_list<std::string_view> allowed) {
  const std::string* v = Lookup(name);
  if (v == nullptr) return std::nullopt;
  std::string list;
  for (std::string_view a : allowed) {
    if (*v == a) return *v;
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  return Fail(name, "one of " + list, *v), std::nullopt;
}

std::optional<ApiError> QueryReader::Finish() {
  if (error_) return error_;
  for (const auto& [name, value] : query_) {
    if (known_.count(name) != 0) continue;
    std::string list;
    for (const std::string& k : known_) list += (list.empty() ? "" : ", ") + k;
    error_ = BadRequest(code::kInvalidQuery,
                        "unknown query parameter " + QuoteExcerpt(name) +
                            (list.empty() ? std::string(" (this endpoint takes none)")
                                          : " (expected one of: " + list + ")"));
    return error_;
  }
  return std::nullopt;
}

}  // namespace polycloud::http
