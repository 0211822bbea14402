#include "polycloud/gen/scale.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "polycloud/base/parse.h"
#include "polycloud/base/portable_math.h"
#include "polycloud/base/rng.h"

namespace polycloud::gen {
namespace {

// Accelerators of the generated fleet, with their share of pools (per mille),
// GPUs per node, interconnect domain and reserved price per GPU-hour.
struct AcceleratorMix {
  const char* name;
  int64_t share_milli;
  int64_t gpus_per_node;
  int64_t domain_size;
  int64_t reserved_micros;  // reserved price per GPU-hour
  bool large;               // may hold the largest training pools
};
constexpr AcceleratorMix kMix[] = {
    {"H100", 300, 8, 8, 2'100'000, false},  {"H200", 150, 8, 8, 2'600'000, false},
    {"B200", 150, 8, 8, 3'600'000, true},   {"GB200", 200, 4, 72, 4'200'000, true},
    {"GB300", 100, 4, 72, 5'400'000, true}, {"MI300X", 50, 8, 8, 1'900'000, false},
    {"A100", 50, 8, 8, 1'100'000, false},
};
constexpr int kMixSize = sizeof(kMix) / sizeof(kMix[0]);

const char* const kRegions[] = {"us-east",  "us-central", "us-west",    "eu-west",
                                "eu-north", "asia-east",  "asia-south", "middle-east"};

// One job stream of the workload, before its durations are scaled to the load.
struct StreamSpec {
  const char* id;
  const char* kind;  // training | batch
  const char* workload_class;
  int64_t share_milli;  // of all jobs
  std::vector<int64_t> gpus;
  std::vector<int64_t> weights;
  int64_t min_seconds, max_seconds;  // before scaling
  const char* accelerators;          // YAML flow list, or "" for any
  const char* checkpoint;            // "" for none
  int32_t priority;
};

std::vector<StreamSpec> Streams() {
  return {
      {"dev",
       "training",
       "research",
       600,
       {1, 2, 4, 8},
       {40, 20, 20, 20},
       300,
       8 * 3600,
       "[H100, H200, A100, MI300X]",
       "",
       50},
      {"ft",
       "training",
       "training",
       250,
       {8, 16, 32, 64, 128},
       {40, 25, 15, 12, 8},
       1800,
       24 * 3600,
       "[H100, H200, B200]",
       "1h",
       100},
      {"bt", "batch", "batch", 140, {1, 8, 16, 64}, {40, 30, 20, 10}, 600, 12 * 3600, "", "", 0},
      {"pt",
       "training",
       "pretraining",
       10,
       {256, 512, 1024, 2048, 4096, 8192},
       {40, 25, 15, 10, 6, 4},
       6 * 3600,
       7 * 86400,
       "[B200, GB200, GB300]",
       "2h",
       200},
  };
}

std::string Num(int64_t v) { return std::to_string(v); }

// Zero-padded index: Pad(7, 10000) == "00007".
std::string Pad(int64_t i, int64_t count) {
  const size_t width = std::to_string(std::max<int64_t>(count - 1, 1)).size();
  std::string s = std::to_string(i);
  return std::string(width > s.size() ? width - s.size() : 0, '0') + s;
}

std::string Money6(int64_t micros) { return FormatMoneyExact(Money::FromMicros(micros)); }

// Watts as megawatts with six places (exact).
std::string Megawatts(int64_t watts) {
  std::string frac = std::to_string(watts % 1'000'000);
  return std::to_string(watts / 1'000'000) + "." + std::string(6 - frac.size(), '0') + frac;
}

struct PoolPlan {
  int64_t weight = 0;
  int32_t site = 0;
  int mix = 0;
  int64_t size = 0;
  int pricing = 0;  // 0 reserved, 1 on-demand, 2 spot
  int ramp = 0;     // 0 none, 1 step, 2 linear
  int64_t ramp_days = 0;
  int64_t price_micros = 0;
};

}  // namespace

Status ValidateOptions(const ScaleOptions& o) {
  // Upper bounds first, so nothing below multiplies an unchecked value.
  if (o.providers < 1 || o.providers > kMaxProviders)
    return InvalidArgument("--providers must be between 1 and " + Num(kMaxProviders));
  if (o.pools < 1 || o.pools > kMaxPools)
    return InvalidArgument("--pools must be between 1 and " + Num(kMaxPools) +
                           " (the scenario file must stay under the loader's size limit)");
  if (o.gpus > kMaxGpus)
    return InvalidArgument("--gpus must be at most " + Num(kMaxGpus) +
                           " (100 times the benchmarked million-GPU world)");
  if (o.sites < o.providers) return InvalidArgument("--sites must be at least --providers");
  if (o.pools < o.sites) return InvalidArgument("--pools must be at least --sites");
  if (o.gpus < 8 * static_cast<int64_t>(o.pools))
    return InvalidArgument("--gpus must be at least 8 per pool (" + Num(8LL * o.pools) + ")");
  if (o.jobs < 0 || o.jobs > io::kMaxStreamJobs)
    return InvalidArgument("--jobs must be between 0 and " + Num(io::kMaxStreamJobs) +
                           " (the loader's limit on jobs from job streams)");
  if (o.services < 0 || o.services > 1000)
    return InvalidArgument("--services must be between 0 and 1000");
  if (o.days < 1 || o.days > 3650) return InvalidArgument("--days must be between 1 and 3650");
  if (o.load_milli < 1 || o.load_milli > 10'000)
    return InvalidArgument("the load must be between 0.001 and 10");
  return Status::Ok();
}

std::string GenerateScenarioYaml(const ScaleOptions& o) {
  const Time start = o.start;
  const Time end = start + Duration::Days(o.days);
  const uint64_t seed = o.seed;
  std::string y;
  y.reserve(static_cast<size_t>(o.pools) * 160 + 4096);
  y += "# Generated by `polycloud generate` (src/gen): " + Num(o.gpus) + " GPUs, " +
       Num(o.providers) + " providers, " + Num(o.sites) + " sites, " + Num(o.pools) + " pools, " +
       Num(o.jobs) + " jobs, " + Num(o.services) + " services, seed " + std::to_string(seed) +
       ".\n";
  y += "name: scale-" + Num(o.gpus) + "-gpus-" + Num(o.jobs) + "-jobs\n";
  y += "start: " + FormatTime(start) + "\nend: " + FormatTime(end) +
       "\nseed: " + std::to_string(seed) + "\n\n";

  // Providers.
  y += "providers:\n";
  for (int32_t p = 0; p < o.providers; ++p) y += "  - {id: prov-" + Pad(p, o.providers) + "}\n";

  // Sites: round-robin over providers so each has at least one.
  Rng site_rng = Rng::Fork(seed, "sites");
  std::vector<int32_t> site_provider(o.sites);
  std::vector<int64_t> site_pue(o.sites);
  for (int32_t s = 0; s < o.sites; ++s) {
    site_provider[s] = s % o.providers;
    site_pue[s] = 1100 + static_cast<int64_t>(site_rng.Below(301));  // 1.100 .. 1.400
  }

  // Pools: heavy-tailed sizes (Pareto, alpha 1: weight = 2^20 / U), the
  // largest 2% on the accelerators that hold large training pools.
  Rng pool_rng = Rng::Fork(seed, "pools");
  std::vector<PoolPlan> pools(o.pools);
  constexpr int64_t kScale = int64_t{1} << 20;
  const int64_t cap = kScale / 4;  // no pool takes more than ~a few percent
  for (int32_t i = 0; i < o.pools; ++i) {
    PoolPlan& p = pools[i];
    p.weight = std::min(cap, kScale / (1 + static_cast<int64_t>(pool_rng.Below(kScale))));
    // Every site gets a pool; the rest go to random sites.
    p.site = i < o.sites ? i : static_cast<int32_t>(pool_rng.Below(o.sites));
  }
  std::vector<int32_t> order(o.pools);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return pools[a].weight > pools[b].weight; });
  const int32_t large_count = std::max<int32_t>(1, o.pools / 50);
  int64_t large_share = 0;
  for (const auto& m : kMix) large_share += m.large ? m.share_milli : 0;
  for (int32_t rank = 0; rank < o.pools; ++rank) {
    PoolPlan& p = pools[order[rank]];
    const bool large = rank < large_count;
    int64_t pick = static_cast<int64_t>(pool_rng.Below(large ? large_share : 1000));
    int m = 0;
    for (; m < kMixSize - 1; ++m) {
      const int64_t share = large && !kMix[m].large ? 0 : kMix[m].share_milli;
      if (pick < share) break;
      pick -= share;
    }
    if (large && !kMix[m].large) m = 3;  // GB200
    p.mix = m;
    // Large pools are reserved under contract; the rest are on-demand or spot,
    // with a tenth of them reserved as well.
    const uint64_t r = pool_rng.Below(10);
    p.pricing = large || r == 0 ? 0 : r <= 6 ? 1 : 2;
  }
  // Sizes: one node each, the rest in proportion to the weights, whole nodes;
  // what rounding leaves goes to the largest pool, so the total is exact.
  int64_t base = 0, weights = 0;
  for (const PoolPlan& p : pools) {
    base += kMix[p.mix].gpus_per_node;
    weights += p.weight;
  }
  const int64_t spread = o.gpus - base;
  int64_t assigned = base;
  for (PoolPlan& p : pools) {
    const int64_t node = kMix[p.mix].gpus_per_node;
    const int64_t extra = MulDivRound(spread, p.weight, weights);
    p.size = node + std::max<int64_t>(0, std::min(extra, spread) / node * node);
    assigned += p.size - node;
  }
  // Rounding may overshoot by a little; take it back from the largest pools.
  for (int32_t rank = 0; assigned > o.gpus; rank = (rank + 1) % o.pools) {
    PoolPlan& p = pools[order[rank]];
    const int64_t node = kMix[p.mix].gpus_per_node;
    const int64_t take = std::min(assigned - o.gpus, p.size - node);
    p.size -= take;
    assigned -= take;
  }
  pools[order[0]].size += o.gpus - assigned;
  // Ramps (never on the largest pool, which holds the rounding remainder),
  // prices with a ±10% spread.
  for (int32_t rank = 0; rank < o.pools; ++rank) {
    PoolPlan& p = pools[order[rank]];
    const uint64_t r = pool_rng.Below(100);
    p.ramp = rank == 0 ? 0 : r < 20 ? 1 : r < 25 ? 2 : 0;
    p.ramp_days = 30 + static_cast<int64_t>(pool_rng.Below(std::max<int64_t>(1, o.days / 2)));
    const int64_t list = kMix[p.mix].reserved_micros *
                         (p.pricing == 0   ? 10
                          : p.pricing == 1 ? 25
                                           : 13) /
                         10;
    p.price_micros = list * (900 + static_cast<int64_t>(pool_rng.Below(201))) / 1000;
  }

