#include "polycloud/optimize/batch.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <map>
#include <numeric>
#include <string>
#include <tuple>

#include "transport.h"

namespace polycloud::optimize {
namespace {

bool AllowsAccelerator(const Instance& in, const QueuedJob& job, world::AcceleratorIndex a) {
  const auto& set = in.accelerator_sets[job.accelerator_set];
  return set.empty() || std::find(set.begin(), set.end(), a) != set.end();
}

// Pools of each accelerator ordered by (price, index), with a max-segment tree
// over each pool's largest usable gang, min(free, max_gang): the cheapest pool
// of an accelerator where a gang fits is found in O(log pools).
class PoolFinder {
 public:
  PoolFinder(const Instance& in, std::vector<int64_t>* free) : in_(in), free_(*free) {
    lists_.resize(in.accelerator_count);
    position_.assign(in.pools.size(), 0);
    for (size_t p = 0; p < in.pools.size(); ++p) {
      POLYCLOUD_CHECK(in.pools[p].accelerator >= 0 &&
                      in.pools[p].accelerator < in.accelerator_count);
      lists_[in.pools[p].accelerator].order.push_back(static_cast<int32_t>(p));
    }
    for (List& l : lists_) {
      std::sort(l.order.begin(), l.order.end(), [&](int32_t a, int32_t b) {
        const int64_t pa = in.pools[a].price_per_gpu_hour.micros();
        const int64_t pb = in.pools[b].price_per_gpu_hour.micros();
        return pa != pb ? pa < pb : a < b;
      });
      l.leaves = 1;
      while (l.leaves < l.order.size()) l.leaves *= 2;
      l.tree.assign(2 * l.leaves, -1);
      for (size_t i = 0; i < l.order.size(); ++i) {
        position_[l.order[i]] = static_cast<int32_t>(i);
        l.tree[l.leaves + i] = Fit(l.order[i]);
      }
      for (size_t i = l.leaves; i-- > 1;) l.tree[i] = std::max(l.tree[2 * i], l.tree[2 * i + 1]);
    }
  }

  // The pool where `job` fits now and costs least (ties: lower index), or kUnplaced.
  int32_t Cheapest(const QueuedJob& job) const {
    int32_t best = kUnplaced;
    int64_t best_cost = 0;
    auto consider = [&](world::AcceleratorIndex a) {
      const int32_t p = FirstFit(lists_[a], job.gpus);
      if (p == kUnplaced) return;
      const int64_t c = JobCost(job, in_.pools[p]).micros();
      if (best == kUnplaced || c < best_cost || (c == best_cost && p < best)) {
        best = p;
        best_cost = c;
      }
    };
    const auto& set = in_.accelerator_sets[job.accelerator_set];
    if (set.empty()) {
      for (int32_t a = 0; a < in_.accelerator_count; ++a) consider(a);
    } else {
      for (world::AcceleratorIndex a : set) consider(a);
    }
    return best;
  }

  // Allocates `gpus` of `pool` (negative: gives them back).
  void Take(int32_t pool, int64_t gpus) {
    free_[pool] -= gpus;
    POLYCLOUD_CHECK(free_[pool] >= 0);
    List& l = lists_[in_.pools[pool].accelerator];
    size_t i = l.leaves + position_[pool];
    l.tree[i] = Fit(pool);
    for (i /= 2; i >= 1; i /= 2) l.tree[i] = std::max(l.tree[2 * i], l.tree[2 * i + 1]);
  }

 private:
  struct List {
    std::vector<int32_t> order;
    size_t leaves = 1;
    std::vector<int64_t> tree;
  };
  int64_t Fit(int32_t p) const { return std::min(free_[p], in_.pools[p].max_gang); }

