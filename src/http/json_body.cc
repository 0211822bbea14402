#include "polycloud/http/json_body.h"

#include <limits>
#include <utility>
#include <vector>

#include "polycloud/base/text.h"

namespace polycloud::http {

using nlohmann::json;

namespace {

// Thrown from the parser callback to stop parsing at a strictness error;
// caught in ParseJson, never crosses it.
struct StrictnessError {
  std::string_view code;
  std::string pointer;
  std::string message;
};

// Tracks where the parser is, so that a duplicate key or a too deep value can
// be named by its JSON pointer.
class StrictChecker {
 public:
  explicit StrictChecker(int max_depth) : max_depth_(max_depth) {}

  bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        Open(event == json::parse_event_t::array_start);
        break;
      case json::parse_event_t::key:
        Key(parsed.get_ref<const std::string&>());
        break;
      case json::parse_event_t::value:
        if (!frames_.empty() && frames_.back().is_array) ++frames_.back().next_index;
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames_.pop_back();
        break;
    }
    return true;
  }

 private:
  struct Frame {
    bool is_array = false;
    size_t next_index = 0;
    std::string pointer;
    std::string key;  // the last key read (objects)
    std::set<std::string, std::less<>> keys;
  };

  // The pointer of the value that starts now.
  std::string CurrentPointer() {
    if (frames_.empty()) return "";
    Frame& top = frames_.back();
    if (top.is_array) return top.pointer + "/" + std::to_string(top.next_index++);
    return ChildPointer(top.pointer, top.key);
  }

  void Open(bool is_array) {
    std::string pointer = CurrentPointer();
    if (static_cast<int>(frames_.size()) >= max_depth_) {
      throw StrictnessError{
          code::kTooDeep, pointer,
          "arrays and objects are nested more than " + std::to_string(max_depth_) + " deep"};
    }
    frames_.push_back(Frame{is_array, 0, std::move(pointer), {}, {}});
  }

  void Key(const std::string& key) {
    Frame& top = frames_.back();
    if (!top.keys.insert(key).second) {
      throw StrictnessError{code::kDuplicateKey, ChildPointer(top.pointer, key),
                            "the key " + QuoteExcerpt(key) + " appears twice in one object"};
    }
    top.key = key;
  }

  int max_depth_;
  std::vector<Frame> frames_;
};

// nlohmann's message without its "[json.exception...] parse error at line L,
// column C: " prefix (the position is given our way).
std::string ParserReason(const std::string& what) {
  size_t at = what.find("column ");
  at = at == std::string::npos ? std::string::npos : what.find(": ", at);
  std::string reason = at == std::string::npos ? what : what.substr(at + 2);
  return Excerpt(reason, 200);
}

std::string ExpectedFound(std::string_view expected, const json& found) {
  return "expected " + std::string(expected) + ", found " + DescribeJson(found);
}

std::string OneOf(std::initializer_list<std::string_view> allowed) {
  std::string out = "one of ";
  bool first = true;
  for (std::string_view a : allowed) {
    out += (first ? "\"" : ", \"") + std::string(a) + "\"";
    first = false;
  }
  return out;
}

// The media type of a Content-Type value, lower-cased, and whether its
// parameters are acceptable for JSON (none, or charset=utf-8).
bool IsJsonContentType(std::string_view value) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  size_t semi = value.find(';');
  if (!EqualsIgnoreCase(trim(value.substr(0, semi)), "application/json")) return false;
  while (semi != std::string_view::npos) {
    value = value.substr(semi + 1);
    semi = value.find(';');
    std::string_view param = trim(value.substr(0, semi));
    if (param.empty()) continue;
    const size_t eq = param.find('=');
    if (eq == std::string_view::npos || !EqualsIgnoreCase(trim(param.substr(0, eq)), "charset"))
      return false;
    std::string_view charset = trim(param.substr(eq + 1));
    if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"')
      charset = charset.substr(1, charset.size() - 2);
    if (!EqualsIgnoreCase(charset, "utf-8")) return false;
  }
  return true;
}

}  // namespace

ApiResult<json> ParseJson(std::string_view text, const JsonLimits& limits) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return BadRequest(code::kInvalidJson, "the body is empty; expected one JSON value",
                      std::string());
  }
  StrictChecker checker(limits.max_depth);
  try {
    return json::parse(text.begin(), text.end(), std::ref(checker));
  } catch (const StrictnessError& e) {
    return BadRequest(e.code, e.message, e.pointer);
  } catch (const json::parse_error& e) {
    // e.byte is 1-based: the byte at which the parser gave up.
    const size_t offset = e.byte == 0 ? 0 : std::min<size_t>(e.byte - 1, text.size());
    const TextPosition at = PositionOf(text, offset);
    return BadRequest(code::kInvalidJson,
                      "line " + std::to_string(at.line) + ", column " + std::to_string(at.column) +
                          ": " + ParserReason(e.what()),
                      std::string());
  } catch (const json::exception& e) {  // a number too large for a double
    return BadRequest(code::kInvalidJson, ParserReason(e.what()), std::string());
  }
}