  // Contracts: one per provider, over the whole run and beyond, with a
  // commitment (take-or-pay for every other provider). The first provider's
  // holds an exclusivity clause for the stateless API over the first half
  // of the run; the last provider's starts 60 days in (a late ramp).
  std::vector<int64_t> provider_reserved(o.providers, 0);
  for (const PoolPlan& p : pools) {
    if (p.pricing == 0) provider_reserved[site_provider[p.site]] += p.size;
  }
  y += "\ncontracts:\n";
  for (int32_t p = 0; p < o.providers; ++p) {
    const Time c_start = p == o.providers - 1 && o.providers >= 3 && o.days > 120
                             ? start + Duration::Days(60)
                             : start - Duration::Days(365);
    // Commitment: a year of the provider's reserved GPUs at $2/GPU-hour.
    const int64_t committed_dollars = provider_reserved[p] * 2 * 24 * 365;
    y += "  - id: contract-" + Pad(p, o.providers) + "\n    provider: prov-" + Pad(p, o.providers) +
         "\n    start: " + FormatTime(c_start) +
         "\n    end: " + FormatTime(start + Duration::Days(3 * 365)) +
         "\n    committed_usd: " + Num(committed_dollars) +
         "\n    take_or_pay: " + (p % 2 == 0 ? "true" : "false") + "\n";
    if (p == 0 && o.services > 0) {
      y += "    exclusivity:\n      - {class: stateless-api, until: " +
           FormatTime(start + Duration::Days(std::max(1, o.days / 2))) +
           ", outage_exception: true}\n";
    }
  }

