// Fuzz target: what-if overrides (io/overlay.h) — the --set/--unset path
// parser, the edits and the --with overlay merge, on a small fixed scenario.
//
// Input: lines "set PATH=VALUE" and "unset PATH" are edits; everything after
// a line "---" is one --with fragment. Any input must load or fail with
// kInvalidInput whose every line names the scenario, the fragment or the
// argument — never crash, hang or throw. Run in the regular suite by
// OverlayFuzzTargetTest; under libFuzzer with the fuzz preset:
//   cmake --build --preset fuzz --target overlay_fuzz
//   build/fuzz/src/io/overlay_fuzz -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "polycloud/io/overlay.h"
#include "polycloud/io/scenario.h"

namespace {

constexpr const char* kFuzzBase = R"(name: fuzz
start: 2026-01-01
end: 2026-03-01
providers: [{id: a}, {id: b}]
contracts:
  - {id: deal, provider: a, start: 2025-01-01, end: 2027-01-01, committed_usd: 1M, take_or_pay: true,
     exclusivity: [{class: api, until: 2027-01-01}], rofr: [{until: 2026-02-01}]}
sites: [{id: s1, provider: a, power_mw: 1}, {id: s2, provider: b}]
pools:
  - {id: p1, site: s1, accelerator: H100, pricing: reserved, gpus: 64, price_per_gpu_hour: 2.00, contract: deal}
  - {id: p2, site: s2, accelerator: GB200, pricing: on-demand, ramp: linear, gpus: [{at: 2026-01-01, gpus: 8}, {at: 2026-02-01, gpus: 32}], price_per_gpu_hour: 9, gpus_per_node: 4}
jobs:
  - {id: j1, gpus: 8, work_gpu_hours: 10}
job_streams:
  - {id: s, count: 20, gpus: [1, 8], duration: {min: 1h, max: 1d}}
services:
  - {id: api, model: m, class: api, gpus_per_replica: 8, replica_tokens_per_s: 100, demand: [{at: 2026-01-01, tokens_per_s: 100}]}
faults:
  - {id: f, target: {pool: p1}, start: 2026-01-10, duration: 1d}
)";

}  // namespace

extern "C" int PolycloudFuzzOverlay(const uint8_t* data, size_t size) {
  using namespace polycloud;
  const std::string input(reinterpret_cast<const char*>(data), size);
  io::LoadOptions options;
  options.max_stream_jobs = 1'000;
  std::istringstream lines(input);
  std::string line;
  size_t consumed = 0;
  while (std::getline(lines, line)) {
    consumed += line.size() + 1;
    if (line == "---") {
      options.overrides.push_back({io::Override::Kind::kWith, "frag.yaml",
                                   consumed <= input.size() ? input.substr(consumed) : ""});
      break;
    }
    io::SetArgument parsed;
    if (line.rfind("set ", 0) == 0) {
      (void)io::ParseSetArgument(line.substr(4), true, &parsed);
      options.overrides.push_back({io::Override::Kind::kSet, line.substr(4), std::nullopt});
    } else if (line.rfind("unset ", 0) == 0) {
      (void)io::ParseSetArgument(line.substr(6), false, &parsed);
      options.overrides.push_back({io::Override::Kind::kUnset, line.substr(6), std::nullopt});
    }
    if (options.overrides.size() > 64) break;
  }
  auto result = io::LoadScenarioString(kFuzzBase, "base.yaml", options);
  if (!result.ok()) {
    POLYCLOUD_CHECK(result.status().code() == StatusCode::kInvalidInput);
    std::istringstream message(result.status().message());
    for (std::string l; std::getline(message, l);) {
      const bool named = l.rfind("base.yaml", 0) == 0 || l.rfind("frag.yaml", 0) == 0 ||
                         l.rfind("--set #", 0) == 0 || l.rfind("--unset #", 0) == 0;
      const bool is_count = l.find(" error") != std::string::npos;
      POLYCLOUD_CHECK(named || is_count);
    }
    return 0;
  }
  POLYCLOUD_CHECK(result->world.end > result->world.start);
  POLYCLOUD_CHECK(result->overrides.size() == options.overrides.size());
  return 0;
}

#ifdef POLYCLOUD_LIBFUZZER_MAIN
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return PolycloudFuzzOverlay(data, size);
}
#endif
