#include "network_simplex.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "polycloud/base/status.h"

namespace polycloud::optimize::internal {
namespace {

constexpr int8_t kUpper = -1;
constexpr int8_t kTree = 0;
constexpr int8_t kLower = 1;
constexpr int8_t kDown = -1;
constexpr int8_t kUp = 1;
constexpr int64_t kInfinity = std::numeric_limits<int64_t>::max();

}  // namespace

NetworkSimplex::NetworkSimplex(std::vector<int64_t> supply)
    : nodes_(static_cast<int32_t>(supply.size())), root_(nodes_), supply_(std::move(supply)) {
  int64_t sum = 0;
  for (int64_t s : supply_) sum += s;
  POLYCLOUD_CHECK(sum == 0);
  supply_.push_back(0);  // the root
  // The artificial arcs, one per node, are filled in by Initialize().
  source_.assign(nodes_, 0);
  target_.assign(nodes_, 0);
  cap_.assign(nodes_, kInfinity);
  cost_.assign(nodes_, 0);
  flow_.assign(nodes_, 0);
  state_.assign(nodes_, kTree);
}

int32_t NetworkSimplex::AddArc(int32_t from, int32_t to, int64_t capacity, int64_t cost) {
  POLYCLOUD_CHECK(from >= 0 && from < nodes_ && to >= 0 && to < nodes_ && capacity >= 0);
  POLYCLOUD_CHECK(!initialized_ || (cost >= -max_cost_ && cost <= max_cost_));
  source_.push_back(from);
  target_.push_back(to);
  cap_.push_back(capacity);
  cost_.push_back(cost);
  flow_.push_back(0);
  state_.push_back(kLower);
  return static_cast<int32_t>(source_.size()) - 1 - nodes_;
}

// The artificial basis: every node hangs from the root by its artificial arc,
// carrying its supply; reaching a node with demand costs `artificial` per
// unit, more than any path of real arcs, so an optimal flow avoids them.
void NetworkSimplex::Initialize() {
  initialized_ = true;
  for (size_t e = nodes_; e < cost_.size(); ++e)
    max_cost_ = std::max(max_cost_, cost_[e] < 0 ? -cost_[e] : cost_[e]);
  const __int128 artificial_wide = static_cast<__int128>(max_cost_ + 1) * (nodes_ + 1);
  // Potentials stay within [−n·C, artificial + n·C], so reduced costs stay
  // within three times `artificial`: that must fit in 64 bits (LEMON's own
  // artificial cost, max/2, needs n·C below it just the same).
  POLYCLOUD_CHECK(artificial_wide < (static_cast<__int128>(1) << 61));
  const int64_t artificial = static_cast<int64_t>(artificial_wide);

  const int32_t all = nodes_ + 1;
  pi_.assign(all, 0);
  parent_.assign(all, -1);
  pred_.assign(all, -1);
  thread_.assign(all, 0);
  rev_thread_.assign(all, 0);
  succ_num_.assign(all, 1);
  last_succ_.assign(all, 0);
  pred_dir_.assign(all, kUp);

  thread_[root_] = 0;
  rev_thread_[0] = root_;
  succ_num_[root_] = nodes_ + 1;
  last_succ_[root_] = root_ - 1;
  for (int32_t u = 0; u < nodes_; ++u) {
    const int32_t e = u;
    parent_[u] = root_;
    pred_[u] = e;
    thread_[u] = u + 1;
    rev_thread_[u + 1] = u;
    succ_num_[u] = 1;
    last_succ_[u] = u;
    cap_[e] = kInfinity;
    state_[e] = kTree;
    if (supply_[u] >= 0) {
      pred_dir_[u] = kUp;
      pi_[u] = 0;
      source_[e] = u;
      target_[e] = root_;
      flow_[e] = supply_[u];
      cost_[e] = 0;
    } else {
      pred_dir_[u] = kDown;
      pi_[u] = artificial;
      source_[e] = root_;
      target_[e] = u;
      flow_[e] = -supply_[u];
      cost_[e] = artificial;
    }
  }
  if (nodes_ == 0) thread_[root_] = root_;
}

bool NetworkSimplex::Solve() {
  if (!initialized_) Initialize();
  // Search the real arcs in a mixed order (as LEMON stores them), so that
  // consecutive candidates seldom share a node.
  const int32_t m = arc_count();
  if (static_cast<int32_t>(search_.size()) != m) {
    search_.resize(m);
    const int32_t skip = std::max(nodes_ > 0 ? m / nodes_ : 0, 3);
    for (int32_t a = 0, i = 0, j = 0; a < m; ++a) {
      search_[i] = Slot(a);
      if ((i += skip) >= m) i = ++j;
    }
    block_size_ = std::max(static_cast<int32_t>(std::sqrt(static_cast<double>(m))), 10);
    next_ = 0;
  }
  while (FindEnteringArc()) {
    FindJoinNode();
    const bool change = FindLeavingArc();
    if (delta_ >= kInfinity) return false;  // unbounded: a negative cycle of infinite arcs
    ChangeFlow(change);
    if (change) {
      UpdateTreeStructure();
      UpdatePotential();
    }
    ++pivots_;
  }
  for (int32_t e = 0; e < nodes_; ++e) {
    if (flow_[e] != 0) return false;
  }
  return true;
}

bool NetworkSimplex::FindEnteringArc() {
  const size_t n = search_.size();
  if (n == 0) return false;
  int64_t min = 0;
  int32_t count = block_size_;
  size_t i = next_;
  for (size_t seen = 0; seen < n; ++seen) {
    const int32_t e = search_[i];
    const int64_t c = state_[e] * (cost_[e] + pi_[source_[e]] - pi_[target_[e]]);
    if (c < min) {
      min = c;
      in_arc_ = e;
    }
    if (++i == n) i = 0;
    if (--count == 0) {
      if (min < 0) break;
      count = block_size_;
    }
  }
  if (min >= 0) return false;
  next_ = i;
  return true;
}

void NetworkSimplex::FindJoinNode() {
  int32_t u = source_[in_arc_];
  int32_t v = target_[in_arc_];
  while (u != v) {
    if (succ_num_[u] < succ_num_[v]) {
      u = parent_[u];
    } else {
      v = parent_[v];
    }
  }
  join_ = u;
}

// The leaving arc: the last blocking arc met going around the cycle in the
// direction of the flow change from the join node, which keeps the tree
// strongly feasible (no cycling). False when the entering arc itself blocks.
bool NetworkSimplex::FindLeavingArc() {
  int32_t first, second;
  if (state_[in_arc_] == kLower) {
    first = source_[in_arc_];
    second = target_[in_arc_];
  } else {
    first = target_[in_arc_];
    second = source_[in_arc_];
  }
  delta_ = cap_[in_arc_];
  int result = 0;
  for (int32_t u = first; u != join_; u = parent_[u]) {
    const int32_t e = pred_[u];
    int64_t d = flow_[e];
    if (pred_dir_[u] == kDown) d = cap_[e] >= kInfinity ? kInfinity : cap_[e] - d;
    if (d < delta_) {
      delta_ = d;
      u_out_ = u;
      result = 1;
    }
  }
  for (int32_t u = second; u != join_; u = parent_[u]) {
    const int32_t e = pred_[u];
    int64_t d = flow_[e];
    if (pred_dir_[u] == kUp) d = cap_[e] >= kInfinity ? kInfinity : cap_[e] - d;
    if (d <= delta_) {
      delta_ = d;
      u_out_ = u;
      result = 2;
    }
  }
  if (result == 1) {
    u_in_ = first;
    v_in_ = second;
  } else {
    u_in_ = second;
    v_in_ = first;
  }
  return result != 0;
}

void NetworkSimplex::ChangeFlow(bool change) {
  if (delta_ > 0) {
    const int64_t val = state_[in_arc_] * delta_;
    flow_[in_arc_] += val;
    for (int32_t u = source_[in_arc_]; u != join_; u = parent_[u])
      flow_[pred_[u]] -= pred_dir_[u] * val;
    for (int32_t u = target_[in_arc_]; u != join_; u = parent_[u])
      flow_[pred_[u]] += pred_dir_[u] * val;
  }
  if (change) {
    state_[in_arc_] = kTree;
    state_[pred_[u_out_]] = flow_[pred_[u_out_]] == 0 ? kLower : kUpper;
  } else {
    state_[in_arc_] = static_cast<int8_t>(-state_[in_arc_]);
  }
}

// Re-hangs the subtree cut off by the leaving arc under the entering arc,
// keeping the thread order, subtree sizes and last successors (as LEMON).
void NetworkSimplex::UpdateTreeStructure() {
  const int32_t old_rev_thread = rev_thread_[u_out_];
  const int32_t old_succ_num = succ_num_[u_out_];
  const int32_t old_last_succ = last_succ_[u_out_];
  v_out_ = parent_[u_out_];

  if (u_in_ == u_out_) {
    parent_[u_in_] = v_in_;
    pred_[u_in_] = in_arc_;
    pred_dir_[u_in_] = u_in_ == source_[in_arc_] ? kUp : kDown;
    if (thread_[v_in_] != u_out_) {
      int32_t after = thread_[old_last_succ];
      thread_[old_rev_thread] = after;
      rev_thread_[after] = old_rev_thread;
      after = thread_[v_in_];
      thread_[v_in_] = u_out_;
      rev_thread_[u_out_] = v_in_;
      thread_[old_last_succ] = after;
      rev_thread_[after] = old_last_succ;
    }
  } else {
    const int32_t thread_continue =
        old_rev_thread == v_in_ ? thread_[old_last_succ] : thread_[v_in_];
    int32_t stem = u_in_;
    int32_t par_stem = v_in_;
    int32_t last = last_succ_[u_in_];
    int32_t after = thread_[last];
    thread_[v_in_] = u_in_;
    dirty_revs_.clear();
    dirty_revs_.push_back(v_in_);
    while (stem != u_out_) {
      const int32_t next_stem = parent_[stem];
      thread_[last] = next_stem;
      dirty_revs_.push_back(last);
      const int32_t before = rev_thread_[stem];
      thread_[before] = after;
      rev_thread_[after] = before;
      parent_[stem] = par_stem;
      par_stem = stem;
      stem = next_stem;
      last = last_succ_[stem] == last_succ_[par_stem] ? rev_thread_[par_stem] : last_succ_[stem];
      after = thread_[last];
    }
    parent_[u_out_] = par_stem;
    thread_[last] = thread_continue;
    rev_thread_[thread_continue] = last;
    last_succ_[u_out_] = last;
    if (old_rev_thread != v_in_) {
      thread_[old_rev_thread] = after;
      rev_thread_[after] = old_rev_thread;
    }
    for (int32_t u : dirty_revs_) rev_thread_[thread_[u]] = u;

    int32_t tmp_sc = 0;
    const int32_t tmp_ls = last_succ_[u_out_];
    for (int32_t u = u_out_, p = parent_[u]; u != u_in_; u = p, p = parent_[u]) {
      pred_[u] = pred_[p];
      pred_dir_[u] = static_cast<int8_t>(-pred_dir_[p]);
      tmp_sc += succ_num_[u] - succ_num_[p];
      succ_num_[u] = tmp_sc;
      last_succ_[p] = tmp_ls;
    }
    pred_[u_in_] = in_arc_;
    pred_dir_[u_in_] = u_in_ == source_[in_arc_] ? kUp : kDown;
    succ_num_[u_in_] = old_succ_num;
  }

  const int32_t up_limit_out = last_succ_[join_] == v_in_ ? join_ : -1;
  const int32_t last_succ_out = last_succ_[u_out_];
  for (int32_t u = v_in_; u != -1 && last_succ_[u] == v_in_; u = parent_[u])
    last_succ_[u] = last_succ_out;
  if (join_ != old_rev_thread && v_in_ != old_rev_thread) {
    for (int32_t u = v_out_; u != up_limit_out && last_succ_[u] == old_last_succ; u = parent_[u])
      last_succ_[u] = old_rev_thread;
  } else if (last_succ_out != old_last_succ) {
    for (int32_t u = v_out_; u != up_limit_out && last_succ_[u] == old_last_succ; u = parent_[u])
      last_succ_[u] = last_succ_out;
  }
  for (int32_t u = v_in_; u != join_; u = parent_[u]) succ_num_[u] += old_succ_num;
  for (int32_t u = v_out_; u != join_; u = parent_[u]) succ_num_[u] -= old_succ_num;
}

void NetworkSimplex::UpdatePotential() {
  const int64_t sigma = pi_[v_in_] - pi_[u_in_] - pred_dir_[u_in_] * cost_[in_arc_];
  const int32_t end = thread_[last_succ_[u_in_]];
  for (int32_t u = u_in_; u != end; u = thread_[u]) pi_[u] += sigma;
}

}  // namespace polycloud::optimize::internal