  // Leftmost pool of the list, from position `from`, whose fit is >= gang and
  // whose free GPUs cover the gang's allocation (whole nodes).
  int32_t FirstFit(const List& l, int64_t gang) const {
    size_t from = 0;
    while (from < l.order.size()) {
      const int64_t i = Leftmost(l, 1, 0, l.leaves, from, gang);
      if (i < 0) return kUnplaced;
      const int32_t p = l.order[i];
      if (AllocationSize(in_.pools[p], gang) <= free_[p]) return p;
      from = static_cast<size_t>(i) + 1;
    }
    return kUnplaced;
  }
  int64_t Leftmost(const List& l, size_t node, size_t lo, size_t hi, size_t from,
                   int64_t gang) const {
    if (hi <= from || l.tree[node] < gang) return -1;
    if (hi - lo == 1) return static_cast<int64_t>(lo);
    const size_t mid = (lo + hi) / 2;
    const int64_t left = Leftmost(l, 2 * node, lo, mid, from, gang);
    if (left >= 0) return left;
    return Leftmost(l, 2 * node + 1, mid, hi, from, gang);
  }

  const Instance& in_;
  std::vector<int64_t>& free_;
  std::vector<List> lists_;
  std::vector<int32_t> position_;
};

// Whether job a has more work per GPU than job b.
bool MoreWorkPerGpu(const QueuedJob& a, const QueuedJob& b) {
  return static_cast<__int128>(a.work_gpu_seconds) * b.gpus >
         static_cast<__int128>(b.work_gpu_seconds) * a.gpus;
}

// Bucket of work per GPU: `per_doubling` equal parts of each power of two.
int64_t WorkBucket(const QueuedJob& job, int32_t per_doubling) {
  const uint64_t a = static_cast<uint64_t>(job.work_gpu_seconds / std::max<int64_t>(1, job.gpus));
  if (a == 0 || per_doubling == 0) return -1;
  const int msb = std::bit_width(a) - 1;
  const uint64_t rest = a - (uint64_t{1} << msb);
  const uint64_t part =
      static_cast<uint64_t>((static_cast<unsigned __int128>(rest) * per_doubling) >> msb);
  return static_cast<int64_t>(msb) * per_doubling + static_cast<int64_t>(part);
}

// Penalty per GPU of each job's band, and a check that the flow's figures fit 64 bits.
std::vector<int64_t> JobPenalties(const Instance& in) {
  const std::vector<int32_t> bands = PriorityBands(in);
  const int64_t base = PenaltyPerGpu(in).micros();
  std::vector<int64_t> penalty(in.jobs.size());
  __int128 worst = 0;
  for (size_t j = 0; j < in.jobs.size(); ++j) {
    penalty[j] = base * (bands[j] + 1);
    worst += static_cast<__int128>(penalty[j]) * in.jobs[j].gpus;
  }
  // LEMON keeps costs and potentials in int64 and needs headroom above them.
  POLYCLOUD_CHECK(worst < (static_cast<__int128>(1) << 61));
  return penalty;
}

// Best-fit packing of gangs into one pool group's pools: the pool with the
// smallest fit that still takes the gang (ties: lower index).
class GroupPacker {
 public:
  GroupPacker(const Instance& in, const std::vector<int32_t>& pools, std::vector<int64_t>* free)
      : in_(in), free_(*free) {
    for (int32_t p : pools) by_fit_.emplace(std::make_pair(Fit(p), p), 0);
  }
  int32_t Place(int64_t gang) {
    for (auto it = by_fit_.lower_bound({gang, -1}); it != by_fit_.end(); ++it) {
      const int32_t p = it->first.second;
      const int64_t alloc = AllocationSize(in_.pools[p], gang);
      if (alloc > free_[p]) continue;
      by_fit_.erase(it);
      free_[p] -= alloc;
      by_fit_.emplace(std::make_pair(Fit(p), p), 0);
      return p;
    }
    return kUnplaced;
  }

