// Internal to src/optimize: a min-cost flow solve through LEMON behind a plain
// interface. LEMON 1.3 does not compile as C++20 (it calls
// std::allocator::construct), so min_cost_flow.cc alone is built as C++17 and
// this header includes nothing that needs C++20.
#ifndef POLYCLOUD_OPTIMIZE_MIN_COST_FLOW_H_
#define POLYCLOUD_OPTIMIZE_MIN_COST_FLOW_H_

#include <cstdint>
#include <vector>

namespace polycloud::optimize::internal {

struct FlowArc {
  int32_t from = 0;
  int32_t to = 0;
  int64_t capacity = 0;
  int64_t cost = 0;
};

struct FlowNetwork {
  int32_t nodes = 0;
  std::vector<int64_t> supply;  // per node; sums to zero
  std::vector<FlowArc> arcs;
};

struct FlowSolution {
  bool optimal = false;
  std::vector<int64_t> flow;       // per arc
  std::vector<int64_t> potential;  // per node: reduced cost of u→v is cost + π(u) − π(v)
};

// Solves with LEMON's NetworkSimplex, or CostScaling when `cost_scaling`.
FlowSolution SolveMinCostFlow(const FlowNetwork& network, bool cost_scaling);

}  // namespace polycloud::optimize::internal

#endif  // POLYCLOUD_OPTIMIZE_MIN_COST_FLOW_H_