ApiResult<json> ReadJsonBody(const Request& request, const JsonLimits& limits) {
  std::optional<std::string_view> type = request.Header("Content-Type");
  if (!type || !IsJsonContentType(*type)) {
    return ApiError{415,
                    std::string(code::kUnsupportedMediaType),
                    "expected Content-Type: application/json, found " +
                        (type ? QuoteExcerpt(*type) : std::string("none")),
                    std::nullopt,
                    {}};
  }
  return ParseJson(request.body, limits);
}

std::string DescribeJson(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return value.empty() ? "an empty array"
                           : "an array of " + std::to_string(value.size()) +
                                 (value.size() == 1 ? " item" : " items");
    case json::value_t::string:
      return QuoteExcerpt(value.get_ref<const std::string&>(), 40);
    default:
      return value.dump(-1, ' ', false, json::error_handler_t::replace);
  }
}

// ---- JsonReader ----

void JsonReader::Fail(std::string_view code, std::string pointer, std::string message) {
  if (error_) return;
  error_ = BadRequest(code, std::move(message), std::move(pointer));
}

void JsonReader::WrongType(const std::string& pointer, std::string_view expected,
                           const json& found) {
  Fail(code::kWrongType, pointer, ExpectedFound(expected, found));
}

JsonObject JsonReader::Root() {
  const bool is_object = document_.is_object();
  objects_.push_back(ObjectState{is_object ? &document_ : nullptr, "", {}});
  if (!is_object) WrongType("", "an object", document_);
  return JsonObject(this, objects_.size() - 1);
}

std::optional<ApiError> JsonReader::Finish() {
  if (error_) return error_;
  for (const ObjectState& o : objects_) {
    if (o.value == nullptr) continue;
    for (auto it = o.value->begin(); it != o.value->end(); ++it) {
      if (o.known.count(it.key()) != 0) continue;
      std::string known;
      for (const std::string& k : o.known) known += (known.empty() ? "" : ", ") + k;
      Fail(code::kUnknownField, ChildPointer(o.pointer, it.key()),
           "unknown field " + QuoteExcerpt(it.key()) +
               (known.empty() ? std::string(" (this object takes no fields)")
                              : " (expected one of: " + known + ")"));
      return error_;
    }
  }
  return std::nullopt;
}

std::optional<std::string> JsonReader::ReadString(const json& value, const std::string& pointer,
                                                  const StringRule& rule) {
  if (!value.is_string()) return WrongType(pointer, "a string", value), std::nullopt;
  const std::string& s = value.get_ref<const std::string&>();
  if (s.empty() && !rule.allow_empty) {
    return Fail(code::kInvalidValue, pointer, "expected a non-empty string, found \"\""),
           std::nullopt;
  }
  if (s.size() > rule.max_bytes) {
    Fail(code::kInvalidValue, pointer,
         "expected a string of at most " + std::to_string(rule.max_bytes) +
             " bytes, found one of " + std::to_string(s.size()) + " bytes");
    return std::nullopt;
  }
  return s;
}

std::optional<int64_t> JsonReader::ReadInt(const json& value, const std::string& pointer,
                                           int64_t min, int64_t max) {
  const std::string range = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (!value.is_number_integer()) {
    // 1.5, and integers too large for 64 bits, which nlohmann reads as doubles.
    const bool number = value.is_number();
    Fail(number ? code::kOutOfRange : code::kWrongType, pointer, ExpectedFound(range, value));
    return std::nullopt;
  }
  if (value.is_number_unsigned() &&
      value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Fail(code::kOutOfRange, pointer, ExpectedFound(range, value)), std::nullopt;
  }
  const int64_t x = value.get<int64_t>();
  if (x < min || x > max)
    return Fail(code::kOutOfRange, pointer, ExpectedFound(range, value)), std::nullopt;
  return x;
}

std::optional<bool> JsonReader::ReadBool(const json& value, const std::string& pointer) {
  if (!value.is_boolean()) return WrongType(pointer, "true or false", value), std::nullopt;
  return value.get<bool>();
}

std::optional<std::string> JsonReader::ReadEnum(const json& value, const std::string& pointer,
                                                std::initializer_list<std::string_view> allowed) {
  if (!value.is_string()) return WrongType(pointer, OneOf(allowed), value), std::nullopt;
  const std::string& s = value.get_ref<const std::string&>();
  for (std::string_view a : allowed) {
    if (s == a) return s;
  }
  return Fail(code::kInvalidValue, pointer, ExpectedFound(OneOf(allowed), value)), std::nullopt;
}

std::optional<JsonObject> JsonReader::ReadObject(const json& value, std::string pointer) {
  if (!value.is_object()) return WrongType(pointer, "an object", value), std::nullopt;
  objects_.push_back(ObjectState{&value, std::move(pointer), {}});
  return JsonObject(this, objects_.size() - 1);
}