 private:
  int64_t Fit(int32_t p) const { return std::min(free_[p], in_.pools[p].max_gang); }
  const Instance& in_;
  std::vector<int64_t>& free_;
  std::map<std::pair<int64_t, int32_t>, char> by_fit_;
};

// Solves the flow of `sources`, first solving the coarse flow of their
// (accelerator set, level, band) merges to seed the choice of first arcs.
internal::TransportResult SolveSeeded(const Instance& in, const internal::PoolGroups& pg,
                                      const std::vector<internal::Source>& sources,
                                      FlowAlgorithm algorithm, int32_t coarse_rounds,
                                      int32_t rounds) {
  std::vector<internal::Source> coarse = internal::CoarsenSources(sources);
  if (coarse.size() * 4 > sources.size())
    return internal::SolveTransport(in, pg, sources, algorithm, nullptr, rounds);
  const internal::TransportResult seed =
      internal::SolveTransport(in, pg, coarse, algorithm, nullptr, coarse_rounds);
  internal::TransportResult r =
      internal::SolveTransport(in, pg, sources, algorithm, &seed.group_potential, rounds);
  r.stats.rounds += seed.stats.rounds;
  return r;
}

}  // namespace

int64_t AllocationSize(const PoolCapacity& pool, int64_t gang) {
  const int64_t node = std::max<int64_t>(1, pool.gpus_per_node);
  if (gang <= node) return gang;
  return (gang + node - 1) / node * node;
}

int64_t RunSeconds(const QueuedJob& job, const PoolCapacity& pool) {
  const __int128 rate = static_cast<__int128>(std::max<int64_t>(1, job.gpus)) * pool.speed_milli;
  const __int128 s = (static_cast<__int128>(job.work_gpu_seconds) * 1000 + rate - 1) / rate;
  return std::max<int64_t>(1, static_cast<int64_t>(s));
}

Money JobCost(const QueuedJob& job, const PoolCapacity& pool) {
  return CostOfGpuSeconds(RunSeconds(job, pool), pool.price_per_gpu_hour) *
         AllocationSize(pool, job.gpus);
}

bool Admits(const Instance& in, const QueuedJob& job, const PoolCapacity& pool) {
  return job.gpus <= pool.max_gang && AllowsAccelerator(in, job, pool.accelerator);
}

std::vector<int32_t> PriorityBands(const Instance& in) {
  std::vector<int32_t> distinct;
  for (const QueuedJob& j : in.jobs) distinct.push_back(j.priority);
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  const int64_t n = static_cast<int64_t>(distinct.size());
  std::vector<int32_t> bands(in.jobs.size());
  for (size_t j = 0; j < in.jobs.size(); ++j) {
    const int64_t rank =
        std::lower_bound(distinct.begin(), distinct.end(), in.jobs[j].priority) - distinct.begin();
    bands[j] = static_cast<int32_t>(n <= kMaxPriorityBands ? rank : rank * kMaxPriorityBands / n);
  }
  return bands;
}

Money PenaltyPerGpu(const Instance& in) {
  if (in.jobs.empty()) return Money::FromMicros(1);
  size_t most = 0;
  for (size_t j = 1; j < in.jobs.size(); ++j) {
    if (MoreWorkPerGpu(in.jobs[j], in.jobs[most])) most = j;
  }
  int64_t worst = 0;
  for (const PoolCapacity& p : in.pools) {
    worst = std::max(worst,
                     CostOfGpuSeconds(RunSeconds(in.jobs[most], p), p.price_per_gpu_hour).micros());
  }
  return Money::FromMicros(worst + 1);
}

Evaluation Evaluate(const Instance& in, const Plan& plan) {
  POLYCLOUD_CHECK(plan.pool_of_job.size() == in.jobs.size());
  const std::vector<int32_t> bands = PriorityBands(in);
  const int64_t base = PenaltyPerGpu(in).micros();
  Evaluation e;
  for (size_t j = 0; j < in.jobs.size(); ++j) {
    const QueuedJob& job = in.jobs[j];
    const int32_t p = plan.pool_of_job[j];
    if (p == kUnplaced) {
      ++e.unplaced_jobs;
      e.unplaced_gpus += job.gpus;
      e.penalty += Money::FromMicros(base * (bands[j] + 1) * job.gpus);
    } else {
      ++e.placed_jobs;
      e.placed_gpus += AllocationSize(in.pools[p], job.gpus);
      e.spend += JobCost(job, in.pools[p]);
    }
  }
  return e;
}

Status CheckPlan(const Instance& in, const Plan& plan) {
  if (plan.pool_of_job.size() != in.jobs.size())
    return Internal("plan has " + std::to_string(plan.pool_of_job.size()) + " entries for " +
                    std::to_string(in.jobs.size()) + " jobs");
  std::vector<int64_t> used(in.pools.size(), 0);
  for (size_t j = 0; j < in.jobs.size(); ++j) {
    const int32_t p = plan.pool_of_job[j];
    if (p == kUnplaced) continue;
    if (p < 0 || p >= static_cast<int32_t>(in.pools.size()))
      return Internal("job " + std::to_string(j) + " in unknown pool " + std::to_string(p));
    if (!Admits(in, in.jobs[j], in.pools[p]))
      return Internal("pool " + std::to_string(p) + " does not admit job " + std::to_string(j));
    used[p] += AllocationSize(in.pools[p], in.jobs[j].gpus);
  }
  for (size_t p = 0; p < in.pools.size(); ++p) {
    if (used[p] > in.pools[p].free_gpus)
      return Internal("pool " + std::to_string(p) + " over capacity: " + std::to_string(used[p]) +
                      " of " + std::to_string(in.pools[p].free_gpus) + " GPUs");
  }
  return Status::Ok();
}

Plan SolveGreedy(const Instance& in) {
  std::vector<int64_t> free(in.pools.size());
  for (size_t p = 0; p < in.pools.size(); ++p) free[p] = in.pools[p].free_gpus;
  PoolFinder finder(in, &free);
  Plan plan;
  plan.pool_of_job.assign(in.jobs.size(), kUnplaced);
  for (size_t j = 0; j < in.jobs.size(); ++j) {
    const QueuedJob& job = in.jobs[j];
    const int32_t p = finder.Cheapest(job);
    if (p == kUnplaced) continue;
    plan.pool_of_job[j] = p;
    finder.Take(p, AllocationSize(in.pools[p], job.gpus));
  }
  return plan;
}

BatchResult SolveBatch(const Instance& in, const BatchOptions& options) {
  POLYCLOUD_CHECK(options.work_buckets_per_doubling >= 0 &&
                  options.work_buckets_per_doubling <= 64);
  BatchResult result;
  Plan& plan = result.plan;
  plan.pool_of_job.assign(in.jobs.size(), kUnplaced);
  if (in.jobs.empty()) return result;
  const std::vector<int32_t> bands = PriorityBands(in);
  const std::vector<int64_t> penalty = JobPenalties(in);
  const internal::PoolGroups pg = internal::BuildPoolGroups(in);

  // Classes: jobs of one accelerator set, gang size, band and work bucket,
  // contiguous in `order`, each class's jobs by most work per GPU first.
  std::vector<int64_t> bucket(in.jobs.size());
  for (size_t j = 0; j < in.jobs.size(); ++j)
    bucket[j] = WorkBucket(in.jobs[j], options.work_buckets_per_doubling);
  auto class_key = [&](int32_t j) {
    const QueuedJob& job = in.jobs[j];
    return std::make_tuple(job.accelerator_set, job.gpus, bands[j], bucket[j]);
  };
  std::vector<int32_t> order(in.jobs.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    const auto ka = class_key(a), kb = class_key(b);
    if (ka != kb) return ka < kb;
    if (MoreWorkPerGpu(in.jobs[a], in.jobs[b])) return true;
    if (MoreWorkPerGpu(in.jobs[b], in.jobs[a])) return false;
    return a < b;
  });
  std::vector<internal::Source> sources;
  std::vector<size_t> class_begin;
  for (size_t i = 0; i < order.size(); ++i) {
    const int32_t j = order[i];
    const QueuedJob& job = in.jobs[j];
    if (i == 0 || class_key(j) != class_key(order[i - 1])) {
      class_begin.push_back(i);
      internal::Source s;
      s.level = pg.LevelOf(job.gpus);
      s.accelerator_set = job.accelerator_set;
      s.penalty_per_gpu = penalty[j];
      s.gpus = 0;
      sources.push_back(s);
    }
    internal::Source& s = sources.back();
    s.supply += job.gpus;
    s.gpus += job.gpus;
    s.work += job.work_gpu_seconds;
  }
  class_begin.push_back(order.size());

