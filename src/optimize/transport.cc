#include "transport.h"

#include <algorithm>
#include <limits>
#include <map>
#include <tuple>
#include <utility>

#include "min_cost_flow.h"
#include "network_simplex.h"

namespace polycloud::optimize::internal {
namespace {

// Arcs source → group each source starts with, per allowed accelerator.
constexpr int kInitialArcsPerAccelerator = 2;
// Left-out arcs with negative reduced cost added per source and round.
constexpr size_t kArcsAddedPerRound = 16;
// Arcs per source when seeded with the potentials of a coarser solve.
constexpr size_t kSeededArcs = 8;

int64_t CeilDiv128(__int128 a, __int128 b) { return static_cast<int64_t>((a + b - 1) / b); }

// Calls fn(group) for every group that admits source `s`; with `room` (per
// group node: the least capacity at that level and below), only those with
// room for a whole gang.
template <typename Fn>
void ForEachCandidate(const Instance& in, const PoolGroups& pg, const Source& s,
                      const std::vector<int64_t>* room, Fn&& fn) {
  const int64_t gang = pg.gang_sizes[s.level - 1];
  auto visit = [&](world::AcceleratorIndex a) {
    for (int32_t g : pg.of_accelerator[a]) {
      const PoolGroup& group = pg.groups[g];
      if (group.max_level < s.level) continue;
      if (room != nullptr && (*room)[group.first_node + s.level - 1] < gang) continue;
      fn(g);
    }
  };
  const auto& set = in.accelerator_sets[s.accelerator_set];
  if (set.empty()) {
    for (int32_t a = 0; a < in.accelerator_count; ++a) visit(a);
  } else {
    for (world::AcceleratorIndex a : set) visit(a);
  }
}

}  // namespace

int64_t UnitCost(int64_t work, int64_t gpus, int64_t speed_milli, Money price) {
  const int64_t seconds = std::max<int64_t>(
      1, CeilDiv128(static_cast<__int128>(work) * 1000, static_cast<__int128>(gpus) * speed_milli));
  return CostOfGpuSeconds(seconds, price).micros();
}

int32_t PoolGroups::LevelOf(int64_t gang) const {
  auto it = std::lower_bound(gang_sizes.begin(), gang_sizes.end(), gang);
  POLYCLOUD_CHECK(it != gang_sizes.end() && *it == gang);
  return static_cast<int32_t>(it - gang_sizes.begin()) + 1;
}

namespace {

// Whether gangs of size >= s_k fill at most floor(free / s_k) · s_k GPUs of a
// pool: when the larger gang sizes are all multiples of s_k.
std::vector<bool> LevelsDivide(const std::vector<int64_t>& gang_sizes) {
  const size_t m = gang_sizes.size();
  std::vector<bool> divides(m, true);
  for (size_t k = 0; k < m; ++k) {
    for (size_t j = k + 1; j < m; ++j)
      divides[k] = divides[k] && gang_sizes[j] % gang_sizes[k] == 0;
  }
  return divides;
}

}  // namespace

PoolGroups WithFreeGpus(const Instance& in, const PoolGroups& pg,
                        const std::vector<int64_t>& free) {
  PoolGroups out = pg;
  const std::vector<bool> divides = LevelsDivide(pg.gang_sizes);
  for (PoolGroup& g : out.groups) {
    std::fill(g.capacity_at_level.begin(), g.capacity_at_level.end(), 0);
    for (int32_t p : g.pools) {
      const int64_t fit = std::min(free[p], in.pools[p].max_gang);
      for (int32_t k = 1; k <= g.max_level && pg.gang_sizes[k - 1] <= fit; ++k) {
        const int64_t s = pg.gang_sizes[k - 1];
        g.capacity_at_level[k - 1] += divides[k - 1] ? free[p] / s * s : free[p];
      }
    }
  }
  return out;
}

PoolGroups BuildPoolGroups(const Instance& in) {
  PoolGroups pg;
  for (const QueuedJob& j : in.jobs) pg.gang_sizes.push_back(j.gpus);
  std::sort(pg.gang_sizes.begin(), pg.gang_sizes.end());
  pg.gang_sizes.erase(std::unique(pg.gang_sizes.begin(), pg.gang_sizes.end()), pg.gang_sizes.end());
  pg.group_of_pool.assign(in.pools.size(), kUnplaced);
  // Level k's sizes are all multiples of s_k: then gangs of size >= s_k fill at
  // most floor(free / s_k) · s_k GPUs of a pool. Otherwise only free bounds them.
  const std::vector<bool> divides = LevelsDivide(pg.gang_sizes);
  std::map<std::tuple<world::AcceleratorIndex, int64_t, int64_t>, int32_t> key_to_group;
  std::vector<int32_t> level_of_pool(in.pools.size(), 0);
  for (size_t p = 0; p < in.pools.size(); ++p) {
    const PoolCapacity& pool = in.pools[p];
    const int64_t fit = std::min(pool.free_gpus, pool.max_gang);
    const int32_t level = static_cast<int32_t>(
        std::upper_bound(pg.gang_sizes.begin(), pg.gang_sizes.end(), fit) - pg.gang_sizes.begin());
    if (level == 0) continue;
    level_of_pool[p] = level;
    key_to_group.emplace(
        std::make_tuple(pool.accelerator, pool.price_per_gpu_hour.micros(), pool.speed_milli), 0);
  }
  // Groups in (accelerator, price, speed) order, so every accelerator's list is cheapest first.
  for (auto& [key, index] : key_to_group) {
    index = static_cast<int32_t>(pg.groups.size());
    PoolGroup g;
    g.accelerator = std::get<0>(key);
    g.price = Money::FromMicros(std::get<1>(key));
    g.speed_milli = std::get<2>(key);
    pg.groups.push_back(std::move(g));
  }
  for (size_t p = 0; p < in.pools.size(); ++p) {
    const int32_t level = level_of_pool[p];
    if (level == 0) continue;
    const PoolCapacity& pool = in.pools[p];
    const int32_t gi = key_to_group.at(
        std::make_tuple(pool.accelerator, pool.price_per_gpu_hour.micros(), pool.speed_milli));
    PoolGroup& g = pg.groups[gi];
    g.pools.push_back(static_cast<int32_t>(p));
    g.max_level = std::max(g.max_level, level);
    if (static_cast<int32_t>(g.capacity_at_level.size()) < level)
      g.capacity_at_level.resize(level, 0);
    for (int32_t k = 1; k <= level; ++k) {
      const int64_t s = pg.gang_sizes[k - 1];
      g.capacity_at_level[k - 1] += divides[k - 1] ? pool.free_gpus / s * s : pool.free_gpus;
    }
    pg.group_of_pool[p] = gi;
  }
  pg.of_accelerator.resize(in.accelerator_count);
  for (size_t gi = 0; gi < pg.groups.size(); ++gi) {
    PoolGroup& g = pg.groups[gi];
    g.first_node = pg.group_nodes;
    pg.group_nodes += g.max_level;
    POLYCLOUD_CHECK(g.accelerator >= 0 && g.accelerator < in.accelerator_count);
    pg.of_accelerator[g.accelerator].push_back(static_cast<int32_t>(gi));
  }
  return pg;
}

TransportResult SolveTransport(const Instance& in, const PoolGroups& pg,
                               const std::vector<Source>& sources,
                               const TransportOptions& options) {
  const int32_t num_sources = static_cast<int32_t>(sources.size());
  const int32_t sink = num_sources + pg.group_nodes;
  auto group_node = [&](int32_t group, int32_t level) {
    return num_sources + pg.groups[group].first_node + level - 1;
  };
  auto unit_cost = [&](const Source& s, int32_t group) {
    const PoolGroup& g = pg.groups[group];
    return UnitCost(s.work, s.gpus, g.speed_milli, g.price);
  };

  std::vector<int64_t> room_storage;
  const std::vector<int64_t>* room = nullptr;
  if (options.whole_gangs) {
    room_storage.resize(pg.group_nodes);
    for (const PoolGroup& g : pg.groups) {
      int64_t least = std::numeric_limits<int64_t>::max();
      for (int32_t k = 1; k <= g.max_level; ++k) {
        least = std::min(least, g.capacity_at_level[k - 1]);
        room_storage[g.first_node + k - 1] = least;
      }
    }
    room = &room_storage;
  }

  // Arcs source → group present in the network, per source, ascending by group.
  // Without a seed: the cheapest few per accelerator. With the group
  // potentials of a coarser solve: the few with the least reduced cost under
  // them, which is most often where the optimum sends the source.
  std::vector<std::vector<int32_t>> present(num_sources);
  int64_t total_supply = 0;
  std::vector<std::pair<__int128, int32_t>> ranked;
  for (int32_t s = 0; s < num_sources; ++s) {
    total_supply += sources[s].supply;
    if (options.initial_arcs != nullptr) {
      present[s] = (*options.initial_arcs)[s];
    } else if (options.seed_potential != nullptr) {
      ranked.clear();
      ForEachCandidate(in, pg, sources[s], room, [&](int32_t g) {
        const int32_t node = pg.groups[g].first_node + sources[s].level - 1;
        ranked.emplace_back(
            static_cast<__int128>(unit_cost(sources[s], g)) - (*options.seed_potential)[node], g);
      });
      const size_t keep = std::min(ranked.size(), kSeededArcs);
      std::partial_sort(ranked.begin(), ranked.begin() + keep, ranked.end());
      for (size_t i = 0; i < keep; ++i) present[s].push_back(ranked[i].second);
    } else {
      std::vector<int32_t> per_accelerator(in.accelerator_count, 0);
      ForEachCandidate(in, pg, sources[s], room, [&](int32_t g) {
        int32_t& n = per_accelerator[pg.groups[g].accelerator];
        if (n++ < kInitialArcsPerAccelerator) present[s].push_back(g);
      });
    }
    std::sort(present[s].begin(), present[s].end());
  }

  TransportResult result;
  result.stats.sources = num_sources;
  result.stats.nodes = sink + 1;

  // The network: each source's arcs to groups (arc_of[s], by group), its arc
  // to the sink (waiting), and each group's chain of levels down to the sink.
  // Later rounds append arcs; the warm-started simplex continues from the
  // last basis, LEMON's solvers start again on the whole network.
  FlowNetwork net;
  net.nodes = sink + 1;
  net.supply.assign(net.nodes, 0);
  for (int32_t s = 0; s < num_sources; ++s) net.supply[s] = sources[s].supply;
  net.supply[sink] = -total_supply;
  std::vector<std::vector<std::pair<int32_t, int32_t>>> arc_of(num_sources);
  std::vector<int32_t> sink_arc(num_sources);
  auto add_source_arc = [&](int32_t s, int32_t g) {
    arc_of[s].emplace_back(g, static_cast<int32_t>(net.arcs.size()));
    net.arcs.push_back(
        {s, group_node(g, sources[s].level), sources[s].supply, unit_cost(sources[s], g)});
  };
  for (int32_t s = 0; s < num_sources; ++s) {
    for (int32_t g : present[s]) add_source_arc(s, g);
    sink_arc[s] = static_cast<int32_t>(net.arcs.size());
    net.arcs.push_back({s, sink, sources[s].supply, sources[s].penalty_per_gpu});
  }
  for (size_t gi = 0; gi < pg.groups.size(); ++gi) {
    const PoolGroup& g = pg.groups[gi];
    for (int32_t k = g.max_level; k >= 1; --k) {
      const int32_t node = group_node(static_cast<int32_t>(gi), k);
      net.arcs.push_back({node, k == 1 ? sink : node - 1, g.capacity_at_level[k - 1], 0});
    }
  }
  const bool warm = options.algorithm == FlowAlgorithm::kNetworkSimplex;
  NetworkSimplex simplex(warm ? net.supply : std::vector<int64_t>{});
  size_t arcs_in_simplex = 0;

  std::vector<int32_t> seen(pg.groups.size(), -1);
  std::vector<std::pair<__int128, int32_t>> negatives;
  std::vector<std::pair<int32_t, int32_t>> additions;  // (source, group)
  std::vector<int64_t> potential(net.nodes);
  std::vector<int64_t> flow;
  while (true) {
    ++result.stats.rounds;
    result.stats.arcs = static_cast<int64_t>(net.arcs.size());
    // Every source has an arc to the sink for all its supply: always feasible.
    if (warm) {
      for (; arcs_in_simplex < net.arcs.size(); ++arcs_in_simplex) {
        const FlowArc& a = net.arcs[arcs_in_simplex];
        simplex.AddArc(a.from, a.to, a.capacity, a.cost);
      }
      POLYCLOUD_CHECK(simplex.Solve());
      for (int32_t n = 0; n < net.nodes; ++n) potential[n] = simplex.potential(n);
    } else {
      FlowSolution solved = SolveMinCostFlow(net, /*cost_scaling=*/true);
      POLYCLOUD_CHECK(solved.optimal);
      potential = std::move(solved.potential);
      flow = std::move(solved.flow);
    }

    // Pricing: a left-out arc with negative reduced cost c + π(source) − π(group)
    // could lower the cost; add the most negative few of each source.
    additions.clear();
    for (int32_t s = 0; s < num_sources; ++s) {
      const Source& src = sources[s];
      for (int32_t g : present[s]) seen[g] = s;
      negatives.clear();
      const __int128 pi_source = potential[s];
      ForEachCandidate(in, pg, src, room, [&](int32_t g) {
        if (seen[g] == s) return;
        const __int128 rc = static_cast<__int128>(unit_cost(src, g)) + pi_source -
                            potential[group_node(g, src.level)];
        if (rc < 0) negatives.emplace_back(rc, g);
      });
      if (negatives.empty()) continue;
      const size_t keep = std::min(negatives.size(), kArcsAddedPerRound);
      std::partial_sort(negatives.begin(), negatives.begin() + keep, negatives.end());
      for (size_t i = 0; i < keep; ++i) additions.emplace_back(s, negatives[i].second);
    }
    if (!additions.empty() &&
        (options.max_rounds == 0 || result.stats.rounds < options.max_rounds)) {
      for (const auto& [s, g] : additions) {
        present[s].push_back(g);
        add_source_arc(s, g);
      }
      for (const auto& [s, g] : additions) std::sort(present[s].begin(), present[s].end());
      continue;
    }
    result.stats.proven_optimal = additions.empty();

    // Read the flow out by source, then group.
    auto flow_of = [&](int32_t arc) { return warm ? simplex.flow(arc) : flow[arc]; };
    result.group_potential.assign(potential.begin() + num_sources, potential.begin() + sink);
    __int128 objective = 0;
    for (int32_t s = 0; s < num_sources; ++s) {
      std::sort(arc_of[s].begin(), arc_of[s].end());
      for (const auto& [g, arc] : arc_of[s]) {
        const int64_t f = flow_of(arc);
        if (f == 0) continue;
        const int64_t c = net.arcs[arc].cost;
        result.flows.push_back({s, g, f, c});
        objective += static_cast<__int128>(f) * c;
      }
      const int64_t f = flow_of(sink_arc[s]);
      if (f != 0) {
        const int64_t c = net.arcs[sink_arc[s]].cost;
        result.flows.push_back({s, kUnplaced, f, c});
        objective += static_cast<__int128>(f) * c;
      }
    }
    POLYCLOUD_CHECK(objective <= std::numeric_limits<int64_t>::max());
    result.arcs = std::move(present);
    result.objective = Money::FromMicros(static_cast<int64_t>(objective));
    result.stats.flow_objective = result.objective;
    return result;
  }
}

std::vector<Source> CoarsenSources(const std::vector<Source>& sources) {
  std::map<std::tuple<int32_t, int32_t, int64_t>, size_t> index;
  std::vector<Source> coarse;
  for (const Source& s : sources) {
    auto [it, inserted] = index.emplace(
        std::make_tuple(s.accelerator_set, s.level, s.penalty_per_gpu), coarse.size());
    if (inserted) {
      coarse.push_back(s);
      continue;
    }
    Source& c = coarse[it->second];
    c.supply += s.supply;
    c.work += s.work;
    c.gpus += s.gpus;
  }
  return coarse;
}

}  // namespace polycloud::optimize::internal
