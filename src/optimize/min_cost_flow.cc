#include "min_cost_flow.h"

#include <lemon/cost_scaling.h>
#include <lemon/network_simplex.h>
#include <lemon/static_graph.h>

#include <algorithm>
#include <utility>

namespace polycloud::optimize::internal {
namespace {

template <typename Algorithm>
FlowSolution Run(const lemon::StaticDigraph& g, const FlowNetwork& network,
                 const std::vector<std::pair<int, int>>& order) {
  // StaticDigraph numbers arcs by source node; order[i] = (source, arc index).
  lemon::StaticDigraph::ArcMap<int64_t> upper(g), cost(g);
  lemon::StaticDigraph::NodeMap<int64_t> supply(g);
  for (int i = 0; i < g.arcNum(); ++i) {
    const FlowArc& a = network.arcs[order[i].second];
    upper[g.arc(i)] = a.capacity;
    cost[g.arc(i)] = a.cost;
  }
  for (int n = 0; n < g.nodeNum(); ++n) supply[g.node(n)] = network.supply[n];
  Algorithm alg(g);
  alg.upperMap(upper).costMap(cost).supplyMap(supply);
  FlowSolution s;
  s.optimal = alg.run() == Algorithm::OPTIMAL;
  if (!s.optimal) return s;
  s.flow.resize(network.arcs.size());
  s.potential.resize(network.nodes);
  for (int i = 0; i < g.arcNum(); ++i) s.flow[order[i].second] = alg.flow(g.arc(i));
  for (int n = 0; n < g.nodeNum(); ++n) s.potential[n] = alg.potential(g.node(n));
  return s;
}

}  // namespace

FlowSolution SolveMinCostFlow(const FlowNetwork& network, bool cost_scaling) {
  // StaticDigraph is the fastest LEMON graph to build and traverse; it wants
  // its arcs sorted by source.
  std::vector<std::pair<int, int>> order(network.arcs.size());
  for (size_t i = 0; i < network.arcs.size(); ++i)
    order[i] = {network.arcs[i].from, static_cast<int>(i)};
  std::sort(order.begin(), order.end());
  std::vector<std::pair<int, int>> ends(network.arcs.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const FlowArc& a = network.arcs[order[i].second];
    ends[i] = {a.from, a.to};
  }
  lemon::StaticDigraph g;
  g.build(network.nodes, ends.begin(), ends.end());
  if (cost_scaling) {
    return Run<lemon::CostScaling<lemon::StaticDigraph, int64_t, int64_t>>(g, network, order);
  }
  return Run<lemon::NetworkSimplex<lemon::StaticDigraph, int64_t, int64_t>>(g, network, order);
}

}  // namespace polycloud::optimize::internal