  internal::TransportResult flow =
      SolveSeeded(in, pg, sources, options.algorithm, options.coarse_rounds, options.class_rounds);
  result.stats = flow.stats;

  // A class's flows, cheapest first, are laid end to end over its jobs (most
  // work per GPU first); a job goes to the group that holds the middle of its
  // GPUs. A group may so receive up to half a gang more than its flow per
  // split class; the packing below leaves out the smallest, shortest gangs,
  // which the repair places where the rounding left room. (Rounding every
  // split down instead strands the pieces and sends whole large gangs to the
  // repair: about ten times the loss on the benchmark instances.) The flow to
  // the sink comes last: jobs there wait unless the repair finds room.
  std::vector<std::vector<int32_t>> jobs_of_group(pg.groups.size());
  std::vector<int32_t> leftover;
  size_t f = 0;
  std::vector<internal::Flow> mine;
  for (size_t c = 0; c < sources.size(); ++c) {
    mine.clear();
    while (f < flow.flows.size() && flow.flows[f].source == static_cast<int32_t>(c))
      mine.push_back(flow.flows[f++]);
    std::stable_sort(mine.begin(), mine.end(),
                     [](const internal::Flow& a, const internal::Flow& b) {
                       if ((a.group == kUnplaced) != (b.group == kUnplaced))
                         return b.group == kUnplaced;
                       return a.unit_cost < b.unit_cost;
                     });
    const int64_t gang = in.jobs[order[class_begin[c]]].gpus;
    size_t k = 0;
    int64_t flow_end = mine.empty() ? 0 : mine[0].gpus;
    int64_t at = 0;
    for (size_t i = class_begin[c]; i < class_begin[c + 1]; ++i) {
      const int32_t j = order[i];
      const int64_t middle = at + gang / 2;
      at += gang;
      while (k < mine.size() && middle >= flow_end) {
        ++k;
        if (k < mine.size()) flow_end += mine[k].gpus;
      }
      if (k < mine.size() && mine[k].group != kUnplaced) {
        jobs_of_group[mine[k].group].push_back(j);
      } else {
        leftover.push_back(j);
      }
    }
  }

