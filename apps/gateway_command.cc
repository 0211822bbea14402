#include "gateway_command.h"

#include <csignal>
#include <iostream>
#include <memory>
#include <thread>

#include "polycloud/base/clock.h"
#include "polycloud/base/parse.h"
#include "polycloud/gateway/config.h"
#include "polycloud/gateway/gateway.h"
#include "polycloud/http/server.h"
#include "polycloud/io/scenario.h"

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
  int workers = 64;
};

int RunGateway(const GatewayArgs& a) {
  if (a.scenario.empty() || a.endpoints.empty()) {
    return Fail(InvalidArgument("gateway: --scenario and --endpoints are required"));
  }
  Result<io::Scenario> scenario = io::LoadScenarioFile(a.scenario);
  if (!scenario.ok()) return Fail(scenario.status());
  Result<gateway::GatewayConfig> config =
      gateway::LoadGatewayConfigFile(a.endpoints, scenario->world);
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
  options.workers = a.workers;
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
            << deployments << " deployments, " << keys << " keys)" << std::endl;
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  (*server)->Stop();
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

}  // namespace

std::function<int()> AddGatewayCommands(CLI::App& app) {
  auto args = std::make_shared<GatewayArgs>();
  CLI::App* gw = app.add_subcommand(
      "gateway", "Run the OpenAI-compatible gateway: contract rules first, then routing");
  gw->add_option("--scenario", args->scenario,
                 "The providers, contracts and faults (scenario YAML)");
  gw->add_option("--endpoints", args->endpoints, "Deployments and keys (docs/gateway.md)");
  gw->add_option("--listen", args->listen, "HOST:PORT to listen on")->capture_default_str();
  gw->add_option("--threads", args->threads, "HTTP threads")->capture_default_str();
  gw->add_option("--workers", args->workers, "Requests forwarded at once")->capture_default_str();
  auto key_id = std::make_shared<std::string>("key");
  CLI::App* key = gw->add_subcommand("key", "Manage the gateway's API keys");
  CLI::App* create =
      key->add_subcommand("create", "Print a new secret, and its keys: entry with its hash");
  create->add_option("--id", *key_id, "The key's id")->capture_default_str();
  key->require_subcommand(1);
  return [gw, create, args, key_id]() -> int {
    if (!*gw) return -1;
    if (*create) return CreateKey(*key_id);
    return RunGateway(*args);
  };
}

}  // namespace polycloud
