// Fuzz target: the `planning:` section (src/plan/inputs.cc) and, for small
// plans, the program built from it.
//
// Any input must either fail to load or to parse (kInvalidInput, every line of
// the message naming the file), or give a plan whose GPUs never decrease, stay
// within each offer's max_gpus in whole nodes, and whose total is the sum of
// its parts — never crash, hang or throw. Run in the regular suite by
// PlanningFuzzTargetTest; under libFuzzer with the fuzz preset:
//   cmake --preset fuzz && cmake --build --preset fuzz --target planning_fuzz
//   build/fuzz/src/plan/planning_fuzz -max_total_time=60 tests/bad/plan examples
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "polycloud/io/scenario.h"
#include "polycloud/plan/plan.h"

extern "C" int PolycloudFuzzPlanning(const uint8_t* data, size_t size) {
  using namespace polycloud;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  io::LoadOptions options;
  options.max_stream_jobs = 1'000;
  auto scenario = io::LoadScenarioString(text, "fuzz.yaml", options);
  if (!scenario.ok()) return 0;
  auto inputs = plan::ParsePlanning(text, "fuzz.yaml", scenario->world);
  if (!inputs.ok()) {
    POLYCLOUD_CHECK(inputs.status().code() == StatusCode::kInvalidInput);
    std::istringstream lines(inputs.status().message());
    for (std::string line; std::getline(lines, line);) {
      const bool names_file = line.rfind("fuzz.yaml", 0) == 0;
      const bool is_count = line.find(" error") != std::string::npos && !names_file;
      POLYCLOUD_CHECK(names_file || is_count);
    }
    return 0;
  }
  // Keep the program small under the fuzzer.
  const int64_t periods = (inputs->until - inputs->from).seconds() / inputs->step.seconds() + 1;
  if (periods * static_cast<int64_t>(inputs->offers.size() + inputs->demand.size() + 1) > 2000)
    return 0;
  inputs->integer = false;
  auto p = plan::SolvePlan(scenario->world, *inputs);
  if (!p.ok()) return 0;  // an infeasible or failed solve is reported, not a crash
  for (size_t o = 0; o < p->offers.size(); ++o) {
    int64_t prev = 0;
    for (int64_t v : p->offers[o].installed) {
      POLYCLOUD_CHECK(v >= prev && v <= inputs->offers[o].max_gpus);
      POLYCLOUD_CHECK(v % inputs->offers[o].gpus_per_node == 0);
      prev = v;
    }
  }
  POLYCLOUD_CHECK(p->total == p->spend_existing + p->spend_new + p->shortfall + p->capex);
  (void)plan::RenderPlanText(scenario->world, *inputs, *p);
  (void)plan::RenderPlanJson(scenario->world, *inputs, *p);
  (void)plan::WriteFragment(scenario->world, *inputs, *p);
  return 0;
}

#ifdef POLYCLOUD_LIBFUZZER_MAIN
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return PolycloudFuzzPlanning(data, size);
}
#endif
