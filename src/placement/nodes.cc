#include "polycloud/placement/nodes.h"

#include <algorithm>
#include <bit>

#include "polycloud/base/status.h"

namespace polycloud::placement {

const char* NodePolicyName(NodePolicy policy) {
  switch (policy) {
    case NodePolicy::kPooled:
      return "pooled";
    case NodePolicy::kBestFit:
      return "best-fit";
    case NodePolicy::kSpread:
      return "spread";
    case NodePolicy::kRandom:
      return "random";
    case NodePolicy::kFragmentation:
      return "fragmentation";
  }
  return "?";
}

const char* NodePolicyNames() { return "best-fit, spread, random, fragmentation, pooled"; }

std::optional<NodePolicy> ParseNodePolicy(std::string_view name) {
  for (NodePolicy p : {NodePolicy::kPooled, NodePolicy::kBestFit, NodePolicy::kSpread,
                       NodePolicy::kRandom, NodePolicy::kFragmentation}) {
    if (name == NodePolicyName(p)) return p;
  }
  return std::nullopt;
}

void RequestMix::Note(int64_t gpus) {
  auto add = [&](int64_t g, int32_t delta) {
    auto it = std::lower_bound(sizes_.begin(), sizes_.end(), std::pair<int64_t, int32_t>{g, 0},
                               [](const auto& a, const auto& b) { return a.first < b.first; });
    if (it != sizes_.end() && it->first == g) {
      it->second += delta;
      if (it->second == 0) sizes_.erase(it);
    } else {
      sizes_.insert(it, {g, delta});
    }
  };
  if (ring_.size() < static_cast<size_t>(kMixWindow)) {
    ring_.push_back(gpus);
  } else {
    add(ring_[next_], -1);
    ring_[next_] = gpus;
    next_ = (next_ + 1) % ring_.size();
  }
  add(gpus, 1);
}

PoolNodes::PoolNodes(int64_t gpus_per_node) : gpn_(std::max<int64_t>(1, gpus_per_node)) {
  level_.resize(gpn_ + 1);
  nonempty_.assign(gpn_ / 64 + 1, 0);
}

int64_t PoolNodes::Fragmentation(int64_t free, int64_t gpn, const RequestMix& mix) {
  if (free <= 0) return 0;
  int64_t sum = 0;
  for (const auto& [g, count] : mix.sizes()) {
    const bool usable = g <= gpn ? g <= free : free == gpn;
    if (!usable) sum += count * free;
  }
  return sum;
}

void PoolNodes::Refile(int32_t n) {
  const bool over = used_[n] > size_[n];
  if (over != (over_[n] != 0)) {
    overcommitted_ += over ? 1 : -1;
    over_[n] = over;
  }
  const int32_t to = static_cast<int32_t>(free(n));
  const int32_t from = at_level_[n];
  if (to == from) return;
  if (from > 0) {
    std::vector<int32_t>& list = level_[from];
    const int32_t last = list.back();
    list[pos_[n]] = last;
    pos_[last] = pos_[n];
    list.pop_back();
    if (list.empty()) nonempty_[from / 64] &= ~(uint64_t{1} << (from % 64));
  }
  at_level_[n] = to;
  pos_[n] = -1;
  if (to > 0) {
    std::vector<int32_t>& list = level_[to];
    pos_[n] = static_cast<int32_t>(list.size());
    list.push_back(n);
    nonempty_[to / 64] |= uint64_t{1} << (to % 64);
  }
}

void PoolNodes::SetCapacity(int64_t gpus, const std::vector<int64_t>* keep_rank) {
  gpus = std::max<int64_t>(0, gpus);
  if (gpus > capacity_) {
    // Grow: fill partial nodes, then bring back removed ones (lowest first), then add.
    int64_t add = gpus - capacity_;
    for (int32_t n = 0; n < node_count() && add > 0; ++n) {
      const int64_t room = gpn_ - size_[n];
      if (room <= 0) continue;
      const int64_t take = std::min(room, add);
      size_[n] += static_cast<int32_t>(take);
      add -= take;
      Refile(n);
    }
    while (add > 0) {
      const auto n = static_cast<int32_t>(size_.size());
      const int64_t take = std::min(gpn_, add);
      size_.push_back(static_cast<int32_t>(take));
      used_.push_back(0);
      pos_.push_back(-1);
      at_level_.push_back(0);
      over_.push_back(0);
      add -= take;
      Refile(n);
    }
  } else if (gpus < capacity_) {
    // Shrink: take GPUs off the nodes that lose least — wholly free ones,
    // then the lowest keep_rank (the work the scheduler would evict first),
    // then the fewest GPUs in use, the highest node first.
    std::vector<int32_t> order;
    for (int32_t n = 0; n < node_count(); ++n) {
      if (size_[n] > 0) order.push_back(n);
    }
    auto rank = [&](int32_t n) -> int64_t {
      if (used_[n] == 0) return -1;
      return keep_rank != nullptr && static_cast<size_t>(n) < keep_rank->size() ? (*keep_rank)[n]
                                                                                : 0;
    };
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
      const int64_t ra = rank(a), rb = rank(b);
      if (ra != rb) return ra < rb;
      if (used_[a] != used_[b]) return used_[a] < used_[b];
      if (size_[a] != size_[b]) return size_[a] < size_[b];  // partial nodes first
      return a > b;
    });
    int64_t cut = capacity_ - gpus;
    for (int32_t n : order) {
      if (cut <= 0) break;
      const int64_t take = std::min<int64_t>(size_[n], cut);
      size_[n] -= static_cast<int32_t>(take);
      cut -= take;
      Refile(n);
    }
  }
  capacity_ = gpus;
}