  // Whole gangs into the pools of their group: largest first, best fit.
  std::vector<int64_t> free(in.pools.size());
  for (size_t p = 0; p < in.pools.size(); ++p) free[p] = in.pools[p].free_gpus;
  for (size_t g = 0; g < pg.groups.size(); ++g) {
    std::vector<int32_t>& js = jobs_of_group[g];
    if (js.empty()) continue;
    std::sort(js.begin(), js.end(), [&](int32_t a, int32_t b) {
      if (in.jobs[a].gpus != in.jobs[b].gpus) return in.jobs[a].gpus > in.jobs[b].gpus;
      if (bands[a] != bands[b]) return bands[a] > bands[b];
      if (MoreWorkPerGpu(in.jobs[a], in.jobs[b])) return true;
      if (MoreWorkPerGpu(in.jobs[b], in.jobs[a])) return false;
      return a < b;
    });
    GroupPacker packer(in, pg.groups[g].pools, &free);
    for (int32_t j : js) {
      const int32_t p = packer.Place(in.jobs[j].gpus);
      if (p == kUnplaced) {
        leftover.push_back(j);
      } else {
        plan.pool_of_job[j] = p;
      }
    }
  }

  // Repair: what the rounding or the packing left over, highest band and
  // largest gang first, to the cheapest pool where it fits now.
  std::sort(leftover.begin(), leftover.end(), [&](int32_t a, int32_t b) {
    if (bands[a] != bands[b]) return bands[a] > bands[b];
    if (in.jobs[a].gpus != in.jobs[b].gpus) return in.jobs[a].gpus > in.jobs[b].gpus;
    return a < b;
  });
  PoolFinder finder(in, &free);
  auto place_waiting = [&](const std::vector<int32_t>& waiting) {
    for (int32_t j : waiting) {
      if (plan.pool_of_job[j] != kUnplaced) continue;
      const int32_t p = finder.Cheapest(in.jobs[j]);
      if (p == kUnplaced) continue;
      plan.pool_of_job[j] = p;
      finder.Take(p, AllocationSize(in.pools[p], in.jobs[j].gpus));
      ++result.stats.repaired_jobs;
    }
  };
  place_waiting(leftover);

