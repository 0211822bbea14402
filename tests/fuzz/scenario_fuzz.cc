// Fuzz target: the scenario loader (YAML → validated World).
//
// Any input must either load into a World whose cross-references are all in
// range, or fail with kInvalidInput and a message whose every line names the
// file — never crash, hang or throw. Run in the regular suite by
// ScenarioFuzzTargetTest; under libFuzzer with the fuzz preset:
//   cmake --preset fuzz && cmake --build --preset fuzz --target scenario_fuzz
//   build/fuzz/src/io/scenario_fuzz -max_total_time=60 tests/bad examples
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "polycloud/io/scenario.h"

extern "C" int PolycloudFuzzScenario(const uint8_t* data, size_t size) {
  using namespace polycloud;
  io::LoadOptions options;
  options.max_stream_jobs = 10'000;  // keep memory bounded under the fuzzer
  auto result = io::LoadScenarioString(std::string_view(reinterpret_cast<const char*>(data), size),
                                       "fuzz.yaml", options);
  if (!result.ok()) {
    POLYCLOUD_CHECK(result.status().code() == StatusCode::kInvalidInput);
    std::istringstream lines(result.status().message());
    for (std::string line; std::getline(lines, line);) {
      const bool names_file = line.rfind("fuzz.yaml", 0) == 0;
      const bool is_count = line.find(" error") != std::string::npos && !names_file;
      POLYCLOUD_CHECK(names_file || is_count);
    }
    return 0;
  }
  const world::World& w = result->world;
  POLYCLOUD_CHECK(w.end > w.start);
  const auto n = [](const auto& v) { return static_cast<int32_t>(v.size()); };
  for (const auto& s : w.sites) POLYCLOUD_CHECK(s.provider >= 0 && s.provider < n(w.providers));
  for (const auto& p : w.pools) {
    POLYCLOUD_CHECK(p.site >= 0 && p.site < n(w.sites));
    POLYCLOUD_CHECK(p.accelerator >= 0 && p.accelerator < n(w.accelerators));
    POLYCLOUD_CHECK(p.contract == world::kNone || (p.contract >= 0 && p.contract < n(w.contracts)));
    POLYCLOUD_CHECK(p.gpus_per_node >= 1);
  }
  for (const auto& j : w.jobs) {
    POLYCLOUD_CHECK(j.gpus >= 1);
    for (auto a : j.accelerators) POLYCLOUD_CHECK(a >= 0 && a < n(w.accelerators));
  }
  for (size_t i = 1; i < w.jobs.size(); ++i)
    POLYCLOUD_CHECK(w.jobs[i - 1].arrival <= w.jobs[i].arrival);
  for (const auto& f : w.faults) POLYCLOUD_CHECK(f.end > f.start && f.target >= 0);
  for (const auto& c : w.contracts) {
    POLYCLOUD_CHECK(c.discount_milli >= 0 && c.discount_milli <= 1000);
    Time from = c.start;
    for (const auto& m : c.minimums) {  // consecutive periods inside the term
      POLYCLOUD_CHECK(m.from == from && m.until > m.from && m.until <= c.end);
      from = m.until;
    }
    for (const auto& r : c.rofr)
      POLYCLOUD_CHECK(r.until > r.from && r.response_window.seconds() > 0);
  }
  const auto& pr = w.procurement;
  if (pr.enabled) {
    POLYCLOUD_CHECK(pr.review_every.seconds() > 0 && pr.unmet_after.seconds() > 0);
    POLYCLOUD_CHECK(pr.answer_after.size() == w.providers.size());
    for (size_t i = 0; i < pr.offers.size(); ++i) {
      const auto& o = pr.offers[i];
      POLYCLOUD_CHECK(o.pool >= 0 && o.pool < n(w.pools) &&
                      w.pools[o.pool].offer == static_cast<int32_t>(i));
      POLYCLOUD_CHECK(o.provider >= 0 && o.max_gpus >= 1 && o.lead_time.seconds() >= 0);
    }
  }
  return 0;
}

#ifdef POLYCLOUD_LIBFUZZER_MAIN
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return PolycloudFuzzScenario(data, size);
}
#endif
