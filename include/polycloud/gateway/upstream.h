// UpstreamClient: HTTP/1.1 requests to model deployments, asynchronous, on an
// Asio io_context, over kept-alive pooled connections — so that a request in
// flight holds a socket and a few buffers, not a thread. A response's status
// and headers arrive first (so a 429 or 5xx can fail over before anything is
// sent to the client); its body is then read whole or piece by piece as it
// arrives, so that a streamed answer is passed on chunk by chunk.
//
//   UpstreamClient client(ioc);                      // ioc run by the caller's threads
//   client.Start(request, [](Status opened, std::shared_ptr<UpstreamClient::Call> call) {
//     if (!opened.ok()) ...                          // refused, timed out, no HTTP answer
//     call->ReadAll(1 << 20, [call](Result<std::string> body) { ... });
//   });
//
// Callbacks run on a thread of the io_context, one at a time per call; a
// call's next read may be started from its callback or from any thread once
// the previous callback ran. A call dropped before its body was read whole
// closes its connection; one read whole goes back to the pool.
#ifndef POLYCLOUD_GATEWAY_UPSTREAM_H_
#define POLYCLOUD_GATEWAY_UPSTREAM_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/http/message.h"

namespace boost::asio {
class io_context;
}

namespace polycloud::gateway {

struct UpstreamRequest {
  std::string host;
  uint16_t port = 80;
  std::string method = "POST";
  std::string target;  // "/v1/chat/completions"
  std::string body;
  std::vector<http::Header> headers;  // besides Host, Content-Type (JSON) and Content-Length
  // Connect, send and receive the headers within this; then each ReadSome
  // and ReadAll within it again.
  std::chrono::milliseconds timeout{60'000};
};

class UpstreamClient {
 public:
  class Call {
   public:
    virtual ~Call() = default;
    // Valid once the open callback said Ok.
    virtual int status() const = 0;
    virtual const http::Headers& headers() const = 0;
    // The next piece of the body as it arrives; nullopt at its end. Errors:
    // IoError when the connection breaks or times out mid-body.
    virtual void ReadSome(std::function<void(Result<std::optional<std::string>>)> done) = 0;
    // The rest of the body, at most `max_bytes`. Errors: as ReadSome, and
    // IoError when it is larger.
    virtual void ReadAll(size_t max_bytes, std::function<void(Result<std::string>)> done) = 0;
    // Closes the connection (a pending read ends with an error). Any thread.
    virtual void Cancel() = 0;
  };

  // Calls run on `ioc`, which must outlive the client and be run by the
  // caller's threads.
  explicit UpstreamClient(boost::asio::io_context& ioc);
  ~UpstreamClient();
  UpstreamClient(const UpstreamClient&) = delete;
  UpstreamClient& operator=(const UpstreamClient&) = delete;

  // Connects (or takes a pooled connection), sends `request` and reads the
  // answer's status and headers; then `opened` runs once, with Ok and the
  // call to read the body from, or the error: IoError "cannot connect to
  // 127.0.0.1:9001: Connection refused", "... timed out after 500 ms". A
  // pooled connection the upstream closed meanwhile is replaced without an
  // error.
  using Opened = std::function<void(Status, std::shared_ptr<Call>)>;
  void Start(UpstreamRequest request, Opened opened);

  // Kept-alive connections idle in the pool now (tests).
  size_t idle_connections() const;

  class Pool;

 private:
  boost::asio::io_context& ioc_;
  std::shared_ptr<Pool> pool_;
};

}  // namespace polycloud::gateway

#endif  // POLYCLOUD_GATEWAY_UPSTREAM_H_
