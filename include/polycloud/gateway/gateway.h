// Gateway: the OpenAI-compatible front of `polycloud gateway` (docs/gateway.md).
//
// Routes, on the HTTP layer's Router:
//   POST /v1/chat/completions  non-streaming, and streaming ("stream": true)
//                              passed through as Server-Sent Events chunk by chunk
//   GET  /v1/models            the models the deployments serve
//   GET  /metrics              Prometheus text: requests, tokens, upstream latency,
//                              gateway overhead, rejections, ejections
// Errors are in OpenAI's shape: {"error":{"message","type","param","code"}}.
//
// Each request's key (Authorization: Bearer) names its workload class and
// model family; the RoutingTable (routing.h) orders the deployments the
// contracts allow; the request goes to the first, and on a connection error,
// timeout, 5xx or 429 to the next (never to one a clause forbids). When none
// may serve, the answer is 503 naming the clause. Every answer from a
// deployment carries `x-polycloud-deployment` and `x-polycloud-rule`.
//
// Upstream calls block, so they run on the gateway's own worker threads, not
// on the server's I/O threads.
//
//   Result<std::unique_ptr<Gateway>> gw = Gateway::Create(config, world, clock, {});
//   auto server = http::Server::Start(options, (*gw)->MakeRouter());
//
// Thread-safety: handlers run concurrently; the Gateway must outlive the
// server that serves its router (stop the server first).
#ifndef POLYCLOUD_GATEWAY_GATEWAY_H_
#define POLYCLOUD_GATEWAY_GATEWAY_H_

#include <functional>
#include <memory>
#include <string>

#include "polycloud/base/clock.h"
#include "polycloud/base/status.h"
#include "polycloud/gateway/config.h"
#include "polycloud/gateway/routing.h"
#include "polycloud/http/router.h"
#include "polycloud/http/server.h"
#include "polycloud/world/world.h"

namespace polycloud::gateway {

struct GatewayOptions {
  int workers = 64;                      // requests forwarded at once
  size_t max_response_bytes = 64 << 20;  // a non-streamed upstream answer
  // How the upstream keys of api_key_env are read (tests replace it).
  std::function<const char*(const char*)> getenv = [](const char* name) {
    return std::getenv(name);
  };
};

class Gateway {
 public:
  // Errors: InvalidArgument when an api_key_env variable is not set, or a
  // deployment's format is not supported yet (anthropic).
  static Result<std::unique_ptr<Gateway>> Create(GatewayConfig config, const world::World& world,
                                                 const Clock& clock, GatewayOptions options);
  ~Gateway();  // waits for the requests being forwarded
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  http::Router MakeRouter();
  // Adds the server's per-route counts and latencies to /metrics.
  void AttachServer(const http::Server* server);
  const GatewayConfig& config() const;
  RoutingTable& routing();

  class Impl;

 private:
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace polycloud::gateway

#endif  // POLYCLOUD_GATEWAY_GATEWAY_H_