  // Sites, with power: every third site is power-limited, at exactly what its
  // pools draw at peak at full board power until day 120, then 105% (a site
  // must power everything installed in it: world/power.h).
  std::vector<int64_t> site_peak_watts(o.sites, 0);
  const auto& builtin = world::BuiltinAccelerators();
  auto builtin_watts = [&](const char* name) {
    for (const auto& a : builtin) {
      if (a.name == name) return a.watts.watts();
    }
    return int64_t{700};
  };
  for (const PoolPlan& p : pools) {
    site_peak_watts[p.site] +=
        MulDivRound(p.size * builtin_watts(kMix[p.mix].name), site_pue[p.site], 1000);
  }
  y += "\nsites:\n";
  for (int32_t s = 0; s < o.sites; ++s) {
    y += "  - {id: site-" + Pad(s, o.sites) + ", provider: prov-" +
         Pad(site_provider[s], o.providers) + ", region: " + kRegions[s % 8] +
         ", pue: " + Num(site_pue[s] / 1000) + "." + Pad(site_pue[s] % 1000, 1000);
    if (s % 3 == 2) {
      // A kilowatt more than the pools' rounded sum, so the installed draw always fits.
      const int64_t low = site_peak_watts[s] + 1000, high = site_peak_watts[s] * 105 / 100 + 1000;
      y += ", power_mw: [{at: " + FormatTime(start) + ", mw: " + Megawatts(low) +
           "}, {at: " + FormatTime(start + Duration::Days(std::min(120, o.days - 1) + 1)) +
           ", mw: " + Megawatts(high) + "}]";
    }
    y += "}\n";
  }

