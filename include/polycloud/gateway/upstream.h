// UpstreamCall: one blocking HTTP/1.1 request to a model deployment, whose
// response body can be read whole or piece by piece as it arrives — so that
// a streamed answer is passed on chunk by chunk, and so that the status is
// known (to fail over) before anything is sent to the client.
//
//   Result<std::unique_ptr<UpstreamCall>> call = UpstreamCall::Start(request);
//   if (!call.ok()) ...                        // connection refused, timed out
//   if ((*call)->status() == 200)
//     while (auto piece = (*call)->ReadSome()) { if (!piece.ok() || !*piece) break; ... }
//
// Thread-safety: one call is used by one thread at a time.
#ifndef POLYCLOUD_GATEWAY_UPSTREAM_H_
#define POLYCLOUD_GATEWAY_UPSTREAM_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/http/message.h"

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

class UpstreamCall {
 public:
  // Connects, sends the request and reads the response's status and headers.
  // Errors: IoError "127.0.0.1:9001: Connection refused", "... timed out".
  static Result<std::unique_ptr<UpstreamCall>> Start(const UpstreamRequest& request);
  virtual ~UpstreamCall() = default;

  virtual int status() const = 0;
  virtual const http::Headers& headers() const = 0;
  // The next piece of the body as it arrives; nullopt at its end. Errors:
  // IoError when the connection breaks or times out mid-body.
  virtual Result<std::optional<std::string>> ReadSome() = 0;
  // The rest of the body, at most `max_bytes`. Errors: as ReadSome, and
  // IoError when it is larger.
  virtual Result<std::string> ReadAll(size_t max_bytes) = 0;
};

}  // namespace polycloud::gateway

#endif  // POLYCLOUD_GATEWAY_UPSTREAM_H_
