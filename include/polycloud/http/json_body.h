// Strict reading of JSON request bodies, on top of nlohmann-json.
//
// ParseJson accepts exactly one JSON value (RFC 8259, UTF-8) and refuses
// what nlohmann would let through silently: an object that repeats a key
// (nlohmann keeps the last), nesting deeper than a limit, an empty body. Its
// errors carry the line and column.
//
// A JsonReader then walks the value the way the endpoint expects it: every
// accessor names a field, checks its type (and range, length, allowed values),
// and records the first problem as an ApiError with the JSON pointer of the
// field and "expected ..., found ...". Every key of every object the reader
// opened must have been asked for: Finish reports the others as unknown
// fields. Accessors return nullopt once anything failed, so an endpoint parser
// is straight-line code and is never half-applied:
//
//   ApiResult<SubmitRequest> ParseSubmit(const Request& request) {
//     ApiResult<nlohmann::json> doc = ReadJsonBody(request);
//     if (!doc.ok()) return doc.error();
//     JsonReader reader(*doc);
//     JsonObject root = reader.Root();
//     SubmitRequest s;
//     s.name = root.String("name").value_or("");
//     s.gpus = root.Int("gpus", 1, 100'000).value_or(0);
//     s.priority = root.Int("priority", 0, 1000, Need::kOptional).value_or(0);
//     if (auto accelerators = root.Array("accelerators", Need::kOptional))
//       for (size_t i = 0; i < accelerators->size(); ++i)
//         s.accelerators.push_back(accelerators->String(i).value_or(""));
//     if (std::optional<ApiError> error = reader.Finish()) return *error;
//     return s;
//   }
//
// Thread-safety: a JsonReader and its handles belong to one thread.
#ifndef POLYCLOUD_HTTP_JSON_BODY_H_
#define POLYCLOUD_HTTP_JSON_BODY_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "polycloud/http/api_error.h"
#include "polycloud/http/message.h"

