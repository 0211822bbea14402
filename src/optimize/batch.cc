#include "polycloud/optimize/batch.h"

#include <algorithm>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>

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

// PenaltyPerGpu in 128 bits (CheckMagnitudes reads it before it is known to fit):
// one micro-dollar more than the job with the most work per GPU costs per GPU
// in the dearest pool, at its run time there (RunSeconds, rounded as
// CostOfGpuSeconds rounds).
__int128 WidePenaltyPerGpu(const Instance& in) {
  if (in.jobs.empty()) return 1;
  size_t most = 0;
  for (size_t j = 1; j < in.jobs.size(); ++j) {
    if (MoreWorkPerGpu(in.jobs[j], in.jobs[most])) most = j;
  }
  const QueuedJob& job = in.jobs[most];
  __int128 worst = 0;
  for (const PoolCapacity& p : in.pools) {
    const __int128 rate = static_cast<__int128>(std::max<int64_t>(1, job.gpus)) * p.speed_milli;
    const __int128 seconds = std::max<__int128>(
        1, (static_cast<__int128>(job.work_gpu_seconds) * 1000 + rate - 1) / rate);
    worst = std::max(worst, (seconds * p.price_per_gpu_hour.micros() + 1800) / 3600);
  }
  return worst + 1;
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
  // The flow solvers keep costs and potentials in int64 and need headroom above them.
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

// Insertion with eviction, the last step of SolveBatch: a job still waiting
// may start in a pool whose capacity, not its free GPUs, could hold it, if
// enough of the jobs there find room elsewhere, least work per GPU first (the
// cheapest to move). Of the pools that admit it, the one where the objective
// drops most — the job's penalty saved against its spend and the extra spend
// of everything moved — is taken; where none gains, nothing moves. The
// relaxation reaches such plans by splitting gangs between pools; this reaches
// some of them with whole ones.
void InsertWithEviction(const Instance& in, const std::vector<int32_t>& bands,
                        const std::vector<int64_t>& penalty, PoolFinder* finder,
                        const std::vector<int64_t>* free, BatchResult* result) {
  Plan& plan = result->plan;
  std::vector<std::vector<int32_t>> jobs_in_pool(in.pools.size());
  std::vector<int32_t> waiting;
  for (size_t j = 0; j < in.jobs.size(); ++j) {
    if (plan.pool_of_job[j] == kUnplaced) {
      waiting.push_back(static_cast<int32_t>(j));
    } else {
      jobs_in_pool[plan.pool_of_job[j]].push_back(static_cast<int32_t>(j));
    }
  }
  // Highest band and largest gang first; of equal ones the least work per GPU
  // first: every GPU started saves the same penalty, and the shortest costs least.
  std::sort(waiting.begin(), waiting.end(), [&](int32_t a, int32_t b) {
    if (bands[a] != bands[b]) return bands[a] > bands[b];
    if (in.jobs[a].gpus != in.jobs[b].gpus) return in.jobs[a].gpus > in.jobs[b].gpus;
    if (MoreWorkPerGpu(in.jobs[b], in.jobs[a])) return true;
    if (MoreWorkPerGpu(in.jobs[a], in.jobs[b])) return false;
    return a < b;
  });
  struct Move {
    int32_t job, from, to;
  };
  std::vector<Move> moves;
  std::vector<int32_t> candidates, victims;
  for (int32_t w : waiting) {
    const QueuedJob& job = in.jobs[w];
    candidates.clear();
    for (size_t p = 0; p < in.pools.size(); ++p) {
      if (Admits(in, job, in.pools[p]) &&
          AllocationSize(in.pools[p], job.gpus) <= in.pools[p].free_gpus)
        candidates.push_back(static_cast<int32_t>(p));
    }
    const __int128 saved = static_cast<__int128>(penalty[w]) * job.gpus;
    // Makes room for w in p by moving p's jobs elsewhere; returns the change
    // in the objective, or nothing when p has no room for w or w gains
    // nothing there. Undone unless `keep`.
    auto try_pool = [&](int32_t p, bool keep) -> std::optional<__int128> {
      const int64_t alloc = AllocationSize(in.pools[p], job.gpus);
      const int64_t reserved = (*free)[p];
      const int64_t need = alloc - reserved;
      __int128 delta = JobCost(job, in.pools[p]).micros() - saved;
      if (delta >= 0) return std::nullopt;
      finder->Take(p, reserved);  // so that nothing moved lands here
      victims = jobs_in_pool[p];
      std::sort(victims.begin(), victims.end(), [&](int32_t a, int32_t b) {
        if (MoreWorkPerGpu(in.jobs[b], in.jobs[a])) return true;
        if (MoreWorkPerGpu(in.jobs[a], in.jobs[b])) return false;
        return a < b;
      });
      moves.clear();
      int64_t freed = 0;
      for (int32_t v : victims) {
        if (freed >= need || delta >= 0) break;
        const QueuedJob& vj = in.jobs[v];
        const int32_t q = finder->Cheapest(vj);
        if (q == kUnplaced) {
          // Nowhere else to go: only a job of a lower band may wait for w.
          if (bands[v] >= bands[w]) continue;
          delta += static_cast<__int128>(penalty[v]) * vj.gpus - JobCost(vj, in.pools[p]).micros();
        } else {
          finder->Take(q, AllocationSize(in.pools[q], vj.gpus));
          delta += JobCost(vj, in.pools[q]).micros() - JobCost(vj, in.pools[p]).micros();
        }
        freed += AllocationSize(in.pools[p], vj.gpus);
        moves.push_back({v, p, q});
      }
      const bool gain = freed >= need && delta < 0;
      if (gain && keep) {
        finder->Take(p, -(reserved + freed - alloc));
        for (const Move& m : moves) {
          plan.pool_of_job[m.job] = m.to;
          std::vector<int32_t>& from = jobs_in_pool[m.from];
          from.erase(std::find(from.begin(), from.end(), m.job));
          if (m.to != kUnplaced) jobs_in_pool[m.to].push_back(m.job);
        }
        plan.pool_of_job[w] = p;
        jobs_in_pool[p].push_back(w);
        ++result->stats.repaired_jobs;
        result->stats.moved_jobs += static_cast<int64_t>(moves.size());
        return delta;
      }
      for (const Move& m : moves) {
        if (m.to != kUnplaced)
          finder->Take(m.to, -AllocationSize(in.pools[m.to], in.jobs[m.job].gpus));
      }
      finder->Take(p, -reserved);
      if (!gain) return std::nullopt;
      return delta;
    };
    int32_t best = kUnplaced;
    __int128 best_delta = 0;
    for (int32_t p : candidates) {
      const std::optional<__int128> d = try_pool(p, false);
      if (d.has_value() && *d < best_delta) {
        best_delta = *d;
        best = p;
      }
    }
    if (best != kUnplaced) try_pool(best, true);
  }
}

// Started jobs of one gang size can trade pools when each admits the other's
// pool (accelerator sets; same gang, same fabric need): the GPUs in use of
// every pool stay the same. For each pair of accelerator sets (a set with
// itself included), the jobs of either that sit in pools both sets admit can
// all take each other's places; cost is close to work per GPU × price per
// unit of speed, so their most work per GPU goes to their cheapest pools per
// unit of speed, kept where their exact spend drops.
void ExchangeWithinFamilies(const Instance& in, Plan* plan) {
  const size_t sets = in.accelerator_sets.size();
  std::vector<std::vector<char>> admits(sets, std::vector<char>(in.accelerator_count, 0));
  for (size_t s = 0; s < sets; ++s) {
    if (in.accelerator_sets[s].empty()) std::fill(admits[s].begin(), admits[s].end(), 1);
    for (world::AcceleratorIndex a : in.accelerator_sets[s]) admits[s][a] = 1;
  }
  std::vector<int32_t> started;
  for (size_t j = 0; j < in.jobs.size(); ++j) {
    if (plan->pool_of_job[j] != kUnplaced) started.push_back(static_cast<int32_t>(j));
  }
  auto more_work = [&](int32_t a, int32_t b) {
    if (MoreWorkPerGpu(in.jobs[a], in.jobs[b])) return true;
    if (MoreWorkPerGpu(in.jobs[b], in.jobs[a])) return false;
    return a < b;
  };
  std::sort(started.begin(), started.end(), [&](int32_t a, int32_t b) {
    const QueuedJob &ja = in.jobs[a], &jb = in.jobs[b];
    if (ja.gpus != jb.gpus) return ja.gpus < jb.gpus;
    if (ja.accelerator_set != jb.accelerator_set) return ja.accelerator_set < jb.accelerator_set;
    return more_work(a, b);
  });
  auto cheaper_per_speed = [&](int32_t p, int32_t q) {
    const PoolCapacity &a = in.pools[p], &b = in.pools[q];
    const __int128 x = static_cast<__int128>(a.price_per_gpu_hour.micros()) * b.speed_milli;
    const __int128 y = static_cast<__int128>(b.price_per_gpu_hour.micros()) * a.speed_milli;
    return x != y ? x < y : p < q;
  };
  struct Range {
    int32_t set;
    size_t begin, end;
  };
  std::vector<Range> ranges;  // of one gang size, by set
  std::vector<int32_t> members, pools;
  auto exchange = [&](const Range& x, const Range& y) {
    members.clear();
    for (size_t i = x.begin; i < x.end; ++i) {
      const int32_t j = started[i];
      if (admits[y.set][in.pools[plan->pool_of_job[j]].accelerator]) members.push_back(j);
    }
    if (x.set != y.set) {
      for (size_t i = y.begin; i < y.end; ++i) {
        const int32_t j = started[i];
        if (admits[x.set][in.pools[plan->pool_of_job[j]].accelerator]) members.push_back(j);
      }
      std::sort(members.begin(), members.end(), more_work);
    }
    if (members.size() < 2) return;
    pools.clear();
    __int128 before = 0, after = 0;
    for (int32_t j : members) {
      pools.push_back(plan->pool_of_job[j]);
      before += JobCost(in.jobs[j], in.pools[plan->pool_of_job[j]]).micros();
    }
    std::sort(pools.begin(), pools.end(), cheaper_per_speed);
    for (size_t i = 0; i < members.size(); ++i)
      after += JobCost(in.jobs[members[i]], in.pools[pools[i]]).micros();
    if (after < before) {
      for (size_t i = 0; i < members.size(); ++i) plan->pool_of_job[members[i]] = pools[i];
    }
  };
  for (size_t begin = 0; begin < started.size();) {
    const int64_t gang = in.jobs[started[begin]].gpus;
    ranges.clear();
    size_t end = begin;
    while (end < started.size() && in.jobs[started[end]].gpus == gang) {
      const int32_t set = in.jobs[started[end]].accelerator_set;
      if (ranges.empty() || ranges.back().set != set) ranges.push_back({set, end, end});
      ranges.back().end = ++end;
    }
    for (size_t x = 0; x < ranges.size(); ++x) {
      for (size_t y = x; y < ranges.size(); ++y) exchange(ranges[x], ranges[y]);
    }
    begin = end;
  }
}

// Solves the flow of `sources`, first solving the coarse flow of their
// (accelerator set, level, band) merges to seed the choice of first arcs.
internal::TransportResult SolveSeeded(const Instance& in, const internal::PoolGroups& pg,
                                      const std::vector<internal::Source>& sources,
                                      FlowAlgorithm algorithm, int32_t coarse_rounds,
                                      int32_t rounds) {
  internal::TransportOptions o;
  o.algorithm = algorithm;
  o.max_rounds = rounds;
  std::vector<internal::Source> coarse = internal::CoarsenSources(sources);
  if (coarse.size() * 4 > sources.size()) return internal::SolveTransport(in, pg, sources, o);
  internal::TransportOptions co;
  co.algorithm = algorithm;
  co.max_rounds = coarse_rounds;
  const internal::TransportResult seed = internal::SolveTransport(in, pg, coarse, co);
  o.seed_potential = &seed.group_potential;
  internal::TransportResult r = internal::SolveTransport(in, pg, sources, o);
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
  return Money::FromMicros(static_cast<int64_t>(WidePenaltyPerGpu(in)));
}

Status CheckMagnitudes(const Instance& in) {
  if (in.jobs.empty()) return Status::Ok();
  constexpr __int128 kLimit = static_cast<__int128>(1) << 61;
  const __int128 base = WidePenaltyPerGpu(in);
  if (base >= kLimit) return InvalidInput("the penalty per waiting GPU does not fit 61 bits");
  const std::vector<int32_t> bands = PriorityBands(in);
  __int128 total = 0, top = 0;
  std::set<int64_t> gangs;
  for (size_t j = 0; j < in.jobs.size(); ++j) {
    const __int128 penalty = base * (bands[j] + 1);
    top = std::max(top, penalty);
    total += penalty * in.jobs[j].gpus;
    gangs.insert(in.jobs[j].gpus);
    if (total >= kLimit) {
      return InvalidInput("the queue's waiting-GPU penalty (" + std::to_string(j + 1) +
                          " jobs at up to $" +
                          FormatMoney(Money::FromMicros(static_cast<int64_t>(top))) +
                          " per GPU) exceeds the optimiser's 61-bit cost range");
    }
  }
  // Nodes of the largest network: a source per job, a node per pool and gang
  // level, a sink and a root.
  const __int128 nodes = static_cast<__int128>(in.jobs.size()) +
                         static_cast<__int128>(in.pools.size()) * (gangs.size() + 1) + 4;
  if ((top + 1) * (nodes + 1) >= kLimit) {
    return InvalidInput("the flow network's artificial cost (" +
                        std::to_string(static_cast<int64_t>(nodes)) + " nodes at up to $" +
                        FormatMoney(Money::FromMicros(static_cast<int64_t>(top))) +
                        " per unit) exceeds the optimiser's 61-bit cost range");
  }
  return Status::Ok();
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
  POLYCLOUD_CHECK(options.class_spread_ppm >= 0);
  BatchResult result;
  Plan& plan = result.plan;
  plan.pool_of_job.assign(in.jobs.size(), kUnplaced);
  if (in.jobs.empty()) return result;
  const std::vector<int32_t> bands = PriorityBands(in);
  const std::vector<int64_t> penalty = JobPenalties(in);
  const internal::PoolGroups pg = internal::BuildPoolGroups(in);

  // Classes: the jobs of one accelerator set, gang size and band, most work
  // per GPU first, cut into runs whose work W and spread of work per GPU
  // (a_first / a_last − 1) keep W · spread within the budget. A class is
  // priced at its mean, so the loss of a split class grows with both; a job
  // with much work is a class of its own, many short ones share one.
  auto family = [&](int32_t j) {
    const QueuedJob& job = in.jobs[j];
    return std::make_tuple(job.accelerator_set, job.gpus, bands[j]);
  };
  std::vector<int32_t> order(in.jobs.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    const auto ka = family(a), kb = family(b);
    if (ka != kb) return ka < kb;
    if (MoreWorkPerGpu(in.jobs[a], in.jobs[b])) return true;
    if (MoreWorkPerGpu(in.jobs[b], in.jobs[a])) return false;
    return a < b;
  });
  __int128 total_work = 0;
  for (const QueuedJob& job : in.jobs) total_work += job.work_gpu_seconds;
  const __int128 budget = total_work * options.class_spread_ppm / 1'000'000;
  std::vector<internal::Source> sources;
  std::vector<size_t> class_begin;
  __int128 class_work = 0;
  int64_t class_first = 0;  // work of the class's first job (same gang: work ∝ work per GPU)
  for (size_t i = 0; i < order.size(); ++i) {
    const int32_t j = order[i];
    const QueuedJob& job = in.jobs[j];
    bool cut = i == 0 || family(j) != family(order[i - 1]);
    if (!cut && options.class_spread_ppm > 0) {
      cut = (class_work + job.work_gpu_seconds) * (class_first - job.work_gpu_seconds) >
            budget * std::max<int64_t>(1, job.work_gpu_seconds);
    }
    if (cut) {
      class_begin.push_back(i);
      class_work = 0;
      class_first = job.work_gpu_seconds;
      internal::Source s;
      s.level = pg.LevelOf(job.gpus);
      s.accelerator_set = job.accelerator_set;
      s.penalty_per_gpu = penalty[j];
      s.gpus = 0;
      sources.push_back(s);
    }
    class_work += job.work_gpu_seconds;
    internal::Source& s = sources.back();
    s.supply += job.gpus;
    s.gpus += job.gpus;
    s.work += job.work_gpu_seconds;
  }
  class_begin.push_back(order.size());

  const internal::TransportResult flow =
      SolveSeeded(in, pg, sources, options.algorithm, options.coarse_rounds, options.class_rounds);
  result.stats = flow.stats;

  // A class's flows are laid end to end over its jobs, most work per GPU
  // first, and a job goes where the middle of its gang lies. The flow to the
  // sink comes first: every GPU left waiting pays the same penalty, so the
  // jobs that would cost most are the ones to leave. Then the groups,
  // cheapest first, so the most work per GPU gets the cheapest capacity.
  std::vector<std::vector<int32_t>> jobs_of_group(pg.groups.size());
  std::vector<int32_t> leftover;
  {
    size_t f = 0;
    std::vector<internal::Flow> mine;
    for (size_t c = 0; c < sources.size(); ++c) {
      mine.clear();
      while (f < flow.flows.size() && flow.flows[f].source == static_cast<int32_t>(c))
        mine.push_back(flow.flows[f++]);
      std::stable_sort(mine.begin(), mine.end(),
                       [](const internal::Flow& a, const internal::Flow& b) {
                         if ((a.group == kUnplaced) != (b.group == kUnplaced))
                           return a.group == kUnplaced;
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
        // A gang whose middle is where the sink's share ends waits: rounding
        // it into a group would push smaller gangs out of it.
        while (k < mine.size() &&
               (middle > flow_end || (middle == flow_end && mine[k].group != kUnplaced))) {
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
  }

  // Whole gangs into the pools of their group: largest first, best fit. A
  // group may so receive up to half a gang more than its flow per split
  // class; what does not fit is left out, the smallest, shortest gangs first.
  std::vector<int64_t> free(in.pools.size());
  for (size_t p = 0; p < in.pools.size(); ++p) free[p] = in.pools[p].free_gpus;
  auto pack = [&](int32_t g, std::vector<int32_t>& js) {
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
  };
  for (size_t g = 0; g < pg.groups.size(); ++g) {
    if (!jobs_of_group[g].empty()) pack(static_cast<int32_t>(g), jobs_of_group[g]);
  }

  // What the rounding and the packing left out is placed job by job by a flow
  // over the capacity left (its own work per GPU, not its class's mean, now
  // decides), with arcs only to groups with room for the whole gang, then
  // packed; repeated while it places any. Rounding by the class's mean and
  // placing the rest greedily cost three to five times as much.
  std::vector<internal::Source> job_sources;
  std::vector<int32_t> waiting;
  while (!leftover.empty()) {
    waiting.swap(leftover);
    leftover.clear();
    std::sort(waiting.begin(), waiting.end());
    const internal::PoolGroups residual = internal::WithFreeGpus(in, pg, free);
    job_sources.clear();
    for (int32_t j : waiting) {
      const QueuedJob& job = in.jobs[j];
      internal::Source s;
      s.supply = job.gpus;
      s.level = pg.LevelOf(job.gpus);
      s.accelerator_set = job.accelerator_set;
      s.penalty_per_gpu = penalty[j];
      s.work = job.work_gpu_seconds;
      s.gpus = job.gpus;
      job_sources.push_back(s);
    }
    internal::TransportOptions o;
    o.algorithm = options.algorithm;
    o.seed_potential = &flow.group_potential;
    o.whole_gangs = true;
    const internal::TransportResult r = internal::SolveTransport(in, residual, job_sources, o);
    result.stats.rounds += r.stats.rounds;
    for (auto& js : jobs_of_group) js.clear();
    for (size_t i = 0, f = 0; i < waiting.size(); ++i) {
      // A job whose flow all goes to one group goes there; split or waiting, it stays.
      const size_t first = f;
      while (f < r.flows.size() && r.flows[f].source == static_cast<int32_t>(i)) ++f;
      if (f - first == 1 && r.flows[first].group != kUnplaced) {
        jobs_of_group[r.flows[first].group].push_back(waiting[i]);
      } else {
        leftover.push_back(waiting[i]);
      }
    }
    for (size_t g = 0; g < pg.groups.size(); ++g) {
      if (!jobs_of_group[g].empty()) pack(static_cast<int32_t>(g), jobs_of_group[g]);
    }
    if (leftover.size() == waiting.size()) break;
  }

  // Repair: what still waits, highest band and largest gang first, to the
  // cheapest pool where it fits now.
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
  // pools is then offered to what still waits. Run again after the
  // insertions and exchanges below, which leave room behind them.
  auto refine = [&] {
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
  };
  refine();
  place_waiting(leftover);
  InsertWithEviction(in, bands, penalty, &finder, &free, &result);
  ExchangeWithinFamilies(in, &plan);  // GPUs in use per pool unchanged: `finder` holds
  refine();
  // Where gang sizes do not divide one another or whole nodes round them up,
  // the flow's levels only bound the packing, and on small odd instances the
  // rounding can end above greedy (3 % of random ones with gangs of 1–40 on
  // 1/4/8/16-GPU nodes): then greedy's plan it is, at the cost of one pass.
  Plan greedy = SolveGreedy(in);
  if (Evaluate(in, greedy).objective() < Evaluate(in, result.plan).objective()) {
    result.plan = std::move(greedy);
    result.stats.greedy_won = true;
  }
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