  y += "\npools:\n";
  for (int32_t i = 0; i < o.pools; ++i) {
    const PoolPlan& p = pools[i];
    const AcceleratorMix& m = kMix[p.mix];
    const int32_t provider = site_provider[p.site];
    y += "  - {id: pool-" + Pad(i, o.pools) + ", site: site-" + Pad(p.site, o.sites) +
         ", accelerator: " + m.name + ", pricing: " +
         (p.pricing == 0   ? "reserved"
          : p.pricing == 1 ? "on-demand"
                           : "spot");
    if (p.ramp == 0) {
      y += ", gpus: " + Num(p.size);
    } else {
      const int64_t first = p.size / 2 / m.gpus_per_node * m.gpus_per_node;
      if (p.ramp == 2) y += ", ramp: linear";
      y += ", gpus: [{at: " + FormatTime(start) + ", gpus: " + Num(first) +
           "}, {at: " + FormatTime(start + Duration::Days(p.ramp_days)) + ", gpus: " + Num(p.size) +
           "}]";
    }
    y += ", price_per_gpu_hour: " + Money6(p.price_micros) +
         ", gpus_per_node: " + Num(m.gpus_per_node);
    if (m.domain_size != m.gpus_per_node) y += ", domain_size: " + Num(m.domain_size);
    if (p.pricing == 0) y += ", contract: contract-" + Pad(provider, o.providers);
    y += "}\n";
  }

  // Jobs: streams whose durations are scaled so that the offered load is
  // load_milli of the fleet at reference speed. Gang sizes larger than half
  // the largest pool of the stream's accelerators are left out (small fleets).
  std::vector<StreamSpec> streams = Streams();
  int64_t largest_large_pool = 0, largest_pool = 0;
  for (const PoolPlan& p : pools) {
    largest_pool = std::max(largest_pool, p.size);
    if (kMix[p.mix].large) largest_large_pool = std::max(largest_large_pool, p.size);
  }
  std::vector<int64_t> counts(streams.size(), 0);
  int64_t given = 0;
  for (size_t k = 1; k < streams.size(); ++k) {
    counts[k] = o.jobs * streams[k].share_milli / 1000;
    given += counts[k];
  }
  counts[0] = o.jobs - given;
  double offered = 0;  // GPU-seconds before scaling
  for (size_t k = 0; k < streams.size(); ++k) {
    StreamSpec& s = streams[k];
    const int64_t limit = std::max<int64_t>(
        1, (s.accelerators[0] != '\0' && k == 3 ? largest_large_pool : largest_pool) / 2);
    std::vector<int64_t> g, w;
    for (size_t i = 0; i < s.gpus.size(); ++i) {
      if (s.gpus[i] <= limit || i == 0) {
        g.push_back(std::min(s.gpus[i], limit));
        w.push_back(s.weights[i]);
      }
    }
    s.gpus = g;
    s.weights = w;
    const double total_w = static_cast<double>(std::accumulate(w.begin(), w.end(), int64_t{0}));
    double mean_gpus = 0;
    for (size_t i = 0; i < g.size(); ++i) mean_gpus += static_cast<double>(g[i] * w[i]) / total_w;
    const double a = static_cast<double>(s.min_seconds), b = static_cast<double>(s.max_seconds);
    // ln(b/a) in integers (portable_math.h), so the file is the same on every platform.
    const double mean_seconds = (b - a) / LnOfRatio(s.max_seconds, s.min_seconds);
    offered += static_cast<double>(counts[k]) * mean_gpus * mean_seconds;
  }
  const double capacity = static_cast<double>(o.gpus) * static_cast<double>(o.days) * 86400.0;
  const double scale =
      offered > 0 ? capacity * static_cast<double>(o.load_milli) / 1000.0 / offered : 1.0;
  y += "\njob_streams:\n";
  for (size_t k = 0; k < streams.size(); ++k) {
    if (counts[k] == 0) continue;
    const StreamSpec& s = streams[k];
    const int64_t lo =
        std::max<int64_t>(60, std::llround(static_cast<double>(s.min_seconds) * scale));
    const int64_t hi =
        std::max<int64_t>(lo, std::llround(static_cast<double>(s.max_seconds) * scale));
    y += "  - id: " + std::string(s.id) + "\n    kind: " + s.kind +
         "\n    class: " + s.workload_class + "\n    count: " + Num(counts[k]) + "\n    gpus: [";
    for (size_t i = 0; i < s.gpus.size(); ++i) y += (i ? ", " : "") + Num(s.gpus[i]);
    y += "]\n    gpu_weights: [";
    for (size_t i = 0; i < s.weights.size(); ++i) y += (i ? ", " : "") + Num(s.weights[i]);
    y += "]\n    duration: {min: " + Num(lo) + "s, max: " + Num(hi) + "s}\n";
    if (s.accelerators[0] != '\0') y += "    accelerators: " + std::string(s.accelerators) + "\n";
    if (s.checkpoint[0] != '\0') y += "    checkpoint_every: " + std::string(s.checkpoint) + "\n";
    y += "    priority: " + Num(s.priority) + "\n";
  }

