#include "polycloud/http/router.h"

#include <algorithm>
#include <atomic>
#include <iostream>
#include <set>

#include "polycloud/base/text.h"
#include "polycloud/http/query.h"

namespace polycloud::http {

// ---- Reply ----

struct Reply::State {
  Sink sink;
  std::atomic<bool> done{false};
  ~State() {
    // A handler that dropped its Reply must not leave the client waiting.
    if (!done.exchange(true) && sink) {
      sink(Response::Error(InternalError("the request was dropped without an answer")));
    }
  }
};

Reply::Reply(Sink sink) : state_(std::make_shared<State>()) { state_->sink = std::move(sink); }

void Reply::operator()(Response response) const {
  if (state_ == nullptr || state_->done.exchange(true)) return;
  state_->sink(std::move(response));
}

// ---- Router ----

namespace {

bool IsNameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         (!first && c >= '0' && c <= '9');
}

void PatternCheck(bool ok, std::string_view pattern, const char* what) {
  if (ok) return;
  std::cerr << "http::Router: bad route pattern \"" << pattern << "\": " << what << "\n";
  POLYCLOUD_CHECK(ok);
}

}  // namespace

Router& Router::Add(std::string_view method, std::string_view pattern, Handler handler) {
  POLYCLOUD_CHECK(handler != nullptr);
  return AddAsync(method, pattern,
                  [handler = std::move(handler)](const Request& request, const Reply& reply) {
                    reply(handler(request));
                  });
}

Router& Router::AddAsync(std::string_view method, std::string_view pattern, AsyncHandler handler) {
  POLYCLOUD_CHECK(handler != nullptr);
  PatternCheck(!method.empty() && std::all_of(method.begin(), method.end(),
                                              [](char c) { return c >= 'A' && c <= 'Z'; }),
               method, "a method is upper-case letters");
  PatternCheck(!pattern.empty() && pattern[0] == '/', pattern, "it must start with '/'");
  std::vector<Segment> segments;
  std::set<std::string, std::less<>> names;
  if (pattern != "/") {
    std::string_view rest = pattern.substr(1);
    while (true) {
      const size_t slash = rest.find('/');
      std::string_view s = rest.substr(0, slash);
      PatternCheck(!s.empty(), pattern, "empty segment");
      if (s.front() == '{') {
        PatternCheck(s.size() >= 3 && s.back() == '}', pattern, "a parameter is {name}");
        std::string_view name = s.substr(1, s.size() - 2);
        for (size_t i = 0; i < name.size(); ++i)
          PatternCheck(IsNameChar(name[i], i == 0), pattern,
                       "a parameter name is [A-Za-z_][A-Za-z0-9_]*");
        PatternCheck(names.emplace(name).second, pattern, "a parameter name repeats");
        segments.push_back({std::string(name), true});
      } else {
        PatternCheck(s.find_first_of("{}%?#") == std::string_view::npos, pattern,
                     "a literal segment has none of {}%?#");
        segments.push_back({std::string(s), false});
      }
      if (slash == std::string_view::npos) break;
      rest = rest.substr(slash + 1);
    }
  }

  auto same_shape = [&](const Pattern& p) {
    if (p.segments.size() != segments.size()) return false;
    for (size_t i = 0; i < segments.size(); ++i) {
      if (p.segments[i].is_param != segments[i].is_param) return false;
      if (!segments[i].is_param && p.segments[i].text != segments[i].text) return false;
    }
    return true;
  };
  auto it = std::find_if(patterns_.begin(), patterns_.end(), same_shape);
  if (it == patterns_.end()) {
    patterns_.push_back(Pattern{std::string(pattern), std::move(segments), {}});
    it = patterns_.end() - 1;
  }
  PatternCheck(it->text == pattern, pattern,
               "the same shape as another pattern with other parameter names");
  for (const Route* r : it->routes) PatternCheck(r->method != method, pattern, "added twice");

  auto route = std::make_unique<Route>();
  route->method = std::string(method);
  route->pattern = std::string(pattern);
  route->index = routes_.size();
  route->handler = std::move(handler);
  it->routes.push_back(route.get());
  routes_.push_back(std::move(route));
  return *this;
}

RouteMatch Router::Match(std::string_view method, std::string_view path) const {
  RouteMatch out;
  if (path.empty() || path[0] != '/') {
    out.error = BadRequest(code::kInvalidPath,
                           "the request path must start with '/', found " + QuoteExcerpt(path));
    return out;
  }
  std::vector<std::string> segments;
  if (path != "/") {
    std::string_view rest = path.substr(1);
    while (true) {
      const size_t slash = rest.find('/');
      std::optional<std::string> s = PercentDecode(rest.substr(0, slash), false);
      if (!s) {
        out.error = BadRequest(code::kInvalidPath, "the request path " + QuoteExcerpt(path) +
                                                       " has a '%' not followed by two hex digits");
        return out;
      }
      segments.push_back(std::move(*s));
      if (slash == std::string_view::npos) break;
      rest = rest.substr(slash + 1);
    }
  }

  auto matches = [&](const Pattern& p) {
    if (p.segments.size() != segments.size()) return false;
    for (size_t i = 0; i < segments.size(); ++i) {
      if (segments[i].empty()) return false;
      if (!p.segments[i].is_param && p.segments[i].text != segments[i]) return false;
    }
    return true;
  };
  // True when `a` should win over `b`: a literal at the first place they differ.
  auto precedes = [](const Pattern& a, const Pattern& b) {
    for (size_t i = 0; i < a.segments.size(); ++i) {
      if (a.segments[i].is_param != b.segments[i].is_param) return !a.segments[i].is_param;
    }
    return false;
  };

  const Pattern* best = nullptr;
  const Route* best_route = nullptr;
  std::set<std::string> allowed;
  for (const Pattern& p : patterns_) {
    if (!matches(p)) continue;
    for (const Route* r : p.routes) {
      allowed.insert(r->method);
      if (r->method == method && (best == nullptr || precedes(p, *best))) {
        best = &p;
        best_route = r;
      }
    }
  }
  if (best_route == nullptr) {
    if (allowed.empty()) {
      out.error = NotFoundError("no such resource: " + QuoteExcerpt(path, 200));
    } else {
      out.error =
          MethodNotAllowed(method, std::vector<std::string>(allowed.begin(), allowed.end()));
    }
    return out;
  }
  out.route = best_route;
  for (size_t i = 0; i < segments.size(); ++i) {
    if (best->segments[i].is_param)
      out.params.emplace(best->segments[i].text, std::move(segments[i]));
  }
  return out;
}

}  // namespace polycloud::http
