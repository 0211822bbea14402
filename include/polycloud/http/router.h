// Router: method + path pattern → handler.
//
// A pattern is a path of '/'-separated segments, each a literal ("jobs") or
// a parameter ("{id}") that matches one non-empty segment; the request's
// segments are %-decoded before they are compared, so "/v1/jobs/a%2Fb"
// matches "/v1/jobs/{id}" with id "a/b". When several patterns match a path,
// the one with a literal earliest wins ("/v1/jobs/count" over
// "/v1/jobs/{id}"). A path that matches no pattern is 404; one that matches
// patterns but none with the request's method is 405 with an Allow header.
//
//   Router router;
//   router.Add("GET", "/v1/jobs/{id}", [&](const Request& r) { return GetJob(r); });
//   router.AddAsync("POST", "/v1/jobs", [&](Request r, Reply reply) {
//     committer.Enqueue(std::move(r), std::move(reply));   // replies after group commit
//   });
//
// A sync handler runs on a server thread and blocks it until it returns; an
// async handler returns at once and answers later, from any thread, through
// its Reply. Handlers may be called concurrently. Thread-safety: build the
// router, then hand it to the server; Match is const and thread-safe.
#ifndef POLYCLOUD_HTTP_ROUTER_H_
#define POLYCLOUD_HTTP_ROUTER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/http/api_error.h"
#include "polycloud/http/message.h"

namespace polycloud::http {

// Answers one request, once, from any thread. Calls after the first, and
// calls after the connection closed (the client left, the server stopped),
// are dropped. A Reply destroyed without being called answers 500, so a lost
// request never hangs its client.
class Reply {
 public:
  using Sink = std::function<void(Response)>;
  Reply() = default;
  explicit Reply(Sink sink);
  void operator()(Response response) const;
  explicit operator bool() const { return state_ != nullptr; }

 private:
  struct State;
  std::shared_ptr<State> state_;
};

using Handler = std::function<Response(const Request&)>;
using AsyncHandler = std::function<void(Request, Reply)>;

struct Route {
  std::string method;
  std::string pattern;
  size_t index = 0;  // position in routes(): the metrics slot
  AsyncHandler handler;
};

struct RouteMatch {
  const Route* route = nullptr;  // nullptr: not matched, `error` says why
  StringMap params;
  std::optional<ApiError> error;  // 404, 405 (with Allow) or 400 invalid_path
};

class Router {
 public:
  // Adds a route. A check fails on a malformed pattern (not starting with
  // '/', an empty segment, a bad or repeated "{name}") or a (method, pattern)
  // added twice: routes are code, not input.
  Router& Add(std::string_view method, std::string_view pattern, Handler handler);
  Router& AddAsync(std::string_view method, std::string_view pattern, AsyncHandler handler);

  // The route for `method` and `path` (the request target's path, still
  // %-encoded).
  RouteMatch Match(std::string_view method, std::string_view path) const;
  const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }

 private:
  struct Segment {
    std::string text;  // a literal, or the parameter's name
    bool is_param = false;
  };
  struct Pattern {
    std::string text;
    std::vector<Segment> segments;
    std::vector<const Route*> routes;  // one per method
  };
  std::vector<std::unique_ptr<Route>> routes_;
  std::vector<Pattern> patterns_;
};

}  // namespace polycloud::http

#endif  // POLYCLOUD_HTTP_ROUTER_H_
