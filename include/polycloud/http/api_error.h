// ApiError: the one shape of every error the HTTP API returns.
//
//   HTTP/1.1 400 Bad Request
//   Content-Type: application/json
//
//   {"error":{"code":"wrong_type","message":"expected an integer, found \"4\"","pointer":"/gpus"}}
//
// `code` is stable (clients branch on it; docs/api.md lists them), `message`
// is for people and may change, `pointer` is the RFC 6901 JSON pointer of the
// offending field of the request body and is present only when the error is
// about one. ApiResult<T> is a value or an ApiError, for parsers that must keep
// the pointer (a Status has none).
//
//   ApiResult<Submit> parsed = ParseSubmit(request);
//   if (!parsed.ok()) return Response::Error(parsed.error());
//
// HttpStatusFor is where a polycloud StatusCode becomes an HTTP status (as
// ExitCodeFor is for exit codes). Thread-safety: value types.
#ifndef POLYCLOUD_HTTP_API_ERROR_H_
#define POLYCLOUD_HTTP_API_ERROR_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "polycloud/base/status.h"

namespace polycloud::http {

// One header of a request or response, as sent (names compare
// case-insensitively where looked up).
struct Header {
  std::string name;
  std::string value;
};

// Stable error codes of the layer. Applications add their own (snake_case).
namespace code {
inline constexpr std::string_view kBadRequest = "bad_request";      // not HTTP/1.1 we can read
inline constexpr std::string_view kInvalidPath = "invalid_path";    // bad %-escape in the path
inline constexpr std::string_view kInvalidQuery = "invalid_query";  // bad, repeated or unknown
inline constexpr std::string_view kInvalidJson = "invalid_json";    // body is not one JSON value
inline constexpr std::string_view kDuplicateKey = "duplicate_key";  // an object repeats a key
inline constexpr std::string_view kTooDeep = "too_deep";            // nesting beyond the limit
inline constexpr std::string_view kMissingField = "missing_field";
inline constexpr std::string_view kUnknownField = "unknown_field";
inline constexpr std::string_view kWrongType = "wrong_type";
inline constexpr std::string_view kOutOfRange = "out_of_range";     // a number outside its bounds
inline constexpr std::string_view kInvalidValue = "invalid_value";  // not one of, too long, ...
inline constexpr std::string_view kUnsupportedMediaType = "unsupported_media_type";
inline constexpr std::string_view kBodyTooLarge = "body_too_large";
inline constexpr std::string_view kHeadersTooLarge = "headers_too_large";
inline constexpr std::string_view kRequestTimeout = "request_timeout";
inline constexpr std::string_view kUnauthorized = "unauthorized";
inline constexpr std::string_view kForbidden = "forbidden";
inline constexpr std::string_view kNotFound = "not_found";
inline constexpr std::string_view kMethodNotAllowed = "method_not_allowed";
inline constexpr std::string_view kConflict = "conflict";
inline constexpr std::string_view kUnavailable = "unavailable";
inline constexpr std::string_view kInternal = "internal";
}  // namespace code

struct ApiError {
  int status = 400;  // the HTTP status
  std::string code;
  std::string message;
  std::optional<std::string> pointer;  // RFC 6901; "" is the whole body
  std::vector<Header> headers;         // sent with it (Allow, WWW-Authenticate, ...)

  // {"error":{"code":...,"message":...[,"pointer":...]}}; never throws (bad
  // UTF-8 in a message is replaced).
  std::string ToJson() const;
  // "code: message (at /pointer)" for logs and the CLI.
  std::string ToString() const;
};

// Builders for the common cases.
ApiError BadRequest(std::string_view code, std::string message,
                    std::optional<std::string> pointer = std::nullopt);
ApiError NotFoundError(std::string message);
// 405 with "Allow: GET, POST".
ApiError MethodNotAllowed(std::string_view method, const std::vector<std::string>& allowed);
// 401 with "WWW-Authenticate: Bearer" (RFC 6750).
ApiError Unauthorized(std::string message);
ApiError Forbidden(std::string message);
ApiError Conflict(std::string_view code, std::string message);
ApiError InternalError(std::string message);

// The HTTP status of each StatusCode, in one place: invalid argument/input
// 400, not found 404, failed precondition 409, i/o error 503, internal 500.
int HttpStatusFor(StatusCode code);
// An ApiError for a Status from a lower layer: HttpStatusFor, and the code
// named after the StatusCode ("invalid_argument", "not_found", ...).
ApiError FromStatus(const Status& status);

// Escapes one reference token for a JSON pointer: "~" → "~0", "/" → "~1".
std::string EscapePointerToken(std::string_view token);
// The JSON pointer of `key` under `parent` ("/jobs" + "a/b" → "/jobs/a~1b").
std::string ChildPointer(std::string_view parent, std::string_view key);

// A value, or the ApiError saying why there is none (like Result<T>).
template <typename T>
class [[nodiscard]] ApiResult {
 public:
  ApiResult(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  ApiResult(ApiError error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  const ApiError& error() const {
    POLYCLOUD_CHECK(!ok());
    return std::get<1>(v_);
  }
  const T& value() const& {
    POLYCLOUD_CHECK(ok());
    return std::get<0>(v_);
  }
  T& value() & {
    POLYCLOUD_CHECK(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    POLYCLOUD_CHECK(ok());
    return std::get<0>(std::move(v_));
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  std::variant<T, ApiError> v_;
};

}  // namespace polycloud::http

#endif  // POLYCLOUD_HTTP_API_ERROR_H_
