// Fuzz target: what runs, not only what parses. A scenario that loads is
// simulated (with batch re-optimisation on, and procurement when the scenario
// has it), recorded over time, reported and rendered (text, JSON, HTML); every
// figure of money and GPU-time must come out non-negative, the time series
// must add up to the scheduler's integrals, and nothing may crash, abort or
// trip a sanitizer (the fuzz
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
#include "polycloud/report/html.h"
#include "polycloud/report/report.h"
#include "polycloud/report/timeseries.h"
#include "polycloud/report/workloads.h"
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

int64_t Sum(const std::vector<int64_t>& v) {
  int64_t s = 0;
  for (int64_t x : v) s += x;
  return s;
}

// The recorded series add up to the scheduler's integrals, and what cannot
// be negative is not.
void CheckSeries(const polycloud::world::World& w, const polycloud::scheduler::Scheduler& sched,
                 const polycloud::report::TimeSeries& ts) {
  using namespace polycloud;
  for (const report::FleetSeries& f : ts.pools) {
    const placement::PoolState& s = sched.fleet().pool(w.FindPool(f.id));
    POLYCLOUD_CHECK(Sum(f.used.area) == s.used_gpu_seconds);
    POLYCLOUD_CHECK(Sum(f.usable.area) == s.capacity_gpu_seconds);
  }
  for (const report::ClassSeries& c : ts.classes) {
    for (int64_t low : c.queued.low) POLYCLOUD_CHECK(low >= 0);
  }
  for (size_t k = 0; k < ts.services.size(); ++k) {
    POLYCLOUD_CHECK(Sum(ts.services[k].served.area) == sched.services()[k].served_token_seconds);
  }
  for (const report::SitePowerSeries& s : ts.sites) {
    for (int64_t share : s.share_of_limit.peak) POLYCLOUD_CHECK(share <= 1000 || !s.limited);
  }
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
  report::TimeSeriesRecorder series(w, sim.scheduler());
  report::WorkloadRecorder listed(w, sim.scheduler());
  sim.AddObserver(&series);
  sim.AddObserver(&listed);
  const sim::RunStats stats = sim.Run();
  report::Report r =
      report::Build(w, sim.scheduler(), audit, stats, scheduler::PolicyLabel(options.scheduler));
  r.timeseries = series.Finish(stats.end);
  r.workloads = listed.Finish(stats.end);
  report::ExplainWaiting(*r.workloads, sim.scheduler_for_explain(), stats.end, 3);
  CheckSeries(w, sim.scheduler(), *r.timeseries);

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
  std::ostringstream text, json, html;
  report::WriteText(r, text);
  report::WriteJson(r, json);
  report::WriteHtml(r, html);
  return 0;
}

#ifdef POLYCLOUD_LIBFUZZER_MAIN
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return PolycloudFuzzSimulate(data, size);
}
#endif