namespace polycloud::http {

struct JsonLimits {
  int max_depth = 32;  // arrays and objects inside each other
};

// Parses `text` as one JSON value. Errors (status 400, pointer ""):
// invalid_json "line 3, column 7: ..." for bad syntax, bad UTF-8 or an empty
// text; duplicate_key with the pointer of the second occurrence; too_deep with
// the pointer where the limit was crossed.
ApiResult<nlohmann::json> ParseJson(std::string_view text, const JsonLimits& limits = {});

// ParseJson of a request's body, after checking its Content-Type is
// application/json (a charset parameter other than utf-8 is refused):
// unsupported_media_type (415) otherwise.
ApiResult<nlohmann::json> ReadJsonBody(const Request& request, const JsonLimits& limits = {});

// A short description of a JSON value for "found ..." in messages:
// `"abc"`, `1.5`, `null`, `an object`, `an array of 3 items`.
std::string DescribeJson(const nlohmann::json& value);

enum class Need { kRequired, kOptional };

struct StringRule {
  size_t max_bytes = 4096;
  bool allow_empty = false;
};

class JsonReader;
class JsonArray;

// A handle on one object of the document being read; copyable, valid while
// its JsonReader lives.
class JsonObject {
 public:
  // Each accessor marks `key` as known. nullopt when the key is absent
  // (an error if kRequired), has a value of the wrong kind, or any error
  // was recorded before. `null` counts as absent for kOptional keys.
  std::optional<std::string> String(std::string_view key, Need need = Need::kRequired,
                                    StringRule rule = {});
  std::optional<int64_t> Int(std::string_view key, int64_t min, int64_t max,
                             Need need = Need::kRequired);
  std::optional<bool> Bool(std::string_view key, Need need = Need::kRequired);
  // A string that must be one of `allowed`.
  std::optional<std::string> Enum(std::string_view key,
                                  std::initializer_list<std::string_view> allowed,
                                  Need need = Need::kRequired);
  std::optional<JsonObject> Object(std::string_view key, Need need = Need::kRequired);
  std::optional<JsonArray> Array(std::string_view key, Need need = Need::kRequired,
                                 size_t max_items = 10'000);
  // Any value, unchecked (the caller validates it, e.g. with Fail).
  const nlohmann::json* Raw(std::string_view key, Need need = Need::kRequired);
  // Marks `key` as known without reading it.
  void Allow(std::string_view key);
  bool Has(std::string_view key) const;

  // Records a domain error at `key` of this object (invalid_value unless
  // `code` is given), e.g. "a gang larger than any fabric".
  void Fail(std::string_view key, std::string message, std::string_view code = code::kInvalidValue);
  const std::string& pointer() const;

 private:
  friend class JsonReader;
  friend class JsonArray;
  JsonObject(JsonReader* reader, size_t index) : reader_(reader), index_(index) {}
  JsonReader* reader_;
  size_t index_;  // into JsonReader::objects_
};

// A handle on one array; items are addressed by index.
class JsonArray {
 public:
  size_t size() const { return value_->size(); }
  std::optional<std::string> String(size_t i, StringRule rule = {});
  std::optional<int64_t> Int(size_t i, int64_t min, int64_t max);
  std::optional<bool> Bool(size_t i);
  std::optional<std::string> Enum(size_t i, std::initializer_list<std::string_view> allowed);
  std::optional<JsonObject> Object(size_t i);
  std::optional<JsonArray> Array(size_t i, size_t max_items = 10'000);
  // Item `i` unchecked; a check fails unless i < size().
  const nlohmann::json& Raw(size_t i) const;
  void Fail(size_t i, std::string message, std::string_view code = code::kInvalidValue);
  const std::string& pointer() const { return pointer_; }

 private:
  friend class JsonReader;
  friend class JsonObject;
  JsonArray(JsonReader* reader, const nlohmann::json* value, std::string pointer)
      : reader_(reader), value_(value), pointer_(std::move(pointer)) {}
  std::string ItemPointer(size_t i) const { return pointer_ + "/" + std::to_string(i); }
  JsonReader* reader_;
  const nlohmann::json* value_;
  std::string pointer_;
};

class JsonReader {
 public:
  // `document` must outlive the reader.
  explicit JsonReader(const nlohmann::json& document) : document_(document) {}
  JsonReader(const JsonReader&) = delete;
  JsonReader& operator=(const JsonReader&) = delete;

  // The document as an object (an error, and a handle that reads nothing,
  // when it is not one).
  JsonObject Root();
  // The first error: one recorded by an accessor, or else the first key of an
  // opened object that no accessor asked for (unknown_field, with the keys
  // that are known in the message). nullopt when the document was read
  // cleanly.
  std::optional<ApiError> Finish();
  bool ok() const { return !error_.has_value(); }

  // Records an error (only the first is kept).
  void Fail(std::string_view code, std::string pointer, std::string message);

 private:
  friend class JsonObject;
  friend class JsonArray;
  struct ObjectState {
    const nlohmann::json* value;  // nullptr: not an object (an error was recorded)
    std::string pointer;
    std::set<std::string, std::less<>> known;
  };
  // Shared by both handles: checks `value` (at `pointer`) is of the kind.
  std::optional<std::string> ReadString(const nlohmann::json& value, const std::string& pointer,
                                        const StringRule& rule);
  std::optional<int64_t> ReadInt(const nlohmann::json& value, const std::string& pointer,
                                 int64_t min, int64_t max);
  std::optional<bool> ReadBool(const nlohmann::json& value, const std::string& pointer);
  std::optional<std::string> ReadEnum(const nlohmann::json& value, const std::string& pointer,
                                      std::initializer_list<std::string_view> allowed);
  std::optional<JsonObject> ReadObject(const nlohmann::json& value, std::string pointer);
  std::optional<JsonArray> ReadArray(const nlohmann::json& value, std::string pointer,
                                     size_t max_items);
  void WrongType(const std::string& pointer, std::string_view expected,
                 const nlohmann::json& found);

  const nlohmann::json& document_;
  std::deque<ObjectState> objects_;  // stable addresses; handles hold indices
  std::optional<ApiError> error_;
};

}  // namespace polycloud::http

#endif  // POLYCLOUD_HTTP_JSON_BODY_H_
