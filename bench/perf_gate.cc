// The regression gate's fixed workload (scripts/perf-gate.sh runs it under
// valgrind --tool=callgrind and compares the instruction count with the figure
// recorded in docs/performance.md). Small and deterministic: a generated world
// of 20,000 GPUs in 200 pools, 3,000 jobs over 14 days, simulated once, then
// 20,000 placement decisions on the final fleet. Prints what it did, so a
// change in behaviour shows up beside a change in cost.
#include <cinttypes>
#include <cstdio>

#include "polycloud/base/rng.h"
#include "polycloud/gen/scale.h"
#include "polycloud/placement/pipeline.h"
#include "polycloud/sim/simulator.h"

int main() {
  using namespace polycloud;
  gen::ScaleOptions o;
  o.gpus = 20'000;
  o.providers = 4;
  o.sites = 16;
  o.pools = 200;
  o.jobs = 3'000;
  o.services = 2;
  o.days = 14;
  auto s = gen::GenerateScenario(o);
  if (!s.ok()) {
    std::fprintf(stderr, "perf_gate: %s\n", s.status().message().c_str());
    return 1;
  }
  const world::World& w = s->world;
  sim::Simulator sim(w, sim::Options{});
  const sim::RunStats stats = sim.Run();

  const placement::FleetState& fleet = sim.scheduler().fleet();
  contracts::ExclusivityRules rules(w);
  placement::Placer placer(w);
  Rng rng(5);
  int64_t placed = 0;
  for (int i = 0; i < 20'000; ++i) {
    const placement::Request req = placement::JobRequest(w.jobs[rng.Below(w.jobs.size())]);
    placement::Context ctx{w, fleet, rules, w.end, nullptr};
    placed += placer.Place(ctx, req, nullptr).pool != world::kNone;
  }
  std::printf("perf_gate: %" PRId64 " events, %" PRId64 " scheduler events, %" PRId64
              " decisions in the run; %" PRId64 " of 20000 placed after\n",
              stats.events, stats.scheduler_events, sim.scheduler().placement_attempts(), placed);
  return 0;
}
