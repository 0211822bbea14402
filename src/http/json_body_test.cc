#include "polycloud/http/json_body.h"

#include <gtest/gtest.h>

namespace polycloud::http {
namespace {

using nlohmann::json;

json Parse(std::string_view text) {
  ApiResult<json> r = ParseJson(text);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().ToString());
  return r.ok() ? *r : json();
}

ApiError ParseError(std::string_view text, JsonLimits limits = {}) {
  ApiResult<json> r = ParseJson(text, limits);
  EXPECT_FALSE(r.ok());
  return r.ok() ? ApiError{} : r.error();
}

TEST(ParseJsonTest, GivesLineAndColumnOfASyntaxError) {
  ApiError e = ParseError("{\n  \"name\": \"a\",\n  \"gpus\": tru\n}");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.code, "invalid_json");
  EXPECT_EQ(e.pointer, "");
  EXPECT_EQ(e.message.rfind("line 3, column ", 0), 0u) << e.message;
  EXPECT_NE(e.message.find("invalid literal"), std::string::npos) << e.message;
}

TEST(ParseJsonTest, RefusesAnEmptyBody) {
  EXPECT_EQ(ParseError("").code, "invalid_json");
  EXPECT_EQ(ParseError(" \n").message, "the body is empty; expected one JSON value");
}

TEST(ParseJsonTest, RefusesTrailingGarbageAndBadUtf8) {
  EXPECT_EQ(ParseError("{} {}").code, "invalid_json");
  EXPECT_EQ(ParseError("\"\xff\"").code, "invalid_json");
}

TEST(ParseJsonTest, RefusesADuplicateKeyWithItsPointer) {
  ApiError e = ParseError(R"({"jobs":[{"id":"a"},{"id":"b","id":"c"}]})");
  EXPECT_EQ(e.code, "duplicate_key");
  EXPECT_EQ(e.pointer, "/jobs/1/id");
  EXPECT_EQ(e.message, "the key \"id\" appears twice in one object");
}

TEST(ParseJsonTest, EscapesKeysInPointers) {
  ApiError e = ParseError(R"({"a/b":{"c~d":1,"c~d":2}})");
  EXPECT_EQ(e.pointer, "/a~1b/c~0d");
}

