// Request and Response: what a route handler of the HTTP server
// (polycloud/http/server.h) receives and returns, plus the Server-Sent Events
// stream a handler may open instead of answering at once.
//
//   Response GetJob(const Request& request) {
//     std::string_view id = request.Param("id");            // from "/v1/jobs/{id}"
//     if (!request.bearer_token) return Response::Error(Unauthorized("a bearer token is
//     required")); return Response::Json(200, {{"id", id}});
//   }
//
//   Response Events(const Request& request) {                // text/event-stream
//     std::optional<std::string_view> since = request.Header("Last-Event-ID");
//     return Response::Stream([since = std::string(since.value_or(""))](
//                                      std::shared_ptr<EventStream> stream) {
//       hub.Subscribe(stream, since);   // replays after `since`, then pushes live events
//     });
//   }
//
// Thread-safety: Request and Response are values. An EventStream may be used
// from any thread.
#ifndef POLYCLOUD_HTTP_MESSAGE_H_
#define POLYCLOUD_HTTP_MESSAGE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/http/api_error.h"

namespace polycloud::http {

// Headers in the order received; lookups ignore case.
class Headers {
 public:
  void Add(std::string name, std::string value);
  // The first value of `name`, or nullopt.
  std::optional<std::string_view> Get(std::string_view name) const;
  const std::vector<Header>& all() const { return all_; }

 private:
  std::vector<Header> all_;
};

// Case-insensitive ASCII comparison (header names, auth schemes).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

using StringMap = std::map<std::string, std::string, std::less<>>;

struct Request {
  std::string method;  // "GET", "POST", ... as sent (methods are case-sensitive)
  std::string target;  // as sent: "/v1/jobs?state=queued"
  std::string path;    // the target before '?', still %-encoded: "/v1/jobs"
  std::string route;   // the pattern that matched: "/v1/jobs/{id}"
  StringMap params;    // "{id}" → the decoded path segment
  StringMap query;     // decoded; each name at most once (else the server answers 400)
  Headers headers;
  std::string body;
  // The token of "Authorization: Bearer <token>" when that header is present
  // and well formed (RFC 6750 token68); nullopt otherwise. Never log it.
  std::optional<std::string> bearer_token;
  std::string remote;  // "127.0.0.1:53412"

  // The path parameter `name` of the route; a check fails if the route's
  // pattern has no such parameter (a programmer error).
  std::string_view Param(std::string_view name) const;
  std::optional<std::string_view> Header(std::string_view name) const { return headers.Get(name); }
};

// One Server-Sent Event. `data` may hold newlines (each line becomes its own
// "data:" line); `id` and `event` must not (they are cut at the first CR, LF
// or NUL so that a stray byte cannot forge another field).
struct SseEvent {
  std::string id;
  std::string event;  // "" is the default type, "message"
  std::string data;
  std::optional<int64_t> retry_ms;  // the client's reconnection delay
};

// The wire form of `event`, ending with the blank line that dispatches it.
std::string FormatSseEvent(const SseEvent& event);

// A stream the application pushes events into. Implemented by the server for
// an open connection; tests of the layer above may implement it with a fake.
class EventStream {
 public:
  virtual ~EventStream() = default;

  // Queues `event` for the client and returns at once. False when the stream
  // is closed: the client went away, the server stopped, Close was called, or
  // the client fell behind by more than the server's sse_max_queued_bytes
  // (then the stream closes, so a slow reader cannot grow memory without
  // bound; the client reconnects with Last-Event-ID).
  virtual bool Send(const SseEvent& event) = 0;
  // A comment line (": text"), ignored by clients; what heartbeats are.
  virtual bool SendComment(std::string_view text) = 0;
  // Ends the stream after what is queued has been written.
  virtual void Close() = 0;
  virtual bool closed() const = 0;
  // `callback` runs once when the stream closes for any reason (at once if it
  // already has), on a server thread: where the application unsubscribes.
  virtual void OnClose(std::function<void()> callback) = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<Header> headers;  // besides Content-Type and Content-Length
  // Set by Stream(): the server answers 200 text/event-stream and
  // calls this with the open stream (on a server thread).
  std::function<void(std::shared_ptr<EventStream>)> on_stream_open;

  static Response Json(int status, const nlohmann::json& body);
  // `json` is already serialised.
  static Response JsonText(int status, std::string json);
  static Response Text(int status, std::string text,
                       std::string content_type = "text/plain; charset=utf-8");
  static Response Error(const ApiError& error);
  static Response NoContent();
  static Response Stream(std::function<void(std::shared_ptr<EventStream>)> on_open);
};

}  // namespace polycloud::http

#endif  // POLYCLOUD_HTTP_MESSAGE_H_
