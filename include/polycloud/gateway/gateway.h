// Gateway: the OpenAI-compatible front of `polycloud gateway` (docs/gateway.md).
//
// Routes, on the HTTP layer's Router:
//   POST /v1/chat/completions  non-streaming, and streaming ("stream": true)
//                              passed through as Server-Sent Events chunk by chunk
//   POST /v1/completions       the same, for the legacy completions API
//   POST /v1/embeddings        non-streaming
//   GET  /v1/models            the models the deployments serve
//   GET  /v1/requests/{id}     explain one of the caller's recent requests: the
//                              candidates, their verdicts, the attempts
//   GET  /v1/usage             the caller's tokens and spend against its limits
//   GET  /metrics              Prometheus text: requests, tokens, upstream latency,
//                              gateway overhead, rejections, ejections
// Errors are in OpenAI's shape: {"error":{"message","type","param","code"}}.
//
// Each request's key (Authorization: Bearer) names its workload class and
// model family; the RoutingTable (routing.h) orders the deployments the
// contracts allow; the request goes to the first, and on a connection error,
// timeout, 5xx or 429 to the next (never to one a clause forbids). When none
// may serve, the answer is 503 naming the clause. Every answer from a
// deployment carries `x-polycloud-deployment` and `x-polycloud-rule`, and
// every answer `x-request-id`. A key's limits (requests and tokens per minute,
// a budget) are checked before routing: 429 in OpenAI's shape.
//
// Upstream calls are asynchronous (upstream.h): they run on the gateway's own
// I/O threads, and a request waiting on a deployment holds a connection, not
// a thread. The checks before routing run on the server's thread that read
// the request.
//
//   Result<std::unique_ptr<Gateway>> gw = Gateway::Create(config, world, clock, {});
//   auto server = http::Server::Start(options, (*gw)->MakeRouter());
//
// Thread-safety: handlers run concurrently; the Gateway must outlive the
// server that serves its router (stop the server first).
#ifndef POLYCLOUD_GATEWAY_GATEWAY_H_
#define POLYCLOUD_GATEWAY_GATEWAY_H_

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "polycloud/base/clock.h"
#include "polycloud/base/status.h"
#include "polycloud/gateway/config.h"
#include "polycloud/gateway/routing.h"
#include "polycloud/http/client.h"
#include "polycloud/http/router.h"
#include "polycloud/http/server.h"
#include "polycloud/store/store.h"
#include "polycloud/world/world.h"

namespace polycloud::gateway {

// Where measured demand goes: `polycloud serve`'s API. Every `every`, the
// tokens per second each scenario service's keys used over the last minute
// are posted to POST /v1/services/{id}/demand (an operator token).
struct DemandPublishing {
  http::ServerAddress broker;
  std::string token;
  Duration every = Duration::Seconds(10);
};

struct GatewayOptions {
  int threads = 1;                       // I/O threads for the upstream calls
  size_t max_response_bytes = 64 << 20;  // a non-streamed upstream answer
  size_t explain_requests = 10'000;      // recent requests kept for GET /v1/requests/{id}
  // Token accounting is kept here (store.h, UsageRow) when set: read at
  // Create (spend so far counts against budgets), written by a background
  // thread every `flush_every` and at destruction — never on a request's path.
  // Not owned; must outlive the Gateway.
  store::Store* usage_store = nullptr;
  std::chrono::milliseconds flush_every{1000};
  std::optional<DemandPublishing> demand;
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
  // Writes the accounting not yet written to the usage store (tests; the
  // background thread does it every flush_every). Errors: the store's.
  Status FlushUsage();
  // Posts the measured demand now (tests; the background thread does it every
  // demand.every). Errors: the broker's answer or the connection's.
  Status PublishDemand();

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