  // Services: about 8% of the fleet at the daily peak, growing by half over
  // the run; demand changes every six hours.
  if (o.services > 0) {
    y += "\nservices:\n";
    constexpr int64_t kTokensPerReplica = 25'000;
    constexpr int64_t kCycle[] = {600, 1000, 1200, 800};  // thousandths, every 6 hours
    const int64_t replicas =
        std::max<int64_t>(2, o.gpus * 8 / 100 / 8 / o.services);  // per service at peak
    for (int32_t v = 0; v < o.services; ++v) {
      const bool api = v == 0;
      y += "  - id: svc-" + Pad(v, o.services) + "\n    model: model-" + Num(v % 3) +
           "\n    class: " + (api ? "stateless-api" : "inference") +
           "\n    gpus_per_replica: 8\n    replica_tokens_per_s: " + Num(kTokensPerReplica) +
           "\n    accelerators: [H100, H200, B200]\n    min_providers: " +
           Num(std::min<int32_t>(2, o.providers)) + "\n    demand:\n";
      const int64_t base = replicas * kTokensPerReplica / 1200 * 1000 / 1500;
      for (int64_t q = 0; q < int64_t{o.days} * 4; ++q) {
        const int64_t growth = 1000 + 500 * q / (int64_t{o.days} * 4);
        const int64_t demand = base * kCycle[q % 4] / 1000 * growth / 1000;
        y += "      - {at: " + FormatTime(start + Duration::Hours(6 * q)) +
             ", tokens_per_s: " + Num(demand) + "}\n";
      }
    }
  }

  // Faults: a provider outage (the exclusivity holder's, so the outage
  // exception is exercised), site outages and capacity cuts.
  Rng fault_rng = Rng::Fork(seed, "faults");
  const int32_t faults = std::max<int32_t>(2, o.pools / 2000);
  y += "\nfaults:\n";
  for (int32_t f = 0; f < faults; ++f) {
    const Time at =
        start +
        Duration::Hours(static_cast<int64_t>(fault_rng.Below(static_cast<uint64_t>(o.days) * 24)));
    y += "  - {id: fault-" + Pad(f, faults) + ", ";
    if (f == 0) {
      y += "target: {provider: prov-" + Pad(0, o.providers) + "}, start: " + FormatTime(at) +
           ", duration: 6h}\n";
    } else if (f % 2 == 1) {
      y += "target: {site: site-" + Pad(static_cast<int64_t>(fault_rng.Below(o.sites)), o.sites) +
           "}, start: " + FormatTime(at) + ", duration: 1d}\n";
    } else {
      y += "target: {pool: pool-" + Pad(static_cast<int64_t>(fault_rng.Below(o.pools)), o.pools) +
           "}, kind: capacity_cut, fraction: 0.5, start: " + FormatTime(at) + ", duration: 2d}\n";
    }
  }
  return y;
}

Result<io::Scenario> GenerateScenario(const ScaleOptions& options) {
  POLYCLOUD_RETURN_IF_ERROR(ValidateOptions(options));
  return io::LoadScenarioString(GenerateScenarioYaml(options), "generated.yaml");
}

}  // namespace polycloud::gen
