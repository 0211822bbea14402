// Internal to src/optimize: a primal network simplex for min-cost flow that
// can be re-solved after arcs are added, starting from the last optimal basis
// instead of from scratch.
//
// The transport flow grows its arc set by reduced cost and solves again after
// every growth round; LEMON's NetworkSimplex (min_cost_flow.h) starts every
// solve from an artificial basis, so each round costs as much as the first.
// Here arcs added after a solve enter at flow zero, the optimal tree of the
// last solve stays a strongly feasible basis, and the next solve only pivots
// in what the new arcs improve. The algorithm and its data structures (the
// spanning tree kept as parent / thread / subtree size / last successor, the
// block-search pivot rule, the strongly feasible leaving-arc rule) follow
// LEMON 1.3's NetworkSimplex (lemon/network_simplex.h, Boost Software License
// 1.0, © the EGRES group), specialised to integer costs and equality supplies.
//
//   NetworkSimplex ns(supply);               // node supplies, summing to zero
//   int32_t a = ns.AddArc(u, v, capacity, cost);
//   POLYCLOUD_CHECK(ns.Solve());
//   ... ns.AddArc(...); ns.Solve();          // continues from the last basis
//   ns.flow(a); ns.potential(u);
//
// Thread-safety: none; one instance per solve.
#ifndef POLYCLOUD_OPTIMIZE_NETWORK_SIMPLEX_H_
#define POLYCLOUD_OPTIMIZE_NETWORK_SIMPLEX_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace polycloud::optimize::internal {

class NetworkSimplex {
 public:
  // Nodes 0 .. supply.size() - 1; supplies must sum to zero.
  explicit NetworkSimplex(std::vector<int64_t> supply);

  // Adds an arc u → v with 0 <= flow <= capacity at `cost` per unit; returns
  // its index (0, 1, ... in the order added). After a solve, every cost must
  // stay within the largest cost present at the first solve.
  int32_t AddArc(int32_t from, int32_t to, int64_t capacity, int64_t cost);

  // Solves to optimality from the current basis. False when no flow meets
  // the supplies within the capacities.
  bool Solve();

  int64_t flow(int32_t arc) const { return flow_[Slot(arc)]; }
  // Node potentials: the reduced cost of u → v is cost + π(u) − π(v), never
  // negative on an arc below capacity and never positive on one above zero.
  int64_t potential(int32_t node) const { return pi_[node]; }
  int32_t arc_count() const { return static_cast<int32_t>(source_.size()) - nodes_; }
  // Pivots of all solves so far.
  int64_t pivots() const { return pivots_; }

 private:
  // Arcs 0 .. nodes_ - 1 are the artificial arcs joining each node to the
  // root; the arcs added by AddArc follow.
  int32_t Slot(int32_t arc) const { return nodes_ + arc; }
  void Initialize();
  bool FindEnteringArc();
  void FindJoinNode();
  bool FindLeavingArc();
  void ChangeFlow(bool change);
  void UpdateTreeStructure();
  void UpdatePotential();

  int32_t nodes_;
  int32_t root_;
  bool initialized_ = false;
  int64_t max_cost_ = 0;  // of the arcs at initialisation: bounds later arcs
  int64_t pivots_ = 0;

  // Per arc.
  std::vector<int32_t> source_, target_;
  std::vector<int64_t> cap_, cost_, flow_;
  std::vector<int8_t> state_;  // kUpper / kTree / kLower

  // Per node (and the root).
  std::vector<int64_t> supply_;
  std::vector<int64_t> pi_;
  std::vector<int32_t> parent_, pred_, thread_, rev_thread_, succ_num_, last_succ_;
  std::vector<int8_t> pred_dir_;
  std::vector<int32_t> dirty_revs_;

  // Block search over the real arcs, in a mixed order.
  std::vector<int32_t> search_;
  int32_t block_size_ = 10;
  size_t next_ = 0;

  // The current pivot.
  int32_t in_arc_ = 0, join_ = 0, u_in_ = 0, v_in_ = 0, u_out_ = 0, v_out_ = 0;
  int64_t delta_ = 0;
};

}  // namespace polycloud::optimize::internal

#endif  // POLYCLOUD_OPTIMIZE_NETWORK_SIMPLEX_H_
