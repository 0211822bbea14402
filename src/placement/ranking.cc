#include "ranking.h"

#include <algorithm>
#include <numeric>

#include "polycloud/base/status.h"

namespace polycloud::placement {

void Ranking::Build(const FleetState& fleet, const std::vector<int64_t>& static_score) {
  const world::World& w = fleet.world();
  const size_t pools = w.pools.size();
  POLYCLOUD_CHECK(static_score.size() == pools);
  std::vector<world::PoolIndex> order(pools);
  std::iota(order.begin(), order.end(), 0);
  auto key = [&](world::PoolIndex p) {
    const PoolInfo& i = fleet.info(p);
    // Sharing, CPU and memory per node too: a shaped request then passes or
    // fails the fabric filter's shape check for a whole class at once.
    return std::make_tuple(i.accelerator, -static_score[p], i.provider, i.gpus_per_node,
                           i.gpu_sharing, i.cpu_milli_per_node, i.memory_mib_per_node);
  };
  std::sort(order.begin(), order.end(), [&](world::PoolIndex a, world::PoolIndex b) {
    const auto ka = key(a), kb = key(b);
    return ka != kb ? ka < kb : a < b;
  });
  classes_.clear();
  class_of_.assign(pools, 0);
  free_.assign(pools, 0);
  first_.assign(w.accelerators.size() + 1, 0);
  for (size_t i = 0; i < order.size(); ++i) {
    const world::PoolIndex p = order[i];
    if (i == 0 || key(order[i - 1]) != key(p)) {
      Class& c = classes_.emplace_back();
      c.score = static_score[p];
      c.accelerator = fleet.info(p).accelerator;
      c.provider = fleet.info(p).provider;
      c.gpus_per_node = fleet.info(p).gpus_per_node;
    }
    const auto c = static_cast<int32_t>(classes_.size() - 1);
    class_of_[p] = c;
    free_[p] = fleet.pool(p).placeable;
    classes_[c].members.push_back(Member{free_[p], p});
    classes_[c].max_gang = std::max(classes_[c].max_gang, fleet.pool(p).max_gang);
  }
  // Classes are in accelerator order: first_[a] is the first of type a or later.
  for (size_t a = 0, c = 0; a <= w.accelerators.size(); ++a) {
    while (c < classes_.size() && classes_[c].accelerator < static_cast<int32_t>(a)) ++c;
    first_[a] = static_cast<int32_t>(c);
  }
  leaves_ = 1;
  while (leaves_ < static_cast<int32_t>(classes_.size())) leaves_ *= 2;
  tree_.assign(2 * static_cast<size_t>(leaves_), -1);
  provider_tree_.assign(w.providers.size(), tree_);
  for (size_t c = 0; c < classes_.size(); ++c) {
    std::sort(classes_[c].members.begin(), classes_[c].members.end());
    tree_[leaves_ + c] = classes_[c].members.back().free;
    provider_tree_[classes_[c].provider][leaves_ + c] = tree_[leaves_ + c];
  }
  auto fill = [&](std::vector<int64_t>& t) {
    for (int32_t n = leaves_ - 1; n >= 1; --n) t[n] = std::max(t[2 * n], t[2 * n + 1]);
  };
  fill(tree_);
  for (auto& t : provider_tree_) fill(t);
  serial_ = fleet.serial();
  epoch_ = fleet.change_epoch();
  read_ = fleet.changes().size();
}

void Ranking::Sync(const FleetState& fleet) {
  POLYCLOUD_CHECK(built_for(fleet));
  if (fleet.change_epoch() != epoch_) {
    for (size_t p = 0; p < free_.size(); ++p) {
      SetFree(static_cast<world::PoolIndex>(p),
              fleet.pool(static_cast<world::PoolIndex>(p)).placeable);
    }
    epoch_ = fleet.change_epoch();
    read_ = fleet.changes().size();
    return;
  }
  const std::vector<world::PoolIndex>& log = fleet.changes();
  for (; read_ < log.size(); ++read_) SetFree(log[read_], fleet.pool(log[read_]).placeable);
}

void Ranking::SetFree(world::PoolIndex p, int64_t free) {
  if (free == free_[p]) return;
  const int32_t c = class_of_[p];
  std::vector<Member>& m = classes_[c].members;
  auto it = std::lower_bound(m.begin(), m.end(), Member{free_[p], p});
  POLYCLOUD_CHECK(it != m.end() && it->pool == p);
  const Member moved{free, p};
  if (free > free_[p]) {
    auto to = std::lower_bound(it + 1, m.end(), moved);
    std::move(it + 1, to, it);
    *(to - 1) = moved;
  } else {
    auto to = std::lower_bound(m.begin(), it, moved);
    std::move_backward(to, it, it + 1);
    *to = moved;
  }
  free_[p] = free;
  if (tree_[leaves_ + c] != m.back().free) SetLeaf(c, m.back().free);
}

void Ranking::SetLeaf(int32_t c, int64_t value) {
  auto set = [&](std::vector<int64_t>& t) {
    int32_t n = leaves_ + c;
    t[n] = value;
    for (n /= 2; n >= 1; n /= 2) {
      const int64_t v = std::max(t[2 * n], t[2 * n + 1]);
      if (t[n] == v) break;
      t[n] = v;
    }
  };
  set(tree_);
  set(provider_tree_[classes_[c].provider]);
}

int32_t Ranking::NextIn(const std::vector<int64_t>& tree, int32_t last, int32_t from,
                        int64_t gpus) const {
  if (from >= last) return last;
  int32_t n = leaves_ + from;
  while (true) {
    if (tree[n] >= gpus) {
      while (n < leaves_) n = tree[2 * n] >= gpus ? 2 * n : 2 * n + 1;
      return std::min(n - leaves_, last);
    }
    // Up while a right child, then to the next subtree on the right.
    while (n & 1) n /= 2;
    if (n == 0) return last;
    ++n;
  }
}

}  // namespace polycloud::placement
