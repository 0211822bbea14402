#include "polycloud/http/router.h"

#include <gtest/gtest.h>

namespace polycloud::http {
namespace {

Response Named(std::string name) { return Response::Json(200, {{"handler", std::move(name)}}); }

Router MakeRouter() {
  Router r;
  r.Add("GET", "/v1/jobs", [](const Request&) { return Named("list"); });
  r.Add("POST", "/v1/jobs", [](const Request&) { return Named("submit"); });
  r.Add("GET", "/v1/jobs/{id}", [](const Request&) { return Named("get"); });
  r.Add("DELETE", "/v1/jobs/{id}", [](const Request&) { return Named("cancel"); });
  r.Add("GET", "/v1/jobs/{id}/explain", [](const Request&) { return Named("explain"); });
  r.Add("GET", "/v1/jobs/count", [](const Request&) { return Named("count"); });
  r.Add("GET", "/", [](const Request&) { return Named("root"); });
  return r;
}

std::string HandlerOf(const Router& router, std::string_view method, std::string_view path) {
  RouteMatch m = router.Match(method, path);
  if (m.route == nullptr) return "error " + std::to_string(m.error->status);
  return m.route->pattern;
}

TEST(RouterTest, MatchesLiteralsAndParameters) {
  Router r = MakeRouter();
  EXPECT_EQ(HandlerOf(r, "GET", "/v1/jobs"), "/v1/jobs");
  EXPECT_EQ(HandlerOf(r, "POST", "/v1/jobs"), "/v1/jobs");
  EXPECT_EQ(HandlerOf(r, "GET", "/v1/jobs/j-17"), "/v1/jobs/{id}");
  EXPECT_EQ(HandlerOf(r, "GET", "/v1/jobs/j-17/explain"), "/v1/jobs/{id}/explain");
  EXPECT_EQ(HandlerOf(r, "GET", "/"), "/");
  RouteMatch m = r.Match("GET", "/v1/jobs/j-17/explain");
  EXPECT_EQ(m.params.at("id"), "j-17");
}

TEST(RouterTest, ALiteralWinsOverAParameter) {
  Router r = MakeRouter();
  EXPECT_EQ(HandlerOf(r, "GET", "/v1/jobs/count"), "/v1/jobs/count");
  // DELETE is only on the parameter's pattern, which matches "count" too.
  EXPECT_EQ(HandlerOf(r, "DELETE", "/v1/jobs/count"), "/v1/jobs/{id}");
}

TEST(RouterTest, DecodesParametersSegmentBySegment) {
  Router r = MakeRouter();
  RouteMatch m = r.Match("GET", "/v1/jobs/a%2Fb%20c");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.params.at("id"), "a/b c");
  RouteMatch bad = r.Match("GET", "/v1/jobs/a%2");
  ASSERT_TRUE(bad.error.has_value());
  EXPECT_EQ(bad.error->status, 400);
  EXPECT_EQ(bad.error->code, "invalid_path");
}

TEST(RouterTest, UnknownPathsAre404) {
  Router r = MakeRouter();
  for (const char* path : {"/v1", "/v1/jobs/", "/v1/jobs//explain", "/v2/jobs", "/v1/jobs/a/b/c"}) {
    RouteMatch m = r.Match("GET", path);
    ASSERT_TRUE(m.error.has_value()) << path;
    EXPECT_EQ(m.error->status, 404) << path;
    EXPECT_EQ(m.error->code, "not_found");
  }
  EXPECT_EQ(r.Match("GET", "v1/jobs").error->code, "invalid_path");
}

TEST(RouterTest, WrongMethodIs405WithAllow) {
  Router r = MakeRouter();
  RouteMatch m = r.Match("PUT", "/v1/jobs/j1");
  ASSERT_TRUE(m.error.has_value());
  EXPECT_EQ(m.error->status, 405);
  EXPECT_EQ(m.error->code, "method_not_allowed");
  ASSERT_EQ(m.error->headers.size(), 1u);
  EXPECT_EQ(m.error->headers[0].value, "DELETE, GET");
  // Methods are case-sensitive (RFC 9110).
  EXPECT_EQ(r.Match("get", "/v1/jobs").error->status, 405);
}

TEST(RouterTest, RouteIndicesFollowInsertion) {
  Router r = MakeRouter();
  ASSERT_EQ(r.routes().size(), 7u);
  for (size_t i = 0; i < r.routes().size(); ++i) EXPECT_EQ(r.routes()[i]->index, i);
}

TEST(RouterDeathTest, RefusesMalformedAndDuplicateRoutes) {
  auto noop = [](const Request&) { return Response::NoContent(); };
  EXPECT_DEATH(Router().Add("GET", "v1/jobs", noop), "must start with '/'");
  EXPECT_DEATH(Router().Add("GET", "/v1//jobs", noop), "empty segment");
  EXPECT_DEATH(Router().Add("GET", "/v1/{a}/{a}", noop), "repeats");
  EXPECT_DEATH(Router().Add("GET", "/v1/{}", noop), "parameter");
  EXPECT_DEATH(Router().Add("GET", "/a", noop).Add("GET", "/a", noop), "added twice");
  EXPECT_DEATH(Router().Add("GET", "/a/{x}", noop).Add("POST", "/a/{y}", noop), "same shape");
}

TEST(ReplyTest, AnswersOnceAndAnswers500WhenDropped) {
  std::vector<int> statuses;
  {
    Reply reply([&](Response r) { statuses.push_back(r.status); });
    Reply copy = reply;
    copy(Response::NoContent());
    reply(Response::Json(200, {}));  // dropped: already answered
  }
  {
    Reply forgotten([&](Response r) { statuses.push_back(r.status); });
  }
  EXPECT_EQ(statuses, (std::vector<int>{204, 500}));
}

}  // namespace
}  // namespace polycloud::http
