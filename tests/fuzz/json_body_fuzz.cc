// Fuzz target: the strict JSON body reader (src/http/json_body.h) with an
// endpoint-like schema behind it, and the query-string parser.
//
// Any body must either be read into the schema or be refused with one
// ApiError of the layer's codes, status 400, whose pointer is a JSON pointer
// that names a place of the document (for a missing field: its parent), and
// whose JSON is the one error shape — never crash, hang or throw. Run in the
// regular suite by JsonBodyFuzzTargetTest; under libFuzzer with the fuzz preset:
//   cmake --preset fuzz && cmake --build --preset fuzz --target json_body_fuzz
//   build/fuzz/src/http/json_body_fuzz -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>

#include "polycloud/http/json_body.h"
#include "polycloud/http/query.h"

namespace {

using namespace polycloud;
using namespace polycloud::http;
using nlohmann::json;

// A submission-like schema touching every accessor.
void ReadSchema(JsonReader& reader) {
  JsonObject root = reader.Root();
  root.String("name", Need::kRequired, {.max_bytes = 64});
  root.Int("gpus", 1, 100'000);
  root.Int("priority", -1000, 1000, Need::kOptional);
  root.Bool("preemptible", Need::kOptional);
  root.Enum("class", {"training", "inference", "batch"}, Need::kOptional);
  if (std::optional<JsonArray> accelerators = root.Array("accelerators", Need::kOptional, 16)) {
    for (size_t i = 0; i < accelerators->size(); ++i) accelerators->String(i);
  }
  if (std::optional<JsonObject> limits = root.Object("limits", Need::kOptional)) {
    limits->Int("max_hours", 0, 10'000, Need::kOptional);
    limits->String("note", Need::kOptional, {.max_bytes = 16, .allow_empty = true});
    if (std::optional<JsonArray> tags = limits->Array("tags", Need::kOptional)) {
      for (size_t i = 0; i < tags->size(); ++i) {
        if (std::optional<JsonObject> tag = tags->Object(i)) {
          tag->String("key");
          tag->Raw("value", Need::kOptional);
        }
      }
    }
  }
  if (root.Has("legacy")) root.Fail("legacy", "no longer accepted");
}

bool IsLayerCode(const std::string& c) {
  static const std::set<std::string, std::less<>> kCodes = {
      std::string(code::kInvalidJson),  std::string(code::kDuplicateKey),
      std::string(code::kTooDeep),      std::string(code::kMissingField),
      std::string(code::kUnknownField), std::string(code::kWrongType),
      std::string(code::kOutOfRange),   std::string(code::kInvalidValue)};
  return kCodes.count(c) != 0;
}

// The error is the one shape, and says where.
void CheckError(const ApiError& e, const json* document) {
  POLYCLOUD_CHECK(e.status == 400);
  POLYCLOUD_CHECK(IsLayerCode(e.code));
  POLYCLOUD_CHECK(!e.message.empty());
  POLYCLOUD_CHECK(e.pointer.has_value());
  const std::string& p = *e.pointer;
  POLYCLOUD_CHECK(p.empty() || p[0] == '/');
  json::json_pointer pointer(p);  // throws on a malformed pointer: a crash here
  if (document != nullptr) {
    const json::json_pointer place =
        e.code == code::kMissingField ? pointer.parent_pointer() : pointer;
    POLYCLOUD_CHECK(document->contains(place));
  }
  const json shape = json::parse(e.ToJson());
  POLYCLOUD_CHECK(shape.size() == 1 && shape.contains("error"));
  POLYCLOUD_CHECK(shape["error"]["code"] == e.code);
  POLYCLOUD_CHECK(shape["error"]["pointer"] == p);
}

}  // namespace

extern "C" int PolycloudFuzzJsonBody(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ApiResult<json> doc = ParseJson(text, {.max_depth = 16});
  if (!doc.ok()) {
    CheckError(doc.error(), nullptr);
  } else {
    JsonReader reader(*doc);
    ReadSchema(reader);
    std::optional<ApiError> error = reader.Finish();
    if (error) CheckError(*error, &*doc);
    // Finish is stable: asking again gives the same answer.
    std::optional<ApiError> again = reader.Finish();
    POLYCLOUD_CHECK(again.has_value() == error.has_value());
  }
  // The same bytes as a query string: parsed or refused with invalid_query.
  ApiResult<StringMap> query = ParseQueryString(text);
  if (!query.ok()) {
    POLYCLOUD_CHECK(query.error().code == code::kInvalidQuery && query.error().status == 400);
  } else {
    for (const auto& [name, value] : *query) POLYCLOUD_CHECK(!name.empty());
  }
  return 0;
}

#ifdef POLYCLOUD_LIBFUZZER_MAIN
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return PolycloudFuzzJsonBody(data, size);
}
#endif
