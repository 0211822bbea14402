// The seeded instance generator of docs/performance.md ("The instance generator").
#include <algorithm>
#include <cmath>
#include <vector>

#include "polycloud/base/rng.h"
#include "polycloud/optimize/batch.h"

namespace polycloud::optimize {
namespace {

struct AcceleratorKind {
  int64_t speed_milli;
  int64_t list_price_cents;  // per GPU-hour
  int64_t gpus_per_node;
  int64_t pool_weight;  // share of pools
};
// The first eight types of world::BuiltinAccelerators(), same order and speeds:
// H100, H200, B200, GB200, GB300, MI300X, MI355X, Trainium2.
constexpr AcceleratorKind kKinds[] = {
    {1000, 250, 8, 25}, {1200, 320, 8, 15}, {2200, 500, 8, 15}, {2500, 600, 4, 15},
    {3300, 800, 4, 10}, {900, 200, 8, 8},   {2000, 400, 8, 5},  {650, 140, 16, 7},
};
constexpr int32_t kKindCount = 8;

struct SetWeight {
  std::vector<world::AcceleratorIndex> set;
  int64_t weight;
};

int64_t Pick(Rng& rng, const std::vector<int64_t>& weights) {
  int64_t total = 0;
  for (int64_t w : weights) total += w;
  int64_t x = static_cast<int64_t>(rng.Below(static_cast<uint64_t>(total)));
  for (size_t i = 0; i < weights.size(); ++i) {
    if (x < weights[i]) return static_cast<int64_t>(i);
    x -= weights[i];
  }
  return static_cast<int64_t>(weights.size()) - 1;
}

}  // namespace

Instance GenerateInstance(const GeneratorOptions& options) {
  Instance in;
  in.accelerator_count = kKindCount;
  const std::vector<SetWeight> sets = {
      {{0}, 15},    {{0, 1}, 15}, {{1}, 8},    {{2}, 10}, {{2, 3}, 10},
      {{3, 4}, 10}, {{4}, 5},     {{5, 6}, 7}, {{7}, 5},  {{}, 15},
  };
  std::vector<int64_t> set_weights;
  for (const SetWeight& s : sets) {
    in.accelerator_sets.push_back(s.set);
    set_weights.push_back(s.weight);
  }

  // Jobs: gang 2^k GPUs with P(k) ∝ 0.6^k, k = 0..12 (1..4096); work per GPU
  // log-uniform in 0.1..1000 hours; priority 0 / 10 / 100 at 70 / 25 / 5 %.
  Rng job_rng = Rng::Fork(options.seed, "jobs");
  std::vector<int64_t> gang_weights;
  for (int k = 0, w = 1'000'000; k <= 12; ++k, w = w * 6 / 10) gang_weights.push_back(w);
  int64_t demand = 0;
  in.jobs.reserve(options.jobs);
  for (int64_t i = 0; i < options.jobs; ++i) {
    QueuedJob j;
    j.accelerator_set = static_cast<int32_t>(Pick(job_rng, set_weights));
    j.gpus = int64_t{1} << Pick(job_rng, gang_weights);
    const double hours = std::pow(10.0, job_rng.Unit() * 4.0 - 1.0);
    j.work_gpu_seconds = j.gpus * std::max<int64_t>(1, std::llround(hours * 3600.0));
    const int64_t pr = Pick(job_rng, {70, 25, 5});
    j.priority = pr == 0 ? 0 : pr == 1 ? 10 : 100;
    demand += j.gpus;
    in.jobs.push_back(j);
  }

  // The queue's order, as the scheduler's priority policy keeps it: highest
  // priority first, then as drawn (arrival).
  std::stable_sort(in.jobs.begin(), in.jobs.end(),
                   [](const QueuedJob& a, const QueuedJob& b) { return a.priority > b.priority; });

  // Pools: 16 providers with a price factor of 80..130 % (5 % steps), three
  // region tiers (100 / 110 / 125 %), and a pricing kind — reserved 30 % of
  // pools (60 % of list), committed 20 % (75 %), on demand 35 % (list), spot
  // 15 % (40 %) — prices in whole cents. Sizes are heavy-tailed (a Pareto-like draw capped at 64×
  // the mean), scaled so that all free GPUs are capacity_percent of the queue's demand, in whole
  // nodes, at least one node. Fabric: the whole pool (40 %), 2,048 (30 %), 512 (20 %) or 256 GPUs
  // (10 %).
  Rng pool_rng = Rng::Fork(options.seed, "pools");
  std::vector<int64_t> provider_percent(16);
  for (int64_t& p : provider_percent) p = 80 + 5 * static_cast<int64_t>(pool_rng.Below(11));
  std::vector<int64_t> kind_weights;
  for (const AcceleratorKind& k : kKinds) kind_weights.push_back(k.pool_weight);
  const double mean = options.pools > 0 ? static_cast<double>(demand) *
                                              static_cast<double>(options.capacity_percent) /
                                              100.0 / static_cast<double>(options.pools)
                                        : 0.0;
  std::vector<double> raw_size(options.pools);
  double raw_total = 0;
  for (int64_t p = 0; p < options.pools; ++p) {
    PoolCapacity pool;
    pool.accelerator = static_cast<world::AcceleratorIndex>(Pick(pool_rng, kind_weights));
    const AcceleratorKind& kind = kKinds[pool.accelerator];
    pool.speed_milli = kind.speed_milli;
    pool.gpus_per_node = kind.gpus_per_node;
    const int64_t provider = static_cast<int64_t>(pool_rng.Below(16));
    const int64_t tier = std::vector<int64_t>{100, 110, 125}[pool_rng.Below(3)];
    const int64_t pricing = Pick(pool_rng, {30, 20, 35, 15});
    const int64_t kind_percent = pricing == 0 ? 60 : pricing == 1 ? 75 : pricing == 2 ? 100 : 40;
    const int64_t cents =
        (kind.list_price_cents * provider_percent[provider] * tier * kind_percent + 500'000) /
        1'000'000;
    pool.price_per_gpu_hour = Money::FromMicros(cents * 10'000);
    const double u = 1.0 - pool_rng.Unit();  // (0, 1]
    raw_size[p] = std::min(64.0, 0.2 * std::pow(u, -0.8));
    raw_total += raw_size[p];
    const int64_t fabric = Pick(pool_rng, {40, 30, 20, 10});
    pool.max_gang = fabric == 1 ? 2048 : fabric == 2 ? 512 : fabric == 3 ? 256 : 0;
    in.pools.push_back(pool);
  }
  for (int64_t p = 0; p < options.pools; ++p) {
    PoolCapacity& pool = in.pools[p];
    const double gpus = raw_size[p] / raw_total * mean * static_cast<double>(options.pools);
    const int64_t nodes =
        std::max<int64_t>(1, std::llround(gpus / static_cast<double>(pool.gpus_per_node)));
    pool.free_gpus = nodes * pool.gpus_per_node;
    if (pool.max_gang == 0) pool.max_gang = pool.free_gpus;
  }
  return in;
}

}  // namespace polycloud::optimize
