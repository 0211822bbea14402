// Client: a small synchronous HTTP/1.1 client (Boost.Beast) for the CLI's
// subcommands and for tests: JSON requests with a bearer token and a timeout
// over one kept-alive connection, and Server-Sent Events streams.
//
//   Result<ServerAddress> at = ParseServerUrl("http://127.0.0.1:8080");
//   Client client({.address = *at, .bearer_token = getenv("POLYCLOUD_TOKEN")});
//   Result<ClientResponse> r = client.Post("/v1/jobs", {{"name", "train-7"}, {"gpus", 64}});
//   if (!r.ok()) ...                       // could not connect, timed out, bad HTTP
//   if (r->status >= 400) std::cerr << r->Error()->ToString();
//
//   Result<std::unique_ptr<EventStreamReader>> events = client.OpenEventStream("/v1/events");
//   while (auto e = (*events)->Next(std::chrono::seconds(30))) { if (!e.ok() || !**e) break; ... }
//
// An HTTP error status is a response, not a failed Result. A request on a
// kept-alive connection that the server had closed is retried once on a new
// connection when nothing of it can have been processed (the write failed,
// or the method is idempotent). Thread-safety: one Client per thread.
#ifndef POLYCLOUD_HTTP_CLIENT_H_
#define POLYCLOUD_HTTP_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/http/api_error.h"
#include "polycloud/http/message.h"

namespace polycloud::http {

struct ServerAddress {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
};

// "http://host:port" (a trailing '/' allowed; port 80 when omitted; IPv6 in
// brackets). Errors: InvalidArgument saying what is wrong (https is not
// supported, a path, a bad port).
Result<ServerAddress> ParseServerUrl(std::string_view url);

struct ClientOptions {
  ServerAddress address;
  std::string bearer_token;                   // sent as "Authorization: Bearer ..." when not empty
  std::chrono::milliseconds timeout{10'000};  // per request: connect, write, read
  size_t max_response_bytes = 64 << 20;
};

struct ClientRequest {
  std::string method = "GET";
  std::string target = "/";
  std::string body;
  std::string content_type;  // set with the body
  std::vector<Header> headers;
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;

  std::optional<std::string_view> Header(std::string_view name) const { return headers.Get(name); }
  // The body as JSON. Errors: InvalidInput when it is not.
  Result<nlohmann::json> Json() const;
  // The error a 4xx/5xx response carries in the ApiError shape; for a body
  // that is not one, an ApiError with code "http_<status>" and the body's
  // start as message. nullopt for other statuses.
  std::optional<ApiError> Error() const;
};

class EventStreamReader;

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Result<ClientResponse> Get(std::string_view target);
  Result<ClientResponse> Post(std::string_view target, const nlohmann::json& body);
  Result<ClientResponse> Delete(std::string_view target);
  // Errors: IoError "cannot connect to 127.0.0.1:8080: Connection refused",
  // "... timed out after 10000 ms", or a malformed response.
  Result<ClientResponse> Send(const ClientRequest& request);

  // Opens a Server-Sent Events stream on its own connection. A non-200
  // answer is an error carrying the server's message.
  Result<std::unique_ptr<EventStreamReader>> OpenEventStream(
      std::string_view target, const std::optional<std::string>& last_event_id = std::nullopt);

  // TCP connections this client has opened for requests (keep-alive makes
  // it 1 for many); event streams are not counted.
  int connections_opened() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Reads one event stream. Comments (": ping") are counted and skipped.
class EventStreamReader {
 public:
  virtual ~EventStreamReader() = default;
  // The next event; nullopt when the server ended the stream. Errors:
  // IoError on a timeout (the stream stays usable) or a broken connection.
  virtual Result<std::optional<SseEvent>> Next(std::chrono::milliseconds timeout) = 0;
  virtual int comments_seen() const = 0;
  virtual const Headers& headers() const = 0;
};

// Splits an event-stream text into events (the rules of the HTML standard's
// "event stream interpretation", minus reconnection). Kept apart so that it
// can be tested and fuzzed without a socket.
class SseParser {
 public:
  // Feeds bytes; complete events are appended to `out`.
  void Feed(std::string_view bytes, std::vector<SseEvent>* out);
  int comments_seen() const { return comments_; }

 private:
  void Line(std::string_view line, std::vector<SseEvent>* out);
  std::string pending_;  // an unfinished line
  SseEvent event_;
  bool has_data_ = false;
  bool skip_lf_ = false;  // the last chunk ended in CR
  int comments_ = 0;
};

}  // namespace polycloud::http

#endif  // POLYCLOUD_HTTP_CLIENT_H_
