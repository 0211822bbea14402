#include "polycloud/http/api_error.h"

#include <nlohmann/json.hpp>

namespace polycloud::http {

using nlohmann::json;

std::string ApiError::ToJson() const {
  json inner{{"code", code}, {"message", message}};
  if (pointer) inner["pointer"] = *pointer;
  // Messages quote input excerpts; a byte that is not UTF-8 must not make
  // the error itself fail to serialise.
  return json{{"error", std::move(inner)}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string ApiError::ToString() const {
  std::string out = code + ": " + message;
  if (pointer) out += " (at " + (pointer->empty() ? std::string("the body") : *pointer) + ")";
  return out;
}

ApiError BadRequest(std::string_view code, std::string message,
                    std::optional<std::string> pointer) {
  return ApiError{400, std::string(code), std::move(message), std::move(pointer), {}};
}

ApiError NotFoundError(std::string message) {
  return ApiError{404, std::string(code::kNotFound), std::move(message), std::nullopt, {}};
}

ApiError MethodNotAllowed(std::string_view method, const std::vector<std::string>& allowed) {
  std::string allow;
  for (const std::string& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
  ApiError e{405,
             std::string(code::kMethodNotAllowed),
             "method " + std::string(method) + " is not allowed here; allowed: " + allow,
             std::nullopt,
             {}};
  e.headers.push_back({"Allow", allow});
  return e;
}

ApiError Unauthorized(std::string message) {
  ApiError e{401, std::string(code::kUnauthorized), std::move(message), std::nullopt, {}};
  e.headers.push_back({"WWW-Authenticate", "Bearer"});
  return e;
}

ApiError Forbidden(std::string message) {
  return ApiError{403, std::string(code::kForbidden), std::move(message), std::nullopt, {}};
}

ApiError Conflict(std::string_view code, std::string message) {
  return ApiError{409, std::string(code), std::move(message), std::nullopt, {}};
}

ApiError InternalError(std::string message) {
  return ApiError{500, std::string(code::kInternal), std::move(message), std::nullopt, {}};
}

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
    case StatusCode::kInvalidInput:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kIoError:  // the store or a site could not be reached: retry later
      return 503;
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

ApiError FromStatus(const Status& status) {
  std::string name = StatusCodeName(status.code());
  for (char& c : name) {
    if (c == ' ' || c == '/') c = '_';
  }
  if (status.code() == StatusCode::kIoError) name = std::string(code::kUnavailable);
  if (status.code() == StatusCode::kInternal) name = std::string(code::kInternal);
  return ApiError{
      HttpStatusFor(status.code()), std::move(name), status.message(), std::nullopt, {}};
}

std::string EscapePointerToken(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string ChildPointer(std::string_view parent, std::string_view key) {
  std::string out(parent);
  out += '/';
  out += EscapePointerToken(key);
  return out;
}

}  // namespace polycloud::http
