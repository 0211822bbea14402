// Fuzz target: what runs, not only what parses. A scenario that loads is
// simulated (with batch re-optimisation on, and procurement when the scenario
// has it), reported and rendered; every figure of money and GPU-time must come
// out non-negative, and nothing may crash, abort or trip a sanitizer (the fuzz
// preset builds the whole engine with ASan + UBSan, -fno-sanitize-recover).
// Run in the regular suite by SimulateFuzzTargetTest over tests/scenarios,
// examples and their mutations, and by the magnitude property test; under
// libFuzzer (`make fuzz-sim`, FUZZ_SECONDS):
//   build/fuzz/src/report/simulate_fuzz -max_total_time=60 tests/scenarios
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "polycloud/io/scenario.h"
#include "polycloud/report/report.h"
#include "polycloud/sim/simulator.h"

namespace {

// Worlds larger than this are skipped, and timer intervals are stretched to
// the limits below, so one input runs in milliseconds.
constexpr size_t kMaxJobs = 2'000, kMaxPools = 64, kMaxServices = 16, kMaxFaults = 32;
// Timer-driven passes over the whole span, at most: re-optimisations (a flow
// solve each) and procurement reviews.
constexpr int64_t kMaxReoptimizations = 64, kMaxReviews = 512;
constexpr int64_t kMaxServiceFleetGpus = 1'000'000;

void CheckUsage(const polycloud::report::Usage& u) {
  POLYCLOUD_CHECK(u.used_gpu_seconds >= 0 && u.capacity_gpu_seconds >= 0);
  POLYCLOUD_CHECK(u.spend.micros() >= 0);
}

}  // namespace

extern "C" int PolycloudFuzzSimulate(const uint8_t* data, size_t size) {
  using namespace polycloud;
  io::LoadOptions load;
  load.max_stream_jobs = kMaxJobs;
  auto loaded = io::LoadScenarioString(std::string_view(reinterpret_cast<const char*>(data), size),
                                       "fuzz.yaml", load);
  if (!loaded.ok()) return 0;
  world::World& w = loaded->world;
  if (w.jobs.size() > kMaxJobs || w.pools.size() > kMaxPools || w.services.size() > kMaxServices ||
      w.faults.size() > kMaxFaults) {
    return 0;
  }
  // Every replica is an allocation (about 90 bytes, several times that under
  // ASan): a service on a fleet of tens of millions of GPUs may rightly want
  // millions of replicas, more than the fuzzer's 2 GB allows. Services are
  // fuzzed on fleets of up to a million GPUs; jobs on any.
  int64_t fleet_gpus = 0;
  for (const auto& p : w.pools) fleet_gpus += p.gpus.Max();
  for (const auto& o : w.procurement.offers) fleet_gpus += o.max_gpus;
  if (!w.services.empty() && fleet_gpus > kMaxServiceFleetGpus) return 0;
  const Duration span = w.end - w.start;
  const Duration slice = Duration::Seconds(span.seconds() / kMaxReoptimizations + 1);
  w.procurement.review_every =
      std::max(w.procurement.review_every, Duration::Seconds(span.seconds() / kMaxReviews + 1));

  sim::Options options;
  POLYCLOUD_CHECK(scheduler::SetPolicy(loaded->options.policy, &options.scheduler).ok());
  options.scheduler.consolidate = loaded->options.consolidate;
  // Re-optimise as the scenario says, or daily, but at most kMaxReoptimizations times.
  Duration every = loaded->options.reoptimize_every;
  if (every <= Duration()) every = Duration::Days(1);
  options.scheduler.reoptimize_every = std::max(every, slice);

  sim::Simulator sim(w, options);
  sim::Audit audit(w);
  sim.AddObserver(&audit);
  const sim::RunStats stats = sim.Run();
  const report::Report r =
      report::Build(w, sim.scheduler(), audit, stats, scheduler::PolicyLabel(options.scheduler));

  POLYCLOUD_CHECK(r.total_cost.micros() >= 0);
  POLYCLOUD_CHECK(r.total_shortfall.micros() >= 0 && r.shortfall_due.micros() >= 0);
  CheckUsage(r.total);
  for (const auto& p : r.providers) CheckUsage(p.usage);
  for (const auto& p : r.pools) CheckUsage(p.usage);
  for (const auto& c : r.contracts) {
    POLYCLOUD_CHECK(c.spent.micros() >= 0 && c.rate_per_day.micros() >= 0);
    POLYCLOUD_CHECK(c.shortfall_due.micros() >= 0 && c.shortfall_projected.micros() >= 0);
  }
  POLYCLOUD_CHECK(r.audit.lost_work_gpu_seconds >= 0);
  std::ostringstream text, json;
  report::WriteText(r, text);
  report::WriteJson(r, json);
  return 0;
}

#ifdef POLYCLOUD_LIBFUZZER_MAIN
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return PolycloudFuzzSimulate(data, size);
}
#endif
