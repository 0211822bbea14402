#include "network_simplex.h"

#include <gtest/gtest.h>

#include <vector>

#include "min_cost_flow.h"
#include "polycloud/base/rng.h"

namespace polycloud::optimize::internal {
namespace {

// A random transport-like network: sources with supply, a few middle nodes,
// one sink that takes everything; every source also has a dear direct arc to
// the sink, so every network is feasible.
FlowNetwork RandomNetwork(Rng& rng, int sources, int middles, int arcs) {
  FlowNetwork net;
  net.nodes = sources + middles + 1;
  const int sink = net.nodes - 1;
  net.supply.assign(net.nodes, 0);
  int64_t total = 0;
  for (int s = 0; s < sources; ++s) {
    net.supply[s] = 1 + static_cast<int64_t>(rng.Below(20));
    total += net.supply[s];
    net.arcs.push_back({s, sink, net.supply[s], 1000});
  }
  net.supply[sink] = -total;
  for (int m = 0; m < middles; ++m) {
    net.arcs.push_back({sources + m, sink, static_cast<int64_t>(rng.Below(30)), 0});
    if (m > 0)
      net.arcs.push_back({sources + m, sources + m - 1, static_cast<int64_t>(rng.Below(30)), 0});
  }
  for (int a = 0; a < arcs; ++a) {
    const int s = static_cast<int>(rng.Below(sources));
    const int m = sources + static_cast<int>(rng.Below(middles));
    net.arcs.push_back(
        {s, m, 1 + static_cast<int64_t>(rng.Below(25)), static_cast<int64_t>(rng.Below(900))});
  }
  return net;
}

__int128 CostOf(const FlowNetwork& net, const std::vector<int64_t>& flow) {
  __int128 c = 0;
  for (size_t a = 0; a < net.arcs.size(); ++a)
    c += static_cast<__int128>(flow[a]) * net.arcs[a].cost;
  return c;
}

// Capacities, conservation and the reduced-cost optimality conditions.
void ExpectOptimal(const FlowNetwork& net, const NetworkSimplex& ns) {
  std::vector<int64_t> balance(net.nodes, 0);
  for (size_t a = 0; a < net.arcs.size(); ++a) {
    const FlowArc& arc = net.arcs[a];
    const int64_t f = ns.flow(static_cast<int32_t>(a));
    ASSERT_GE(f, 0);
    ASSERT_LE(f, arc.capacity);
    balance[arc.from] += f;
    balance[arc.to] -= f;
    const int64_t rc = arc.cost + ns.potential(arc.from) - ns.potential(arc.to);
    if (f < arc.capacity) {
      EXPECT_GE(rc, 0) << "arc " << a;
    }
    if (f > 0) {
      EXPECT_LE(rc, 0) << "arc " << a;
    }
  }
  for (int n = 0; n < net.nodes; ++n) EXPECT_EQ(balance[n], net.supply[n]) << "node " << n;
}

TEST(NetworkSimplexTest, MatchesLemonOnRandomNetworks) {
  Rng rng(7);
  for (int round = 0; round < 40; ++round) {
    const FlowNetwork net = RandomNetwork(rng, 12, 6, 40);
    NetworkSimplex ns(net.supply);
    for (const FlowArc& a : net.arcs) ns.AddArc(a.from, a.to, a.capacity, a.cost);
    ASSERT_TRUE(ns.Solve());
    ExpectOptimal(net, ns);
    std::vector<int64_t> flow(net.arcs.size());
    for (size_t a = 0; a < net.arcs.size(); ++a) flow[a] = ns.flow(static_cast<int32_t>(a));
    const FlowSolution lemon = SolveMinCostFlow(net, /*cost_scaling=*/false);
    ASSERT_TRUE(lemon.optimal);
    EXPECT_EQ(CostOf(net, flow), CostOf(net, lemon.flow)) << "round " << round;
  }
}

TEST(NetworkSimplexTest, SolvesAgainFromTheLastBasisAfterArcsAreAdded) {
  Rng rng(11);
  for (int round = 0; round < 40; ++round) {
    const FlowNetwork net = RandomNetwork(rng, 15, 8, 60);
    // The first solve sees only part of the arcs, the second all of them.
    const size_t first = net.arcs.size() / 3;
    NetworkSimplex warm(net.supply);
    for (size_t a = 0; a < first; ++a)
      warm.AddArc(net.arcs[a].from, net.arcs[a].to, net.arcs[a].capacity, net.arcs[a].cost);
    ASSERT_TRUE(warm.Solve());
    const int64_t pivots = warm.pivots();
    for (size_t a = first; a < net.arcs.size(); ++a)
      warm.AddArc(net.arcs[a].from, net.arcs[a].to, net.arcs[a].capacity, net.arcs[a].cost);
    ASSERT_TRUE(warm.Solve());
    ExpectOptimal(net, warm);
    NetworkSimplex cold(net.supply);
    for (const FlowArc& a : net.arcs) cold.AddArc(a.from, a.to, a.capacity, a.cost);
    ASSERT_TRUE(cold.Solve());
    std::vector<int64_t> wf(net.arcs.size()), cf(net.arcs.size());
    for (size_t a = 0; a < net.arcs.size(); ++a) {
      wf[a] = warm.flow(static_cast<int32_t>(a));
      cf[a] = cold.flow(static_cast<int32_t>(a));
    }
    EXPECT_EQ(CostOf(net, wf), CostOf(net, cf)) << "round " << round;
    EXPECT_GE(warm.pivots(), pivots);
  }
}

TEST(NetworkSimplexTest, ReportsInfeasibleSupplies) {
  // Node 0 must send 5 units to node 1 over an arc that takes 3.
  NetworkSimplex ns({5, -5});
  ns.AddArc(0, 1, 3, 1);
  EXPECT_FALSE(ns.Solve());
}

}  // namespace
}  // namespace polycloud::optimize::internal
