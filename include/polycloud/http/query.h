// Query strings, strictly: "?state=queued&limit=50".
//
// The server parses every request's query with ParseQueryString before any
// handler runs and answers 400 invalid_query to a malformed one (a bad
// %-escape, an empty name, a name given twice). A handler then reads the
// parameters it knows with a QueryReader, whose Finish makes any other one an
// error, as unknown keys are everywhere else:
//
//   QueryReader q(request);
//   int64_t limit = q.Int("limit", 1, 1000).value_or(100);
//   std::optional<std::string> state = q.Enum("state", {"queued", "running", "done"});
//   if (std::optional<ApiError> error = q.Finish()) return Response::Error(*error);
//
// Thread-safety: values and single-thread readers.
#ifndef POLYCLOUD_HTTP_QUERY_H_
#define POLYCLOUD_HTTP_QUERY_H_

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "polycloud/http/api_error.h"
#include "polycloud/http/message.h"

namespace polycloud::http {

// Decodes %XX escapes (and '+' as a space when `plus_is_space`). nullopt on a
// '%' not followed by two hex digits.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space);
// Encodes every byte outside RFC 3986's unreserved set as %XX.
std::string PercentEncode(std::string_view text);

// "a=1&b=x%20y&flag" → {a: "1", b: "x y", flag: ""}. Empty pieces ("a=1&&b=2",
// a trailing '&') are skipped. Errors: invalid_query (400) naming the piece.
ApiResult<StringMap> ParseQueryString(std::string_view query);

class QueryReader {
 public:
  explicit QueryReader(const Request& request) : query_(request.query) {}
  explicit QueryReader(const StringMap& query) : query_(query) {}

  // nullopt when absent or invalid (the first error is kept for Finish).
  std::optional<std::string> String(std::string_view name, size_t max_bytes = 1024);
  std::optional<int64_t> Int(std::string_view name, int64_t min, int64_t max);
  std::optional<bool> Bool(std::string_view name);  // "true" or "false"
  std::optional<std::string> Enum(std::string_view name,
                                  std::initializer_list<std::string_view> allowed);
  // The first error, or else the first parameter nobody asked for.
  std::optional<ApiError> Finish();

 private:
  const std::string* Lookup(std::string_view name);
  void Fail(std::string_view name, const std::string& expected, const std::string& found);
  const StringMap& query_;
  std::set<std::string, std::less<>> known_;
  std::optional<ApiError> error_;
};

}  // namespace polycloud::http

#endif  // POLYCLOUD_HTTP_QUERY_H_