std::optional<JsonArray> JsonReader::ReadArray(const json& value, std::string pointer,
                                               size_t max_items) {
  if (!value.is_array()) return WrongType(pointer, "an array", value), std::nullopt;
  if (value.size() > max_items) {
    Fail(code::kInvalidValue, pointer,
         "expected at most " + std::to_string(max_items) + " items, found " +
             std::to_string(value.size()));
    return std::nullopt;
  }
  return JsonArray(this, &value, std::move(pointer));
}

// ---- JsonObject ----

const std::string& JsonObject::pointer() const { return reader_->objects_[index_].pointer; }

void JsonObject::Allow(std::string_view key) { reader_->objects_[index_].known.emplace(key); }

bool JsonObject::Has(std::string_view key) const {
  const json* v = reader_->objects_[index_].value;
  return v != nullptr && v->contains(std::string(key));
}

const json* JsonObject::Raw(std::string_view key, Need need) {
  JsonReader::ObjectState& state = reader_->objects_[index_];
  state.known.emplace(key);
  if (!reader_->ok() || state.value == nullptr) return nullptr;
  auto it = state.value->find(std::string(key));
  if (it == state.value->end() || (it->is_null() && need == Need::kOptional)) {
    if (need == Need::kRequired && it == state.value->end()) {
      reader_->Fail(code::kMissingField, ChildPointer(state.pointer, key),
                    "missing required field " + QuoteExcerpt(key));
    }
    return nullptr;
  }
  return &*it;
}

void JsonObject::Fail(std::string_view key, std::string message, std::string_view code) {
  reader_->Fail(code, ChildPointer(pointer(), key), std::move(message));
}

std::optional<std::string> JsonObject::String(std::string_view key, Need need, StringRule rule) {
  const json* v = Raw(key, need);
  if (v == nullptr) return std::nullopt;
  return reader_->ReadString(*v, ChildPointer(pointer(), key), rule);
}

std::optional<int64_t> JsonObject::Int(std::string_view key, int64_t min, int64_t max, Need need) {
  const json* v = Raw(key, need);
  if (v == nullptr) return std::nullopt;
  return reader_->ReadInt(*v, ChildPointer(pointer(), key), min, max);
}

std::optional<bool> JsonObject::Bool(std::string_view key, Need need) {
  const json* v = Raw(key, need);
  if (v == nullptr) return std::nullopt;
  return reader_->ReadBool(*v, ChildPointer(pointer(), key));
}

std::optional<std::string> JsonObject::Enum(std::string_view key,
                                            std::initializer_list<std::string_view> allowed,
                                            Need need) {
  const json* v = Raw(key, need);
  if (v == nullptr) return std::nullopt;
  return reader_->ReadEnum(*v, ChildPointer(pointer(), key), allowed);
}

std::optional<JsonObject> JsonObject::Object(std::string_view key, Need need) {
  const json* v = Raw(key, need);
  if (v == nullptr) return std::nullopt;
  return reader_->ReadObject(*v, ChildPointer(pointer(), key));
}

std::optional<JsonArray> JsonObject::Array(std::string_view key, Need need, size_t max_items) {
  const json* v = Raw(key, need);
  if (v == nullptr) return std::nullopt;
  return reader_->ReadArray(*v, ChildPointer(pointer(), key), max_items);
}

// ---- JsonArray ----

const json& JsonArray::Raw(size_t i) const {
  POLYCLOUD_CHECK(i < value_->size());
  return (*value_)[i];
}

std::optional<std::string> JsonArray::String(size_t i, StringRule rule) {
  if (!reader_->ok()) return std::nullopt;
  return reader_->ReadString(Raw(i), ItemPointer(i), rule);
}

std::optional<int64_t> JsonArray::Int(size_t i, int64_t min, int64_t max) {
  if (!reader_->ok()) return std::nullopt;
  return reader_->ReadInt(Raw(i), ItemPointer(i), min, max);
}

std::optional<bool> JsonArray::Bool(size_t i) {
  if (!reader_->ok()) return std::nullopt;
  return reader_->ReadBool(Raw(i), ItemPointer(i));
}

std::optional<std::string> JsonArray::Enum(size_t i,
                                           std::initializer_list<std::string_view> allowed) {
  if (!reader_->ok()) return std::nullopt;
  return reader_->ReadEnum(Raw(i), ItemPointer(i), allowed);
}

std::optional<JsonObject> JsonArray::Object(size_t i) {
  if (!reader_->ok()) return std::nullopt;
  return reader_->ReadObject(Raw(i), ItemPointer(i));
}

std::optional<JsonArray> JsonArray::Array(size_t i, size_t max_items) {
  if (!reader_->ok()) return std::nullopt;
  return reader_->ReadArray(Raw(i), ItemPointer(i), max_items);
}

void JsonArray::Fail(size_t i, std::string message, std::string_view code) {
  reader_->Fail(code, ItemPointer(i), std::move(message));
}

}  // namespace polycloud::http