TEST(ParseJsonTest, RefusesNestingBeyondTheLimit) {
  EXPECT_TRUE(ParseJson("[[[1]]]", {.max_depth = 3}).ok());
  ApiError e = ParseError("[[[[1]]]]", {.max_depth = 3});
  EXPECT_EQ(e.code, "too_deep");
  EXPECT_EQ(e.pointer, "/0/0/0");
  // Deep enough to overflow a recursive parser's stack: refused, not a crash.
  EXPECT_EQ(ParseError(std::string(100'000, '[')).code, "too_deep");
}

TEST(ParseJsonTest, RefusesANumberTooLargeForADouble) {
  EXPECT_EQ(ParseError("[1e400]").code, "invalid_json");
}

struct Submit {
  std::string name;
  int64_t gpus = 0;
  int64_t priority = 0;
  std::vector<std::string> accelerators;
  std::optional<int64_t> max_hours;
};

ApiResult<Submit> ReadSubmit(std::string_view text) {
  ApiResult<json> doc = ParseJson(text);
  if (!doc.ok()) return doc.error();
  JsonReader reader(*doc);
  JsonObject root = reader.Root();
  Submit s;
  s.name = root.String("name").value_or("");
  s.gpus = root.Int("gpus", 1, 100'000).value_or(0);
  s.priority = root.Int("priority", 0, 1000, Need::kOptional).value_or(0);
  if (auto a = root.Array("accelerators", Need::kOptional, 4)) {
    for (size_t i = 0; i < a->size(); ++i) s.accelerators.push_back(a->String(i).value_or(""));
  }
  if (auto limits = root.Object("limits", Need::kOptional)) {
    s.max_hours = limits->Int("max_hours", 1, 1000, Need::kOptional);
  }
  if (std::optional<ApiError> e = reader.Finish()) return *e;
  return s;
}

ApiError SubmitError(std::string_view text) {
  ApiResult<Submit> r = ReadSubmit(text);
  EXPECT_FALSE(r.ok());
  return r.ok() ? ApiError{} : r.error();
}

TEST(JsonReaderTest, ReadsAValidBody) {
  ApiResult<Submit> r = ReadSubmit(
      R"({"name":"train-7","gpus":64,"accelerators":["H100","B200"],"limits":{"max_hours":12}})");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->name, "train-7");
  EXPECT_EQ(r->gpus, 64);
  EXPECT_EQ(r->priority, 0);
  EXPECT_EQ(r->accelerators, (std::vector<std::string>{"H100", "B200"}));
  EXPECT_EQ(r->max_hours, 12);
}

TEST(JsonReaderTest, NullIsAbsentForAnOptionalField) {
  ApiResult<Submit> r = ReadSubmit(R"({"name":"a","gpus":1,"priority":null})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->priority, 0);
  EXPECT_EQ(SubmitError(R"({"name":null,"gpus":1})").code, "wrong_type");
}

TEST(JsonReaderTest, NamesAMissingField) {
  ApiError e = SubmitError(R"({"name":"a"})");
  EXPECT_EQ(e.code, "missing_field");
  EXPECT_EQ(e.pointer, "/gpus");
  EXPECT_EQ(e.message, "missing required field \"gpus\"");
}

TEST(JsonReaderTest, SaysExpectedAndFoundForAWrongType) {
  ApiError e = SubmitError(R"({"name":"a","gpus":"64"})");
  EXPECT_EQ(e.code, "wrong_type");
  EXPECT_EQ(e.pointer, "/gpus");
  EXPECT_EQ(e.message, "expected an integer from 1 to 100000, found \"64\"");
  EXPECT_EQ(SubmitError(R"({"name":7,"gpus":1})").message, "expected a string, found 7");
  EXPECT_EQ(SubmitError(R"([1,2])").message, "expected an object, found an array of 2 items");
  EXPECT_EQ(SubmitError(R"({"name":"a","gpus":1,"limits":[]})").message,
            "expected an object, found an empty array");
}

TEST(JsonReaderTest, RefusesNumbersOutOfRangeAndFractions) {
  ApiError e = SubmitError(R"({"name":"a","gpus":0})");
  EXPECT_EQ(e.code, "out_of_range");
  EXPECT_EQ(e.message, "expected an integer from 1 to 100000, found 0");
  EXPECT_EQ(SubmitError(R"({"name":"a","gpus":1.5})").code, "out_of_range");
  EXPECT_EQ(SubmitError(R"({"name":"a","gpus":18446744073709551615})").code, "out_of_range");
  EXPECT_EQ(SubmitError(R"({"name":"a","gpus":1e300})").code, "out_of_range");
}

TEST(JsonReaderTest, PointsIntoArraysAndNestedObjects) {
  EXPECT_EQ(SubmitError(R"({"name":"a","gpus":1,"accelerators":["H100",5]})").pointer,
            "/accelerators/1");
  EXPECT_EQ(SubmitError(R"({"name":"a","gpus":1,"accelerators":["a","b","c","d","e"]})").message,
            "expected at most 4 items, found 5");
  EXPECT_EQ(SubmitError(R"({"name":"a","gpus":1,"limits":{"max_hours":0}})").pointer,
            "/limits/max_hours");
}

TEST(JsonReaderTest, UnknownFieldsAreErrorsAtAnyDepth) {
  ApiError e = SubmitError(R"({"name":"a","gpus":1,"gpu":2})");
  EXPECT_EQ(e.code, "unknown_field");
  EXPECT_EQ(e.pointer, "/gpu");
  EXPECT_EQ(e.message,
            "unknown field \"gpu\" (expected one of: accelerators, gpus, limits, name, priority)");
  ApiError nested = SubmitError(R"({"name":"a","gpus":1,"limits":{"max_hour":3}})");
  EXPECT_EQ(nested.pointer, "/limits/max_hour");
  EXPECT_EQ(nested.message, "unknown field \"max_hour\" (expected one of: max_hours)");
}

TEST(JsonReaderTest, KeepsTheFirstErrorOnly) {
  ApiError e = SubmitError(R"({"name":5,"gpus":"x","zzz":1})");
  EXPECT_EQ(e.pointer, "/name");
}

TEST(JsonReaderTest, StringRulesAndEnums) {
  json doc = Parse(R"({"a":"","b":"abcdef","c":"fifo","d":"lifo","e":3})");
  {
    JsonReader r(doc);
    r.Root().String("a");
    EXPECT_EQ(r.Finish()->message, "expected a non-empty string, found \"\"");
  }
  {
    JsonReader r(doc);
    JsonObject o = r.Root();
    EXPECT_EQ(o.String("a", Need::kRequired, {.allow_empty = true}), "");
    EXPECT_FALSE(o.String("b", Need::kRequired, {.max_bytes = 3}).has_value());
    EXPECT_EQ(r.Finish()->message, "expected a string of at most 3 bytes, found one of 6 bytes");
  }
  {
    JsonReader r(doc);
    JsonObject o = r.Root();
    EXPECT_EQ(o.Enum("c", {"fifo", "sjf"}), "fifo");
    EXPECT_FALSE(o.Enum("d", {"fifo", "sjf"}).has_value());
    ApiError e = *r.Finish();
    EXPECT_EQ(e.code, "invalid_value");
    EXPECT_EQ(e.message, "expected one of \"fifo\", \"sjf\", found \"lifo\"");
  }
}

TEST(JsonReaderTest, DomainErrorsCarryThePointer) {
  json doc = Parse(R"({"gpus":7,"extra":{}})");
  JsonReader r(doc);
  JsonObject o = r.Root();
  o.Allow("extra");
  if (o.Int("gpus", 1, 100).value_or(0) % 8 != 0) o.Fail("gpus", "must be a multiple of 8");
  ApiError e = *r.Finish();
  EXPECT_EQ(e.code, "invalid_value");
  EXPECT_EQ(e.pointer, "/gpus");
  EXPECT_EQ(
      e.ToJson(),
      R"({"error":{"code":"invalid_value","message":"must be a multiple of 8","pointer":"/gpus"}})");
}

TEST(ReadJsonBodyTest, RequiresTheJsonContentType) {
  Request request;
  request.body = "{}";
  ApiResult<json> none = ReadJsonBody(request);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().status, 415);
  EXPECT_EQ(none.error().message, "expected Content-Type: application/json, found none");
  request.headers.Add("content-type", "text/plain");
  EXPECT_EQ(ReadJsonBody(request).error().code, "unsupported_media_type");

  for (const char* ok : {"application/json", "Application/JSON; charset=UTF-8",
                         "application/json;charset=\"utf-8\""}) {
    Request r;
    r.body = "{}";
    r.headers.Add("Content-Type", ok);
    EXPECT_TRUE(ReadJsonBody(r).ok()) << ok;
  }
  Request latin;
  latin.body = "{}";
  latin.headers.Add("Content-Type", "application/json; charset=latin1");
  EXPECT_FALSE(ReadJsonBody(latin).ok());
}

TEST(ApiErrorTest, OneShapeEverywhere) {
  EXPECT_EQ(NotFoundError("no job \"x\"").ToJson(),
            R"({"error":{"code":"not_found","message":"no job \"x\""}})");
  ApiError e = MethodNotAllowed("PUT", {"GET", "POST"});
  EXPECT_EQ(e.status, 405);
  ASSERT_EQ(e.headers.size(), 1u);
  EXPECT_EQ(e.headers[0].name, "Allow");
  EXPECT_EQ(e.headers[0].value, "GET, POST");
  EXPECT_EQ(Unauthorized("no token").headers[0].value, "Bearer");
  // A message with bytes that are not UTF-8 still serialises.
  EXPECT_NO_THROW(BadRequest("x", "bad \xff byte").ToJson());
}

TEST(ApiErrorTest, MapsStatusCodesToHttpInOnePlace) {
  EXPECT_EQ(FromStatus(NotFound("job j1")).status, 404);
  EXPECT_EQ(FromStatus(NotFound("job j1")).code, "not_found");
  EXPECT_EQ(FromStatus(InvalidArgument("x")).code, "invalid_argument");
  EXPECT_EQ(FromStatus(FailedPrecondition("x")).status, 409);
  EXPECT_EQ(FromStatus(IoError("disk")).status, 503);
  EXPECT_EQ(FromStatus(IoError("disk")).code, "unavailable");
  EXPECT_EQ(FromStatus(Internal("x")).status, 500);
}

}  // namespace
}  // namespace polycloud::http
