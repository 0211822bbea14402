// GatewayConfig: what `polycloud gateway` serves — the deployments of models
// it forwards to (`endpoints:`), the API keys it accepts (`keys:`) and its
// routing settings (`routing:`), read from a YAML file against a scenario's
// world (docs/gateway.md documents every key).
//
//   endpoints:
//     - id: azure-gpt4o
//       provider: azure              # a provider of the scenario
//       site: azure-eastus           # optional, a site of that provider
//       model: gpt-4o                # the name clients ask for
//       upstream_model: gpt-4o-0806  # optional: the name sent upstream
//       base_url: http://127.0.0.1:9001/v1
//       format: openai               # openai | anthropic
//       api_key_env: AZURE_KEY       # optional: the env var with the upstream's key
//       capacity: {tokens_per_s: 50000, concurrent_requests: 64}
//       price: {input_per_million: 2.50, output_per_million: 10}
//       contract: azure-deal         # optional: spend counts toward it (same provider)
//   keys:
//     - id: consumer-app
//       secret_sha256: 9f86d0...     # `polycloud gateway key create` prints it
//       tenant: consumer             # optional
//       service: consumer-chat       # optional: a scenario service
//       workload_class: stateless-api  # required unless the service gives it
//       model_family: gpt            # optional; else the service's
//       limits: {requests_per_minute: 600, tokens_per_minute: 200000, budget: 500}
//   routing:
//     policy: least-outstanding      # | latency | cheapest
//     services: {consumer-chat: latency}   # per scenario service
//     eject_after_failures: 3
//     eject_for: 30s
//     upstream_timeout: 60s
//
// Parsing is strict like the scenario's (src/io): unknown keys, wrong types,
// dangling references (provider, site, service) and duplicate ids are errors,
// each "file:line:column: what is wrong", all reported at once; nothing is
// returned from a file with an error. Thread-safety: value types; the
// functions are reentrant.
#ifndef POLYCLOUD_GATEWAY_CONFIG_H_
#define POLYCLOUD_GATEWAY_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/base/units.h"
#include "polycloud/world/world.h"

namespace polycloud::gateway {

enum class ApiFormat { kOpenAi, kAnthropic };
const char* ApiFormatName(ApiFormat format);

// How the deployments a request may use are ordered (docs/gateway.md):
//   least-outstanding  fewest requests in flight, then cheapest, then file order;
//   latency            lowest recent upstream latency (an exponentially weighted
//                      mean of the time to the answer's headers; a deployment not
//                      yet measured goes first), then fewest in flight, then cheapest;
//   cheapest           lowest input + output price, then fewest in flight.
enum class RoutePolicy { kLeastOutstanding, kLatency, kCheapest };
const char* RoutePolicyName(RoutePolicy policy);

struct Deployment {
  std::string id;
  world::ProviderIndex provider = world::kNone;
  world::SiteIndex site = world::kNone;  // kNone: not given
  std::string model;                     // what clients ask for
  std::string upstream_model;            // what the upstream is asked for (default: model)
  std::string base_url;                  // as written, "http://host:port[/path]"
  std::string host;                      // parsed from base_url
  uint16_t port = 80;
  std::string path_prefix;  // base_url's path without a trailing '/'; "/v1" when none
  ApiFormat format = ApiFormat::kOpenAi;
  std::string api_key_env;                       // "" = send no key
  int64_t tokens_per_s = 0;                      // 0 = not limited
  int64_t max_concurrent = 0;                    // requests in flight at once; 0 = not limited
  Money input_per_million;                       // price per million input (prompt) tokens
  Money output_per_million;                      // per million output (completion) tokens
  world::ContractIndex contract = world::kNone;  // spend counts toward it; kNone: none
  std::string where;                             // "file:line:column" of the entry, for messages
};

// A key's limits (0 / unset: none). Requests and tokens are token buckets
// refilled continuously (a minute's worth at most); a request is admitted while
// its key has a request and a token left, and charged its tokens when the
// answer's usage is known. The budget is US dollars over the key's life: once
// its accounted spend reaches it, requests are refused (429 insufficient_quota).
struct KeyLimits {
  int64_t requests_per_minute = 0;
  int64_t tokens_per_minute = 0;
  std::optional<Money> budget;
};

struct ApiKey {
  std::string id;
  std::string secret_sha256;  // lowercase hex of SHA-256 of the secret
  std::string tenant;         // "" = none
  world::ServiceIndex service = world::kNone;
  std::string workload_class;
  std::string model_family;  // "" = every family (clauses scoped to a family do not match)
  KeyLimits limits;
};

struct RoutingSettings {
  int32_t eject_after_failures = 3;            // consecutive failures before ejection
  Duration eject_for = Duration::Seconds(30);  // then one probe request is let through
  Duration upstream_timeout = Duration::Seconds(60);
  RoutePolicy policy = RoutePolicy::kLeastOutstanding;
  // Per scenario service (a key's `service`), overriding `policy`.
  std::vector<std::pair<world::ServiceIndex, RoutePolicy>> per_service;
  // The policy for requests of a key of `service` (kNone: the default).
  RoutePolicy PolicyFor(world::ServiceIndex service) const {
    for (const auto& [s, p] : per_service) {
      if (s == service) return p;
    }
    return policy;
  }
};

struct GatewayConfig {
  std::vector<Deployment> deployments;  // in file order
  std::vector<ApiKey> keys;
  RoutingSettings routing;
};

// Parses `text` (a YAML mapping with `endpoints`, `keys`, and optional
// `routing`) against `world`. `file_name` is used in messages. Errors:
// InvalidInput listing every problem, one per line, as file:line:column.
Result<GatewayConfig> LoadGatewayConfigString(std::string_view text, std::string_view file_name,
                                              const world::World& world);
// Reads `path` (a regular file of at most 4 MiB) and parses it. Errors:
// IoError when it cannot be read; InvalidInput as above.
Result<GatewayConfig> LoadGatewayConfigFile(const std::string& path, const world::World& world);
// The `gateway:` section of the scenario file `scenario_path` (the same keys
// as an endpoints file; positions are the scenario file's). Errors: IoError
// when the file cannot be read; NotFound when it has no `gateway:` section;
// InvalidInput as above.
Result<GatewayConfig> LoadGatewayConfigSection(const std::string& scenario_path,
                                               const world::World& world);

// Lowercase hex SHA-256 of `secret`: what a key's secret_sha256 holds.
std::string HashKeySecret(std::string_view secret);
// A new random secret, "pc-" followed by 43 URL-safe base64 characters.
std::string GenerateKeySecret();

}  // namespace polycloud::gateway

#endif  // POLYCLOUD_GATEWAY_CONFIG_H_
