// Test helpers: build a World from a small YAML scenario written inline, so
// each test states the world it needs next to what it asserts.
#ifndef POLYCLOUD_TESTS_TESTING_SCENARIO_FIXTURE_H_
#define POLYCLOUD_TESTS_TESTING_SCENARIO_FIXTURE_H_

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "polycloud/base/parse.h"
#include "polycloud/io/scenario.h"

namespace polycloud::testing {

// Loads `yaml` or fails the test with every diagnostic.
inline world::World LoadWorld(const std::string& yaml) {
  auto s = io::LoadScenarioString(yaml, "test.yaml");
  if (!s.ok()) {
    ADD_FAILURE() << s.status().message();
    return world::World{};
  }
  return std::move(s->world);
}

inline Time T(const char* text) { return ParseTime(text).value(); }

// The whole file as bytes ("" when unreadable; the caller's assertions fail).
inline std::string ReadTestFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A two-provider world: azure (reserved H100 under a take-or-pay contract that
// makes "stateless-api" exclusive to azure until 2030) and aws (on-demand H100
// and a small-fabric GB200 pool), with a power-limited aws site.
inline const char* kTwoProviders = R"(
name: two-providers
start: 2026-01-01
end: 2026-02-01
providers:
  - {id: azure}
  - {id: aws}
contracts:
  - id: azure-deal
    provider: azure
    start: 2025-01-01
    end: 2030-01-01
    committed_usd: 1M
    take_or_pay: true
    exclusivity:
      - {class: stateless-api, until: 2030-01-01}
sites:
  - {id: az-east, provider: azure}
  - {id: aws-east, provider: aws, power_mw: 0.1, pue: 1.0}
pools:
  - {id: az-h100, site: az-east, accelerator: H100, pricing: reserved, gpus: 64, price_per_gpu_hour: 2.00, contract: azure-deal, max_gang: 64}
  - {id: aws-h100, site: aws-east, accelerator: H100, pricing: on-demand, gpus: 64, price_per_gpu_hour: 10.00}
  - {id: aws-gb200, site: aws-east, accelerator: GB200, pricing: on-demand, gpus: 32, price_per_gpu_hour: 12.00, gpus_per_node: 4, max_gang: 16}
)";

}  // namespace polycloud::testing

#endif  // POLYCLOUD_TESTS_TESTING_SCENARIO_FIXTURE_H_
