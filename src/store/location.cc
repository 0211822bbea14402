#include "src/store/location.h"

#include <cctype>

#include "polycloud/base/text.h"

namespace polycloud::store {
namespace {

constexpr std::string_view kExpected =
    "expected sqlite:PATH, a file path, or postgresql://[user[:password]@]host[:port]/database";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The length of a URI scheme at the start of `s` ("sqlite" in "sqlite:x"), or
// 0 when `s` does not start with one followed by ':'.
size_t SchemeLength(std::string_view s) {
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return 0;
  size_t i = 1;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (!std::isalnum(c) && c != '+' && c != '-' && c != '.') break;
    ++i;
  }
  return i < s.size() && s[i] == ':' ? i : 0;
}

Status Bad(std::string_view location, std::string_view why) {
  return InvalidArgument("store location " + QuoteExcerpt(RedactPassword(location), 120) + ": " +
                         std::string(why));
}

Result<StoreLocation> SqlitePath(std::string_view location, std::string_view path) {
  if (path.empty()) return Bad(location, "no database path; " + std::string(kExpected));
  if (path == ":memory:" || path.rfind("file:", 0) == 0) {
    return Bad(location,
               "SQLite in-memory databases and file: URIs are not supported: the store's "
               "connections must share one durable file; give a path");
  }
  if (path.back() == '/') return Bad(location, "names a directory, not a database file");
  return StoreLocation{StoreLocation::Kind::kSqlite, std::string(path), std::string(location)};
}

}  // namespace

std::string RedactPassword(std::string_view uri) {
  std::string out(uri);
  const size_t authority = out.find("://");
  if (authority != std::string::npos) {
    const size_t begin = authority + 3;
    const size_t end = std::min(out.find_first_of("/?#", begin), out.size());
    const size_t at = out.rfind('@', end == 0 ? 0 : end - 1);
    if (at != std::string::npos && at >= begin) {
      const size_t colon = out.find(':', begin);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // "password=" as a query parameter (libpq URIs accept any keyword there).
  for (size_t at = out.find('?'); at != std::string::npos && at < out.size();) {
    const size_t key = at + 1;
    const size_t next = out.find('&', key);
    const size_t stop = next == std::string::npos ? out.size() : next;
    if (Lower(std::string_view(out).substr(key, stop - key)).rfind("password=", 0) == 0) {
      out.replace(key + 9, stop - key - 9, "***");
    }
    at = out.find('&', key);
  }
  return out;
}

Result<StoreLocation> ParseStoreLocation(std::string_view location) {
  if (location.empty())
    return InvalidArgument("the store location is empty; " + std::string(kExpected));
  for (const char c : location) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return Bad(location, "contains a control character");
  }
  if (FindInvalidUtf8(location)) return Bad(location, "is not valid UTF-8");
  const size_t scheme_length = SchemeLength(location);
  if (scheme_length == 0) return SqlitePath(location, location);  // a bare path
  const std::string scheme = Lower(location.substr(0, scheme_length));
  const std::string_view rest = location.substr(scheme_length + 1);
  if (scheme == "sqlite") {
    if (rest.rfind("//", 0) == 0) {
      return Bad(location,
                 "write sqlite:PATH (sqlite:/abs/path.db or sqlite:relative.db), "
                 "not sqlite://");
    }
    return SqlitePath(location, rest);
  }
  if (scheme == "postgresql" || scheme == "postgres") {
    if (rest.rfind("//", 0) != 0) return Bad(location, "expected " + scheme + "://...");
    return StoreLocation{StoreLocation::Kind::kPostgres, std::string(location),
                         RedactPassword(location)};
  }
  return Bad(location, "unknown scheme \"" + Excerpt(scheme, 20) + "\"; " + std::string(kExpected));
}

}  // namespace polycloud::store