int64_t PoolNodes::LowestLevelFrom(int64_t from) const {
  if (from > gpn_) return 0;
  size_t w = from / 64;
  uint64_t bits = nonempty_[w] & (~uint64_t{0} << (from % 64));
  while (true) {
    if (bits != 0) return static_cast<int64_t>(w * 64 + std::countr_zero(bits));
    if (++w >= nonempty_.size()) return 0;
    bits = nonempty_[w];
  }
}

int64_t PoolNodes::HighestLevel() const {
  for (size_t w = nonempty_.size(); w-- > 0;) {
    if (nonempty_[w] != 0)
      return static_cast<int64_t>(w * 64 + 63 - std::countl_zero(nonempty_[w]));
  }
  return 0;
}

int64_t PoolNodes::Placeable() const {
  const auto whole = static_cast<int64_t>(level_[gpn_].size());
  return whole > 0 ? whole * gpn_ : HighestLevel();
}

void PoolNodes::TakeOn(int32_t n, int64_t gpus) {
  used_[n] += static_cast<int32_t>(gpus);
  Refile(n);
}

void PoolNodes::Take(int64_t alloc, NodePolicy policy, Rng& rng, const RequestMix& mix,
                     NodePick* pick) {
  POLYCLOUD_CHECK(alloc >= 1 && alloc <= Placeable());
  pick->nodes.clear();
  pick->mix_total = mix.total();
  if (alloc > gpn_) {  // whole nodes; every wholly free node is alike
    POLYCLOUD_CHECK(alloc % gpn_ == 0);
    pick->candidates = static_cast<int64_t>(level_[gpn_].size());
    pick->free_before = gpn_;
    pick->node_gpus = gpn_;
    for (int64_t k = alloc / gpn_; k > 0; --k) {
      const int32_t n = level_[gpn_].back();
      pick->nodes.push_back(n);
      TakeOn(n, gpn_);
    }
    return;
  }
  int64_t candidates = 0;
  for (int64_t l = LowestLevelFrom(alloc); l != 0; l = LowestLevelFrom(l + 1)) {
    candidates += static_cast<int64_t>(level_[l].size());
  }
  int64_t level = 0;
  int32_t node = -1;
  switch (policy) {
    case NodePolicy::kPooled:
    case NodePolicy::kBestFit:
      level = LowestLevelFrom(alloc);
      break;
    case NodePolicy::kSpread:
      level = HighestLevel();
      break;
    case NodePolicy::kRandom: {
      auto r = static_cast<int64_t>(rng.Below(static_cast<uint64_t>(candidates)));
      for (int64_t l = LowestLevelFrom(alloc); l != 0; l = LowestLevelFrom(l + 1)) {
        const auto here = static_cast<int64_t>(level_[l].size());
        if (r < here) {
          level = l;
          node = level_[l][r];
          break;
        }
        r -= here;
      }
      break;
    }
    case NodePolicy::kFragmentation: {
      int64_t best_delta = 0;
      for (int64_t l = LowestLevelFrom(alloc); l != 0; l = LowestLevelFrom(l + 1)) {
        const int64_t delta = Fragmentation(l - alloc, gpn_, mix) - Fragmentation(l, gpn_, mix);
        if (level == 0 || delta < best_delta) {
          level = l;
          best_delta = delta;
        }
      }
      pick->frag_before = Fragmentation(level, gpn_, mix);
      pick->frag_after = Fragmentation(level - alloc, gpn_, mix);
      break;
    }
  }
  POLYCLOUD_CHECK(level >= alloc);
  if (node < 0) node = level_[level].back();
  pick->candidates = candidates;
  pick->free_before = level;
  pick->node_gpus = size_[node];
  pick->nodes.push_back(node);
  TakeOn(node, alloc);
}

int64_t PoolNodes::Stranded(const RequestMix& mix) const {
  if (mix.total() == 0) return 0;
  int64_t sum = 0;
  for (int64_t l = LowestLevelFrom(1); l != 0; l = LowestLevelFrom(l + 1)) {
    sum += static_cast<int64_t>(level_[l].size()) * Fragmentation(l, gpn_, mix);
  }
  return sum / mix.total();
}

void PoolNodes::Give(int32_t node, int64_t gpus) {
  used_[node] -= static_cast<int32_t>(gpus);
  POLYCLOUD_CHECK(used_[node] >= 0);
  Refile(node);
}

void PoolNodes::Give(const std::vector<int32_t>& nodes, int64_t alloc) {
  const int64_t each = nodes.size() > 1 ? gpn_ : alloc;
  for (int32_t n : nodes) Give(n, each);
}

}  // namespace polycloud::placement
