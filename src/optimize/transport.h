// Internal to src/optimize: the min-cost flow shared by the batch optimiser
// (sources are job classes) and the exact relaxation (sources are jobs).
//
// Pools of one accelerator and one marginal price cost every source the same
// per GPU, so they are merged into a pool group. A gang fits only in a pool
// whose largest usable gang, min(max_gang, free GPUs), is at least the gang
// size; the queue's distinct gang sizes s_1 < ... < s_m define levels, and a
// pool's level is the number of them it can host. A group has one node per
// level k; a source of level L enters at level L, and flow runs down the
// levels to the sink: the arc from level k to level k-1 (level 1: to the sink)
// carries all the group's GPUs given to gangs of size >= s_k, and its capacity
// is what the group's pools can hold of such gangs: Σ floor(free / s_k) · s_k
// over the pools that reach level k, when every larger gang size is a multiple
// of s_k (powers of two), else Σ free. Whole gangs in whole pools always satisfy
// these bounds, so the flow is a relaxation of the integer problem; with one
// gang size per group it is exact up to the split of a gang between pools.
//
// Each source also has an arc to the sink at its penalty per GPU (waiting).
// The arcs source → group are grown by reduced cost: a few of the cheapest per
// accelerator first, then after every solve each left-out arc whose reduced
// cost under the solve's potentials is negative is added (the most negative
// first), until none is: the potentials then prove the flow optimal over all
// arcs.
#ifndef POLYCLOUD_OPTIMIZE_TRANSPORT_H_
#define POLYCLOUD_OPTIMIZE_TRANSPORT_H_

#include <cstdint>
#include <vector>

#include "polycloud/optimize/batch.h"

namespace polycloud::optimize::internal {

// Spend per GPU of `work` reference GPU-seconds spread over `gpus` GPUs on an
// accelerator of `speed_milli` at `price`: run seconds rounded up as RunSeconds.
int64_t UnitCost(int64_t work, int64_t gpus, int64_t speed_milli, Money price);

struct PoolGroup {
  world::AcceleratorIndex accelerator = 0;
  int64_t speed_milli = 1000;
  Money price;
  int32_t max_level = 0;                   // highest level of its pools (>= 1)
  int32_t first_node = 0;                  // node of level 1; level k is first_node + k - 1
  std::vector<int64_t> capacity_at_level;  // [k - 1]: GPUs its pools can give gangs >= s_k
  std::vector<int32_t> pools;              // ascending
};

struct PoolGroups {
  std::vector<int64_t> gang_sizes;  // the queue's distinct gang sizes, ascending
  std::vector<PoolGroup> groups;    // by accelerator, price, first pool
  // Groups of each accelerator, cheapest first.
  std::vector<std::vector<int32_t>> of_accelerator;
  std::vector<int32_t> group_of_pool;  // kUnplaced for pools that can host no queued gang
  int32_t group_nodes = 0;

  // 1-based level of a gang size present in the queue.
  int32_t LevelOf(int64_t gang) const;
};

PoolGroups BuildPoolGroups(const Instance& in);

// The same groups and levels with the capacities of `free` GPUs per pool
// instead of the pools' free_gpus (a pool contributes only to the levels its
// largest usable gang, min(max_gang, free), still reaches).
PoolGroups WithFreeGpus(const Instance& in, const PoolGroups& groups,
                        const std::vector<int64_t>& free);

struct Source {
  int64_t supply = 0;  // GPUs
  int32_t level = 1;
  int32_t accelerator_set = 0;
  int64_t penalty_per_gpu = 0;
  int64_t work = 0;  // reference GPU-seconds of the source's jobs, for UnitCost
  int64_t gpus = 1;  // their GPUs, for UnitCost
};

struct Flow {
  int32_t source = 0;
  int32_t group = 0;  // kUnplaced: to the sink (waiting)
  int64_t gpus = 0;
  int64_t unit_cost = 0;
};

struct TransportResult {
  std::vector<Flow> flows;  // by source, then group; only non-zero
  Money objective;          // Σ flow × unit cost (penalties included)
  SolveStats stats;
  std::vector<int64_t> group_potential;    // per group node (dual values), to seed a finer solve
  std::vector<std::vector<int32_t>> arcs;  // per source: the groups it had arcs to, ascending
};

struct TransportOptions {
  FlowAlgorithm algorithm = FlowAlgorithm::kNetworkSimplex;
  // Group-node potentials of a coarser solve of the same groups, used only to
  // choose the first arcs; the result does not depend on them beyond ties
  // between equally cheap optima.
  const std::vector<int64_t>* seed_potential = nullptr;
  // The arcs of an earlier solve of the same sources (TransportResult::arcs),
  // to start from instead; takes precedence over seed_potential.
  const std::vector<std::vector<int32_t>>* initial_arcs = nullptr;
  // > 0: stop the arc-set growth after that many solves; the flow is then
  // optimal over the arcs present but not proven optimal over all
  // (stats.proven_optimal).
  int32_t max_rounds = 0;
  // Arcs only to the groups whose capacity at the source's level and every
  // level below is at least one gang of the source's size, so that a source
  // that does not compete with others is never split.
  bool whole_gangs = false;
};

TransportResult SolveTransport(const Instance& in, const PoolGroups& groups,
                               const std::vector<Source>& sources, const TransportOptions& options);

// Merges sources of one accelerator set, level and penalty into one (their
// supply, work and GPUs summed), for a coarse solve that seeds a finer one.
std::vector<Source> CoarsenSources(const std::vector<Source>& sources);

}  // namespace polycloud::optimize::internal

#endif  // POLYCLOUD_OPTIMIZE_TRANSPORT_H_