  // Refinement: the rounding and the packing strand small pieces of cheap
  // capacity. Each started job, most work per GPU first, moves to the
  // cheapest pool where it fits now if that costs strictly less; a move
  // lowers the cost and changes no other job's. Capacity freed in dearer
  // pools is then offered to what still waits.
  std::vector<int32_t> placed;
  for (size_t j = 0; j < in.jobs.size(); ++j)
    if (plan.pool_of_job[j] != kUnplaced) placed.push_back(static_cast<int32_t>(j));
  std::sort(placed.begin(), placed.end(), [&](int32_t a, int32_t b) {
    if (MoreWorkPerGpu(in.jobs[a], in.jobs[b])) return true;
    if (MoreWorkPerGpu(in.jobs[b], in.jobs[a])) return false;
    return a < b;
  });
  for (int32_t j : placed) {
    const QueuedJob& job = in.jobs[j];
    const int32_t from = plan.pool_of_job[j];
    finder.Take(from, -AllocationSize(in.pools[from], job.gpus));
    int32_t to = finder.Cheapest(job);
    if (to == kUnplaced || JobCost(job, in.pools[to]) >= JobCost(job, in.pools[from])) to = from;
    finder.Take(to, AllocationSize(in.pools[to], job.gpus));
    if (to != from) ++result.stats.moved_jobs;
    plan.pool_of_job[j] = to;
  }
  place_waiting(leftover);
  return result;
}

RelaxationResult SolveRelaxation(const Instance& in, FlowAlgorithm algorithm) {
  RelaxationResult result;
  if (in.jobs.empty()) return result;
  const std::vector<int32_t> bands = PriorityBands(in);
  const std::vector<int64_t> penalty = JobPenalties(in);
  const internal::PoolGroups pg = internal::BuildPoolGroups(in);
  // Jobs that are identical for the flow (accelerator set, gang, band, work)
  // are one source: merging interchangeable sources does not change the optimum.
  std::vector<int32_t> order(in.jobs.size());
  std::iota(order.begin(), order.end(), 0);
  auto key = [&](int32_t j) {
    const QueuedJob& job = in.jobs[j];
    return std::make_tuple(job.accelerator_set, job.gpus, bands[j], job.work_gpu_seconds);
  };
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    const auto ka = key(a), kb = key(b);
    return ka != kb ? ka < kb : a < b;
  });
  std::vector<internal::Source> sources;
  for (size_t i = 0; i < order.size(); ++i) {
    const int32_t j = order[i];
    const QueuedJob& job = in.jobs[j];
    if (i == 0 || key(j) != key(order[i - 1])) {
      internal::Source s;
      s.level = pg.LevelOf(job.gpus);
      s.accelerator_set = job.accelerator_set;
      s.penalty_per_gpu = penalty[j];
      s.work = job.work_gpu_seconds;
      s.gpus = job.gpus;
      sources.push_back(s);
    }
    sources.back().supply += job.gpus;
  }
  internal::TransportResult flow = SolveSeeded(in, pg, sources, algorithm, 0, 0);
  result.objective = flow.objective;
  result.stats = flow.stats;
  for (size_t f = 0; f < flow.flows.size(); ++f) {
    if (flow.flows[f].group == kUnplaced) {
      result.unplaced_gpus += flow.flows[f].gpus;
      result.penalty += Money::FromMicros(flow.flows[f].gpus * flow.flows[f].unit_cost);
    }
    const bool first = f == 0 || flow.flows[f - 1].source != flow.flows[f].source;
    const bool last =
        f + 1 == flow.flows.size() || flow.flows[f + 1].source != flow.flows[f].source;
    if (first && !last) ++result.stats.split_jobs;
  }
  return result;
}

}  // namespace polycloud::optimize
