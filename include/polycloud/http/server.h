// Server: HTTP/1.1 on Boost.Beast/Asio, serving a Router.
//
// It listens on host:port (port 0: an ephemeral port, reported by port()),
// runs an io_context on a configurable number of threads, keeps connections
// alive between requests, and protects itself from clients: a request body
// over the limit is answered 413, headers over the limit 431, a client that
// starts a request and does not finish it in time 408 (then the connection
// closes), a connection idle between requests is closed, a client that stops
// reading its responses is cut off. Every error is the JSON of ApiError.
// Requests are counted and timed per route (Stats, for /metrics).
//
// A handler may answer with Response::Stream to open a Server-Sent Events
// stream: the server sends the headers, calls the handler's callback with the
// EventStream, and from then on writes what the application Sends, plus a
// heartbeat comment every sse_heartbeat; the stream ends when the client
// goes, the application closes it, or the server stops.
//
//   Router router;
//   router.Add("GET", "/healthz", [](const Request&) { return Response::Json(200, {{"ok", true}});
//   }); Result<std::unique_ptr<Server>> server = Server::Start({.port = 0, .threads = 4},
//   std::move(router)); std::cout << "listening on " << (*server)->port() << "\n";
//   ...
//   (*server)->Stop();   // graceful: in-flight requests are answered first
//
// Thread-safety: all methods may be called from any thread, except Stop
// (and the destructor) from a handler.
#ifndef POLYCLOUD_HTTP_SERVER_H_
#define POLYCLOUD_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/http/metrics.h"
#include "polycloud/http/router.h"

namespace polycloud::http {

using std::chrono::milliseconds;

struct ServerOptions {
  std::string host = "127.0.0.1";  // an IPv4 or IPv6 address ("0.0.0.0", "::1")
  uint16_t port = 8080;            // 0: pick a free port
  int threads = 2;                 // io threads; sync handlers run on them
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16 << 10;
  size_t max_connections = 10'000;  // more are closed at once
  // A request must arrive whole within these, from its first byte: headers
  // within header_timeout, then its body within body_timeout; else 408.
  milliseconds header_timeout{10'000};
  milliseconds body_timeout{30'000};
  milliseconds idle_timeout{60'000};   // between requests on a kept-alive connection
  milliseconds write_timeout{30'000};  // a response (or an SSE write) must drain by then
  milliseconds sse_heartbeat{15'000};
  size_t sse_max_queued_bytes = 1 << 20;  // a stream further behind is closed
  // Stop waits this long for requests in flight before closing their
  // connections.
  milliseconds stop_grace{5'000};
};

class Server {
 public:
  // Binds, listens and starts the threads. Errors: InvalidArgument for a bad
  // host or option, IoError when the address cannot be bound ("127.0.0.1:8080:
  // Address already in use").
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options, Router router);
  ~Server();  // Stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const;
  // "127.0.0.1:43121", for messages and clients.
  std::string address() const;

  // Graceful stop: accepts no more connections, closes idle ones and open
  // event streams, lets requests being handled finish and their responses
  // be written (with "Connection: close") for up to stop_grace, then closes
  // what remains, waits for running handlers to return and joins the threads.
  // Later Replies are dropped. Idempotent.
  void Stop();

  // Requests so far, one entry per route (in the router's order) and one for
  // requests that matched no route (route "").
  std::vector<RouteStats> Stats() const;
  // Connections open now (for tests and a gauge).
  size_t open_connections() const;

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace polycloud::http

#endif  // POLYCLOUD_HTTP_SERVER_H_
