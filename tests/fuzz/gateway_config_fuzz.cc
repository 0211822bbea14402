// Fuzz target: the gateway's endpoints/keys file (src/gateway/config.cc),
// read against a small scenario with two providers.
//
// Any text must either load or be refused with InvalidInput whose every
// line starts "endpoints.yaml:" with a line and column when it has them —
// never crash, hang or throw. Run in the regular suite by
// GatewayConfigFuzzTargetTest; under libFuzzer with the fuzz preset:
//   cmake --preset fuzz && cmake --build --preset fuzz --target gateway_config_fuzz
//   build/fuzz/src/gateway/gateway_config_fuzz -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "polycloud/gateway/config.h"
#include "polycloud/io/scenario.h"

namespace {

using namespace polycloud;

const world::World& FuzzWorld() {
  static const io::Scenario* scenario = [] {
    Result<io::Scenario> s = io::LoadScenarioString(R"(name: fuzz
start: 2026-01-01
end: 2027-01-01
providers: [{id: azure}, {id: aws}]
contracts:
  - {id: deal, provider: azure, start: 2025-01-01, end: 2030-01-01, exclusivity: [{class: api}]}
sites: [{id: az, provider: azure}, {id: aw, provider: aws}]
pools:
  - {id: p1, site: az, accelerator: H100, pricing: on-demand, gpus: 8, price_per_gpu_hour: 2}
services:
  - {id: chat, model: m, class: chat, gpus_per_replica: 8, replica_tokens_per_s: 100, demand: 100}
)",
                                                    "fuzz.yaml");
    POLYCLOUD_CHECK(s.ok());
    return new io::Scenario(std::move(*s));
  }();
  return scenario->world;
}

}  // namespace

extern "C" int PolycloudFuzzGatewayConfig(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<gateway::GatewayConfig> config =
      gateway::LoadGatewayConfigString(text, "endpoints.yaml", FuzzWorld());
  if (config.ok()) {
    POLYCLOUD_CHECK(!config->deployments.empty());
    for (const gateway::Deployment& d : config->deployments) {
      POLYCLOUD_CHECK(d.provider >= 0 && !d.model.empty() && !d.host.empty());
      POLYCLOUD_CHECK(d.path_prefix.empty() || d.path_prefix[0] == '/');
    }
    for (const gateway::ApiKey& k : config->keys) {
      POLYCLOUD_CHECK(k.secret_sha256.size() == 64 && !k.workload_class.empty());
    }
    return 0;
  }
  POLYCLOUD_CHECK(config.status().code() == StatusCode::kInvalidInput);
  const std::string& message = config.status().message();
  POLYCLOUD_CHECK(!message.empty());
  size_t start = 0;
  while (start < message.size()) {
    size_t end = message.find('\n', start);
    if (end == std::string::npos) end = message.size();
    const std::string_view line(message.data() + start, end - start);
    POLYCLOUD_CHECK(line.rfind("endpoints.yaml", 0) == 0 || line.rfind("(stopped after", 0) == 0);
    start = end + 1;
  }
  return 0;
}

#ifdef POLYCLOUD_LIBFUZZER_MAIN
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return PolycloudFuzzGatewayConfig(data, size);
}
#endif
