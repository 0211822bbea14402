#include "gateway_command.h"

#include <csignal>
#include <iostream>
#include <memory>
#include <thread>

#include "polycloud/base/clock.h"
#include "polycloud/base/parse.h"
#include "polycloud/gateway/config.h"
#include "polycloud/gateway/gateway.h"
#include "polycloud/http/client.h"
#include "polycloud/http/server.h"
#include "polycloud/io/scenario.h"
#include "polycloud/store/store.h"

namespace polycloud {
namespace {

int Fail(const Status& status) {
  std::cerr << "polycloud: " << status.message() << "\n";
  return ExitCodeFor(status);
}

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

struct GatewayArgs {
  std::string scenario;
  std::string endpoints;
  std::string listen = "127.0.0.1:4000";
  int threads = 2;
  int upstream_threads = 1;
  std::string store = "polycloud.db";  // "none": keep the accounting in memory only
  std::string broker;                  // serve's URL: publish measured demand there
  std::string publish_every = "10s";
  // explain / usage (clients of a running gateway)
  std::string server = "http://127.0.0.1:4000";
  std::string request_id;
  bool json = false;
};

int RunGateway(const GatewayArgs& a) {
  if (a.scenario.empty()) return Fail(InvalidArgument("gateway: --scenario is required"));
  Result<io::Scenario> scenario = io::LoadScenarioFile(a.scenario);
  if (!scenario.ok()) return Fail(scenario.status());
  if (a.endpoints.empty() && !scenario->has_gateway_section) {
    return Fail(InvalidArgument("gateway: --endpoints is required when " + a.scenario +
                                " has no gateway: section"));
  }
  Result<gateway::GatewayConfig> config =
      a.endpoints.empty() ? gateway::LoadGatewayConfigSection(a.scenario, scenario->world)
                          : gateway::LoadGatewayConfigFile(a.endpoints, scenario->world);
  if (!config.ok()) return Fail(config.status());
  const size_t colon = a.listen.rfind(':');
  Result<int64_t> port = colon == std::string::npos ? Result<int64_t>(InvalidArgument(""))
                                                    : ParseInteger(a.listen.substr(colon + 1));
  if (!port.ok() || *port < 0 || *port > 65535) {
    return Fail(
        InvalidArgument("--listen: expected HOST:PORT such as 127.0.0.1:4000, found " + a.listen));
  }
  WallClock clock;
  gateway::GatewayOptions options;
  options.threads = a.upstream_threads;
  std::unique_ptr<store::Store> usage_store;
  if (a.store != "none") {
    Result<std::unique_ptr<store::Store>> opened = store::OpenStore(a.store);
    if (!opened.ok()) return Fail(opened.status());
    usage_store = std::move(*opened);
    options.usage_store = usage_store.get();
  }
  if (!a.broker.empty()) {
    Result<http::ServerAddress> broker = http::ParseServerUrl(a.broker);
    if (!broker.ok()) return Fail(InvalidArgument("--broker: " + broker.status().message()));
    Result<Duration> every = ParseDuration(a.publish_every);
    if (!every.ok() || every->seconds() <= 0) {
      return Fail(
          InvalidArgument("--publish-every: expected a positive duration such as 10s, "
                          "found " +
                          a.publish_every));
    }
    const char* token = std::getenv("POLYCLOUD_TOKEN");
    if (token == nullptr || *token == '\0') {
      return Fail(
          InvalidArgument("--broker: the broker's operator token must be in $POLYCLOUD_TOKEN"));
    }
    options.demand = gateway::DemandPublishing{*broker, token, *every};
  }
  const size_t deployments = config->deployments.size(), keys = config->keys.size();
  Result<std::unique_ptr<gateway::Gateway>> gw =
      gateway::Gateway::Create(std::move(*config), scenario->world, clock, options);
  if (!gw.ok()) return Fail(gw.status());
  http::ServerOptions server_options;
  server_options.host = a.listen.substr(0, colon);
  server_options.port = static_cast<uint16_t>(*port);
  server_options.threads = a.threads;
  server_options.max_body_bytes = 16 << 20;  // long prompts
  server_options.write_timeout = std::chrono::milliseconds(120'000);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  auto server = http::Server::Start(server_options, (*gw)->MakeRouter());
  if (!server.ok()) return Fail(server.status());
  (*gw)->AttachServer(server->get());
  std::cout << "polycloud gateway: listening on http://" << (*server)->address() << "/v1 ("
            << deployments << " deployments, " << keys << " keys; accounting "
            << (usage_store ? "in " + a.store : std::string("in memory only")) << ")" << std::endl;
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  (*server)->Stop();
  gw->reset();  // the last accounting is written before the store closes
  std::cout << "polycloud gateway: stopped" << std::endl;
  return kExitOk;
}

int CreateKey(const std::string& id) {
  const std::string secret = gateway::GenerateKeySecret();
  std::cerr << "key " << id << ": the secret is shown once (standard output); add to keys:\n"
            << "  - {id: " << id << ", secret_sha256: " << gateway::HashKeySecret(secret)
            << ", workload_class: CLASS}\n";
  std::cout << secret << "\n";
  return kExitOk;
}

// A GET to a running gateway with the key in $OPENAI_API_KEY (or
// $POLYCLOUD_GATEWAY_KEY): explain and usage.
Result<nlohmann::json> GatewayGet(const GatewayArgs& a, const std::string& target) {
  Result<http::ServerAddress> address = http::ParseServerUrl(a.server);
  if (!address.ok()) return InvalidArgument("--server: " + address.status().message());
  const char* key = std::getenv("POLYCLOUD_GATEWAY_KEY");
  if (key == nullptr || *key == '\0') key = std::getenv("OPENAI_API_KEY");
  if (key == nullptr || *key == '\0') {
    return InvalidArgument("the gateway key must be in $OPENAI_API_KEY or $POLYCLOUD_GATEWAY_KEY");
  }
  http::ClientOptions o;
  o.address = *address;
  o.bearer_token = key;
  http::Client client(o);
  Result<http::ClientResponse> r = client.Get(target);
  if (!r.ok()) return r.status();
  Result<nlohmann::json> body = r->Json();
  std::string message = body.ok() && body->contains("error") && (*body)["error"].is_object()
                            ? (*body)["error"].value("message", r->body)
                            : r->body.substr(0, 300);
  if (r->status == 404) return NotFound(message);
  if (r->status == 401) return InvalidArgument(message);
  if (r->status != 200 || !body.ok()) {
    return IoError("the gateway answered " + std::to_string(r->status) + ": " + message);
  }
  return *body;
}

int ExplainRequest(const GatewayArgs& a) {
  Result<nlohmann::json> x = GatewayGet(a, "/v1/requests/" + a.request_id);
  if (!x.ok()) return Fail(x.status());
  if (a.json) {
    std::cout << x->dump(2) << "\n";
    return kExitOk;
  }
  const nlohmann::json& j = *x;
  std::cout << "request " << j.value("id", "") << " at " << j.value("at", "") << ": key "
            << j.value("key", "") << " (class " << j.value("workload_class", "") << "), "
            << j.value("route", "") << " model " << j.value("model", "?")
            << (j.value("stream", false) ? " streamed" : "") << "\n";
  std::cout << "answered " << j.value("status", 0);
  if (j.contains("deployment")) std::cout << " by " << j["deployment"].get<std::string>();
  if (j.contains("error")) std::cout << ": " << j["error"].value("message", "");
  std::cout << "\n";
  if (j.contains("rule")) std::cout << "rule: " << j["rule"].get<std::string>() << "\n";
  if (j.contains("policy"))
    std::cout << "routing policy: " << j["policy"].get<std::string>() << "\n";
  if (j.contains("candidates")) {
    std::cout << "candidates:\n";
    for (const nlohmann::json& c : j["candidates"]) {
      std::cout << "  " << c.value("deployment", "") << " (" << c.value("provider", "")
                << "): " << c.value("verdict", "") << "; " << c.value("outstanding", 0)
                << " in flight";
      if (c.contains("recent_latency_ms")) {
        std::cout << ", recent latency " << c["recent_latency_ms"].get<double>() << " ms";
      }
      std::cout << "\n";
    }
  }
  if (j.contains("attempts") && !j["attempts"].empty()) {
    std::cout << "attempts:\n";
    for (const nlohmann::json& t : j["attempts"]) {
      std::cout << "  " << t.value("deployment", "") << ": " << t.value("outcome", "") << " ("
                << t.value("ms", 0.0) << " ms)\n";
    }
  }
  if (j.contains("input_tokens") || j.contains("output_tokens")) {
    std::cout << "tokens: " << j.value("input_tokens", 0) << " in, " << j.value("output_tokens", 0)
              << " out; cost $" << j.value("cost_usd", "0") << "\n";
  }
  if (j.contains("stream_end"))
    std::cout << "stream: " << j["stream_end"].get<std::string>() << "\n";
  return kExitOk;
}

int ShowUsage(const GatewayArgs& a) {
  Result<nlohmann::json> u = GatewayGet(a, "/v1/usage");
  if (!u.ok()) return Fail(u.status());
  if (a.json) {
    std::cout << u->dump(2) << "\n";
    return kExitOk;
  }
  const nlohmann::json& j = *u;
  std::cout << "key " << j.value("key", "") << ": " << j.value("requests", 0) << " requests, "
            << j.value("input_tokens", 0) << " tokens in, " << j.value("output_tokens", 0)
            << " out, $" << j.value("spend_usd", "0") << "\n";
  for (const nlohmann::json& d : j["by_deployment"]) {
    std::cout << "  " << d.value("deployment", "") << ": $" << d.value("spend_usd", "0");
    if (d["contract"].is_string())
      std::cout << " (contract " << d["contract"].get<std::string>() << ")";
    std::cout << "\n";
  }
  const nlohmann::json& l = j["limits"];
  if (l.contains("budget_usd")) {
    std::cout << "budget $" << l["budget_usd"].get<std::string>() << ", $"
              << l["budget_left_usd"].get<std::string>() << " left\n";
  }
  return kExitOk;
}

}  // namespace

std::function<int()> AddGatewayCommands(CLI::App& app) {
  auto args = std::make_shared<GatewayArgs>();
  CLI::App* gw = app.add_subcommand(
      "gateway", "Run the OpenAI-compatible gateway: contract rules first, then routing");
  gw->add_option("--scenario", args->scenario,
                 "The providers, contracts and faults (scenario YAML)");
  gw->add_option(
      "--endpoints", args->endpoints,
      "Deployments and keys (docs/gateway.md); default: the scenario's gateway: section");
  gw->add_option("--listen", args->listen, "HOST:PORT to listen on")->capture_default_str();
  gw->add_option("--threads", args->threads, "HTTP threads")->capture_default_str();
  gw->add_option("--upstream-threads", args->upstream_threads,
                 "I/O threads for the calls to deployments (requests in flight are not limited "
                 "by threads)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  gw->add_option("--store", args->store,
                 "Where token accounting is kept: a SQLite path, sqlite:PATH, "
                 "postgresql://..., or none")
      ->capture_default_str();
  gw->add_option("--broker", args->broker,
                 "polycloud serve's URL: publish measured demand per service there "
                 "(operator token in $POLYCLOUD_TOKEN)");
  gw->add_option("--publish-every", args->publish_every, "How often demand is published")
      ->capture_default_str();
  auto key_id = std::make_shared<std::string>("key");
  CLI::App* key = gw->add_subcommand("key", "Manage the gateway's API keys");
  CLI::App* create =
      key->add_subcommand("create", "Print a new secret, and its keys: entry with its hash");
  create->add_option("--id", *key_id, "The key's id")->capture_default_str();
  key->require_subcommand(1);
  CLI::App* explain = gw->add_subcommand(
      "explain", "Why a request went where it went: candidates, verdicts, attempts");
  explain->add_option("request_id", args->request_id, "The x-request-id of an answer")->required();
  CLI::App* usage = gw->add_subcommand("usage", "A key's tokens and spend against its limits");
  for (CLI::App* c : {explain, usage}) {
    c->add_option("--server", args->server, "The gateway's URL")->capture_default_str();
    c->add_flag("--json", args->json, "Print the JSON answer");
  }
  return [gw, create, explain, usage, args, key_id]() -> int {
    if (!*gw) return -1;
    if (*create) return CreateKey(*key_id);
    if (*explain) return ExplainRequest(*args);
    if (*usage) return ShowUsage(*args);
    return RunGateway(*args);
  };
}

}  // namespace polycloud
