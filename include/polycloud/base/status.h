// Status and Result<T>: how every layer of polycloud reports failure.
//
// A Status is a code plus a human message; Result<T> holds either a value or a
// non-OK Status (an API modelled on absl::StatusOr). Exceptions never cross a
// layer boundary: adapters around throwing libraries (yaml-cpp, nlohmann-json)
// catch and convert. An expected domain outcome (a job that cannot be placed) is
// not an error: it is a Decision with reasons.
//
// Each StatusCode maps to exactly one process exit code (ExitCodeFor), listed in
// docs/cli.md. Thread-safety: value types, safe to copy between threads.
//
//   Result<World> world = LoadScenarioFile(path);
//   if (!world.ok()) { std::cerr << world.status().message(); return ExitCodeFor(world.status()); }
#ifndef POLYCLOUD_BASE_STATUS_H_
#define POLYCLOUD_BASE_STATUS_H_

#include <cassert>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <utility>

namespace polycloud {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // a bad command line or API argument
  kInvalidInput,     // an input file (scenario, trace, catalog) failed validation
  kNotFound,         // a named thing (workload, file) does not exist
  kIoError,          // a file could not be read or written
  kFailedPrecondition,
  kInternal,
};

// Process exit codes, one per StatusCode (documented in docs/cli.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInvalidInput = 3;
inline constexpr int kExitIoError = 4;
inline constexpr int kExitNotFound = 5;

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status InvalidInput(std::string m) { return {StatusCode::kInvalidInput, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

int ExitCodeFor(StatusCode code);
inline int ExitCodeFor(const Status& s) { return ExitCodeFor(s.code()); }

// Result<T>: a value or the Status saying why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.ok()) status_ = Internal("Result constructed from an OK status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  const T& value() const& {
    Check();
    return *value_;
  }
  T& value() & {
    Check();
    return *value_;
  }
  T&& value() && {
    Check();
    return std::move(*value_);
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  void Check() const {
    if (!value_) {
      std::cerr << "Result::value() on error: " << status_.ToString() << "\n";
      std::abort();
    }
  }
  std::optional<T> value_;
  Status status_;
};

}  // namespace polycloud

#define POLYCLOUD_CONCAT_INNER_(a, b) a##b
#define POLYCLOUD_CONCAT_(a, b) POLYCLOUD_CONCAT_INNER_(a, b)

#define POLYCLOUD_RETURN_IF_ERROR(expr)   \
  do {                                    \
    ::polycloud::Status status_ = (expr); \
    if (!status_.ok()) return status_;    \
  } while (0)

// `lhs` may be a declaration ("auto x"), so it cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define POLYCLOUD_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                     \
  if (!tmp.ok()) return tmp.status();                    \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)

#define POLYCLOUD_ASSIGN_OR_RETURN(lhs, expr) \
  POLYCLOUD_ASSIGN_OR_RETURN_IMPL_(POLYCLOUD_CONCAT_(result_, __LINE__), lhs, expr)

// A programmer error: crash loudly with the condition and location.
#define POLYCLOUD_CHECK(cond)                                                    \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::cerr << __FILE__ << ":" << __LINE__ << ": check failed: " #cond "\n"; \
      std::abort();                                                              \
    }                                                                            \
  } while (0)

#endif  // POLYCLOUD_BASE_STATUS_H_
