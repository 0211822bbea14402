#include "src/store/location.h"

#include <algorithm>
#include <cctype>
#include <charconv>

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

// "%70assword" -> "password" (a bad escape stays as it is).
std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned value = 0;
    if (s[i] == '%' && i + 2 < s.size() &&
        std::from_chars(s.data() + i + 1, s.data() + i + 3, value, 16).ptr == s.data() + i + 3) {
      out += static_cast<char>(value);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
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

// Follows libpq's URI reading (fe-connect.c): the userinfo ends at an '@'
// before the first '/', the password runs from the userinfo's first ':' to
// that '@' (this takes the last such '@', so it hides at least what libpq
// reads as the password), and parameters start at the first '?' after it,
// their keywords percent-decoded.
std::string RedactPassword(std::string_view uri) {
  std::string out(uri);
  const size_t scheme_end = out.find("://");
  if (scheme_end == std::string::npos) return out;
  const size_t begin = scheme_end + 3;
  const size_t slash = std::min(out.find('/', begin), out.size());
  size_t query_from = begin;
  const size_t at = slash > begin ? out.rfind('@', slash - 1) : std::string::npos;
  if (at != std::string::npos && at >= begin) {
    query_from = at + 1;
    const size_t colon = out.find(':', begin);
    if (colon < at) {
      out.replace(colon + 1, at - colon - 1, "***");
      query_from = colon + 5;  // past "***@"
    }
  }
  const size_t query = out.find('?', query_from);
  for (size_t key = query; key != std::string::npos && key < out.size();) {
    ++key;  // past '?' or '&'
    const size_t next = out.find('&', key);
    const size_t stop = next == std::string::npos ? out.size() : next;
    const size_t equals = out.find('=', key);
    if (equals < stop &&
        Lower(PercentDecode(std::string_view(out).substr(key, equals - key))) == "password") {
      out.replace(equals + 1, stop - equals - 1, "***");
    }
    key = out.find('&', key);
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
    // Parameters after the first '?': only synchronous=full|normal.
    const size_t question = rest.find('?');
    if (question == std::string_view::npos) return SqlitePath(location, rest);
    POLYCLOUD_ASSIGN_OR_RETURN(StoreLocation where, SqlitePath(location, rest.substr(0, question)));
    std::string_view params = rest.substr(question + 1);
    while (true) {
      const size_t amp = params.find('&');
      const std::string_view param = params.substr(0, amp);
      const size_t equals = param.find('=');
      const std::string key = Lower(param.substr(0, equals));
      const std::string value =
          equals == std::string_view::npos ? "" : Lower(param.substr(equals + 1));
      if (key != "synchronous") {
        return Bad(location, "unknown parameter \"" + Excerpt(key, 40) +
                                 "\"; a sqlite: location takes only synchronous=full or "
                                 "synchronous=normal");
      }
      if (value == "full") {
        where.sqlite_fsync_each_commit = true;
      } else if (value == "normal") {
        where.sqlite_fsync_each_commit = false;
      } else {
        return Bad(location,
                   "synchronous: expected full or normal, found \"" + Excerpt(value, 40) + "\"");
      }
      if (amp == std::string_view::npos) break;
      params = params.substr(amp + 1);
    }
    return where;
  }
  if (scheme == "postgresql" || scheme == "postgres") {
    if (rest.rfind("//", 0) != 0) return Bad(location, "expected " + scheme + "://...");
    return StoreLocation{StoreLocation::Kind::kPostgres, std::string(location),
                         RedactPassword(location)};
  }
  return Bad(location, "unknown scheme \"" + Excerpt(scheme, 20) + "\"; " + std::string(kExpected));
}

}  // namespace polycloud::store
