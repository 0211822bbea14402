// The HTTP/JSON API of `polycloud serve` (docs/api.md), on src/http: the
// routes, bearer-token authentication against the store's hashed tokens,
// role checks, the audit trail, /metrics and the OpenAPI document.
//
//   Api api(&broker, store.get(), &clock);
//   auto server = http::Server::Start(options, api.MakeRouter());
//   api.AttachServer(server->get());   // per-route figures for /metrics
//
// Roles: admin (everything, tokens), operator (fleet, all jobs, demand,
// contracts), tenant (submit, and see and cancel its own tenant's jobs).
// Every mutation is written to the audit table: who (the token's public id,
// never the secret), what, the target and the outcome.
//
// Thread-safety: handlers run concurrently on the server's threads.
#ifndef POLYCLOUD_SERVE_API_H_
#define POLYCLOUD_SERVE_API_H_

#include <atomic>
#include <string>

#include "polycloud/base/clock.h"
#include "polycloud/http/router.h"
#include "polycloud/http/server.h"
#include "polycloud/serve/broker.h"
#include "polycloud/store/store.h"

namespace polycloud::serve {

// Hex SHA-256 of a token's secret: what the store keeps.
std::string HashToken(std::string_view secret);
// A new token: "pc_" + 43 base64url characters from the system's CSPRNG
// (256 bits), and its public id ("tok_" + 12 hex characters).
struct NewToken {
  std::string id;
  std::string secret;
};
NewToken GenerateToken();

// The OpenAPI 3 document of the API (served at /v1/openapi.json).
const nlohmann::json& OpenApiDocument();

class Api {
 public:
  Api(Broker* broker, store::Store* store, const Clock* clock);

  http::Router MakeRouter();
  // The server whose statistics /metrics shows (null: none).
  void AttachServer(const http::Server* server) { server_.store(server); }
  // Readiness: false until the broker started (and while it holds no lease).
  void SetReady(bool ready) { ready_.store(ready); }

 private:
  Broker* broker_;
  store::Store* store_;
  const Clock* clock_;
  std::atomic<const http::Server*> server_{nullptr};
  std::atomic<bool> ready_{false};
};

}  // namespace polycloud::serve

#endif  // POLYCLOUD_SERVE_API_H_
