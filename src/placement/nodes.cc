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

void RequestMix::Count(int64_t milli, int32_t delta) {
  if (milli <= 0) return;
  if (milli < 1000) {
    shares_ += delta;
    for (int64_t i = milli; i < kShareSlots; i += i & -i) share_count_[i] += delta;
    return;
  }
  auto it = std::lower_bound(whole_.begin(), whole_.end(), std::pair<int64_t, int32_t>{milli, 0},
                             [](const auto& a, const auto& b) { return a.first < b.first; });
  if (it != whole_.end() && it->first == milli) {
    it->second += delta;
    if (it->second == 0) whole_.erase(it);
  } else {
    whole_.insert(it, {milli, delta});
  }
}

void RequestMix::NoteMilli(int64_t milli) {
  if (ring_.size() < static_cast<size_t>(kMixWindow)) {
    ring_.push_back(milli);
  } else {
    Count(ring_[next_], -1);
    ring_[next_] = milli;
    next_ = (next_ + 1) % ring_.size();
  }
  Count(milli, 1);
}

PoolNodes::PoolNodes(int64_t gpus_per_node, int64_t cpu_milli_per_node, int64_t memory_mib_per_node,
                     bool sharing)
    : sharing_(sharing),
      plain_(!sharing && cpu_milli_per_node <= 0 && memory_mib_per_node <= 0),
      cpu_cap_(std::max<int64_t>(0, cpu_milli_per_node)),
      mem_cap_(std::max<int64_t>(0, memory_mib_per_node)),
      gpn_(std::max<int64_t>(1, gpus_per_node)) {
  level_.resize(gpn_ + 1);
  nonempty_.assign(gpn_ / 64 + 1, 0);
  if (sharing_) {
    bucket_.resize(1000);
    bcount_.assign(1024, 0);
  }
}

int64_t PoolNodes::Fragmentation(int64_t free, int64_t gpn, const RequestMix& mix) {
  if (free <= 0) return 0;
  int64_t sum = 0;
  for (const auto& [milli, count] : mix.whole_sizes()) {  // a share needs sharing
    const int64_t g = milli / 1000;
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
      if (!plain_) {
        cpu_used_.push_back(0);
        mem_used_.push_back(0);
      }
      if (sharing_) {
        slot_.resize(slot_.size() + gpn_, 0);
        bpos_.resize(bpos_.size() + gpn_, -1);
        bat_.resize(bat_.size() + gpn_, 0);
      }
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
  used_total_ += gpus;
  used_milli_ += gpus * 1000;
  Refile(n);
}

void PoolNodes::Take(int64_t alloc, NodePolicy policy, Rng& rng, const RequestMix& mix,
                     NodePick* pick) {
  POLYCLOUD_CHECK(alloc >= 1 && alloc <= Placeable());
  pick->nodes.clear();
  pick->mix_total = mix.total();
  pick->gpu = -1;
  pick->share_free_before = 0;
  pick->frag_milli = false;
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
  if (!plain_) {
    const MixTerms t = Terms(mix);
    for (int32_t n = 0; n < node_count(); ++n) sum += FragWith(n, t, mix, nullptr, nullptr);
    return sum / (1000 * static_cast<int64_t>(mix.total()));
  }
  for (int64_t l = LowestLevelFrom(1); l != 0; l = LowestLevelFrom(l + 1)) {
    sum += static_cast<int64_t>(level_[l].size()) * Fragmentation(l, gpn_, mix);
  }
  return sum / mix.total();
}

void PoolNodes::Give(int32_t node, int64_t gpus) {
  used_[node] -= static_cast<int32_t>(gpus);
  used_total_ -= gpus;
  used_milli_ -= gpus * 1000;
  POLYCLOUD_CHECK(used_[node] >= 0);
  Refile(node);
}

void PoolNodes::Give(const std::vector<int32_t>& nodes, int64_t alloc) {
  const int64_t each = nodes.size() > 1 ? gpn_ : alloc;
  for (int32_t n : nodes) Give(n, each);
}

// --- Sharing and multi-resource fit (non-plain pools) ---

void PoolNodes::FileGpu(int32_t gid) {
  const int32_t used = slot_[gid];
  const int32_t to = used > 0 && used < 1000 ? 1000 - used : 0;
  const int32_t from = bat_[gid];
  if (to == from) return;
  auto count = [&](int32_t at, int32_t delta) {
    partly_used_ += delta;
    for (int32_t i = at; i < static_cast<int32_t>(bcount_.size()); i += i & -i) bcount_[i] += delta;
  };
  if (from > 0) {
    std::vector<int32_t>& list = bucket_[from];
    const int32_t last = list.back();
    list[bpos_[gid]] = last;
    bpos_[last] = bpos_[gid];
    list.pop_back();
    if (list.empty()) bnonempty_[from / 64] &= ~(uint64_t{1} << (from % 64));
    count(from, -1);
  }
  bat_[gid] = static_cast<int16_t>(to);
  bpos_[gid] = -1;
  if (to > 0) {
    count(to, 1);
    std::vector<int32_t>& list = bucket_[to];
    bpos_[gid] = static_cast<int32_t>(list.size());
    list.push_back(gid);
    bnonempty_[to / 64] |= uint64_t{1} << (to % 64);
  }
}

void PoolNodes::AddShare(int32_t n, int32_t g, int32_t milli) {
  const int32_t gid = n * static_cast<int32_t>(gpn_) + g;
  const int32_t before = slot_[gid];
  const int32_t after = before + milli;
  POLYCLOUD_CHECK(after >= 0 && after <= 1000);
  if (before == 0 && after > 0) {
    ++used_[n];
    ++used_total_;
  } else if (before > 0 && after == 0) {
    --used_[n];
    --used_total_;
  }
  slot_[gid] = static_cast<int16_t>(after);
  used_milli_ += milli;
  FileGpu(gid);
  Refile(n);
}

int64_t PoolNodes::ShareRoom() const {
  if (!sharing_) return 0;
  if (Placeable() >= 1) return 1000;
  for (int w = 15; w >= 0; --w) {
    if (bnonempty_[w] != 0) return w * 64 + 63 - std::countl_zero(bnonempty_[w]);
  }
  return 0;
}

bool PoolNodes::NodeHasRoom(int32_t n, const NodeShape& s) const {
  return (cpu_cap_ == 0 || cpu_used_[n] + s.cpu_milli <= cpu_cap_) &&
         (mem_cap_ == 0 || mem_used_[n] + s.memory_mib <= mem_cap_);
}

template <typename Visit>
bool PoolNodes::WalkLists(const NodeShape& s, bool reverse, Visit visit) const {
  // Partly used GPUs with at least s.milli free, the fullest first.
  auto buckets = [&]() {
    if (!s.share() || !sharing_) return false;
    if (!reverse) {
      for (int32_t b = s.milli; b < 1000;) {
        const int w = b / 64;
        const uint64_t bits = bnonempty_[w] & (~uint64_t{0} << (b % 64));
        if (bits == 0) {
          b = (w + 1) * 64;
          continue;
        }
        b = w * 64 + std::countr_zero(bits);
        if (b >= 1000) break;
        if (visit(bucket_[b], true, b)) return true;
        ++b;
      }
    } else {
      for (int32_t b = 999; b >= s.milli;) {
        const int w = b / 64;
        const int shift = 63 - b % 64;
        const uint64_t bits = shift == 0 ? bnonempty_[w] : (bnonempty_[w] << shift) >> shift;
        if (bits == 0) {
          b = w * 64 - 1;
          continue;
        }
        b = w * 64 + 63 - std::countl_zero(bits);
        if (b < s.milli) break;
        if (visit(bucket_[b], true, b)) return true;
        --b;
      }
    }
    return false;
  };
  // Nodes with enough whole free GPUs, the fullest first.
  auto levels = [&]() {
    const int64_t from = s.share() ? 1 : s.gpus;
    if (!reverse) {
      for (int64_t l = LowestLevelFrom(from); l != 0; l = LowestLevelFrom(l + 1)) {
        if (visit(level_[l], false, l)) return true;
      }
    } else {
      for (int64_t l = gpn_; l >= from; --l) {
        if (!level_[l].empty() && visit(level_[l], false, l)) return true;
      }
    }
    return false;
  };
  if (!reverse) return buckets() || levels();
  return levels() || buckets();
}

void PoolNodes::FittingCandidates(const NodeShape& s, bool reverse, int64_t skip, int64_t limit,
                                  std::vector<Candidate>* out) const {
  out->clear();
  int64_t misfits = 0;
  int phase = -1;  // partly used GPUs (1), then nodes with whole free GPUs (0): a bound each
  const auto gpn = static_cast<int32_t>(gpn_);
  // Pass 0: candidates from index `skip` on; pass 1: those before it.
  for (int pass = 0; pass < 2; ++pass) {
    int64_t index = 0;
    const bool stopped =
        WalkLists(s, reverse, [&](const std::vector<int32_t>& list, bool gpus, int64_t) {
          const auto size = static_cast<int64_t>(list.size());
          int64_t lo = 0, hi = size;  // positions from the back of the list
          if (pass == 0) {
            lo = std::clamp<int64_t>(skip - index, 0, size);
          } else {
            hi = std::clamp<int64_t>(skip - index, 0, size);
          }
          index += size;
          if (static_cast<int>(gpus) != phase) {
            phase = static_cast<int>(gpus);
            misfits = 0;
          }
          for (int64_t k = lo; k < hi; ++k) {
            const int32_t e = list[size - 1 - k];
            const Candidate c = gpus ? Candidate{e / gpn, e % gpn} : Candidate{e, -1};
            if (!overcommitted(c.node) && NodeHasRoom(c.node, s)) {
              out->push_back(c);
              if (static_cast<int64_t>(out->size()) >= limit) return true;
            } else if (++misfits >= kFitProbes) {
              return true;
            }
          }
          return pass == 1 && index >= skip;
        });
    if (stopped || skip == 0) return;
  }
}

bool PoolNodes::Fits(const NodeShape& s) const {
  if (s.gpus > gpn_) {  // whole free nodes: nothing runs on them
    return s.gpus <= Placeable() && (cpu_cap_ == 0 || s.cpu_milli <= cpu_cap_) &&
           (mem_cap_ == 0 || s.memory_mib <= mem_cap_);
  }
  if (s.share()) {
    if (!sharing_ || s.milli > ShareRoom()) return false;
  } else if (s.gpus > Placeable()) {
    return false;
  }
  if (plain_ || (!s.share() && s.cpu_milli == 0 && s.memory_mib == 0)) return true;
  FittingCandidates(s, false, 0, 1, &scratch_);
  return !scratch_.empty();
}

PoolNodes::MixTerms PoolNodes::Terms(const RequestMix& mix) const {
  MixTerms t;
  larger_scratch_.assign(static_cast<size_t>(gpn_) + 1, 0);
  for (const auto& [milli, count] : mix.whole_sizes()) {
    const int64_t g = milli / 1000;
    if (g > gpn_) {
      t.gangs += count;
      continue;
    }
    t.node_whole += count;
    for (int64_t f = 0; f < g; ++f) larger_scratch_[f] += count;
  }
  t.larger = larger_scratch_.data();
  return t;
}

int64_t PoolNodes::FragWith(int32_t n, const MixTerms& t, const RequestMix& mix, const NodeShape* s,
                            const Candidate* c) const {
  int64_t f = free(n);
  bool wholly_free = used_[n] == 0 && size_[n] == gpn_;
  int64_t partial_free = 0, partial_lost = 0;  // S and Σ p·shares_above(p)
  auto partial = [&](int64_t p) {
    partial_free += p;
    if (sharing_) partial_lost += p * mix.shares_above(p);
  };
  if (sharing_) {
    for (int64_t g = 0; g < gpn_; ++g) {
      const int32_t u = slot_[n * gpn_ + g];
      if (u <= 0 || u >= 1000) continue;
      int64_t p = 1000 - u;
      if (s != nullptr && s->share() && c->gpu == g) p -= s->milli;
      partial(p);
    }
  }
  if (s != nullptr) {
    wholly_free = false;
    if (s->share() && c->gpu < 0) {  // a wholly free GPU becomes partly used
      f -= 1;
      partial(1000 - s->milli);
    } else if (!s->share()) {
      f -= s->gpus;
    }
  }
  return partial_lost + t.node_whole * partial_free + 1000 * f * t.larger[f] +
         t.gangs * (wholly_free ? 0 : partial_free + 1000 * f);
}

int64_t PoolNodes::ListDelta(const MixTerms& t, const RequestMix& mix, const NodeShape& s,
                             bool gpu_list, int64_t at) const {
  // The terms of FragWith that change (see MixTerms); a node on level gpn is
  // wholly free, on any other list it is not.
  auto lost = [&](int64_t p) { return sharing_ ? p * mix.shares_above(p) : 0; };
  if (gpu_list) {  // a share on a partly used GPU with `at` free
    const int64_t after = at - s.milli;
    return lost(after) - lost(at) - s.milli * (t.node_whole + t.gangs);
  }
  const int64_t f = at;
  const bool wholly_free = f == gpn_;
  const int64_t take = s.share() ? 1 : s.gpus;
  int64_t delta = 1000 * ((f - take) * t.larger[f - take] - f * t.larger[f]);
  if (s.share()) {
    const int64_t p = 1000 - s.milli;
    delta += lost(p) + t.node_whole * p;
    delta += t.gangs * (wholly_free ? p + 1000 * (gpn_ - 1) : p - 1000);
  } else {
    delta += t.gangs * (wholly_free ? 1000 * (gpn_ - take) : -1000 * take);
  }
  return delta;
}

bool PoolNodes::LeastFragmenting(const NodeShape& s, const MixTerms& t, const RequestMix& mix,
                                 Candidate* out) const {
  const auto gpn = static_cast<int32_t>(gpn_);
  bool found = false;
  int64_t best_delta = 0;
  int64_t misfits = 0;
  int phase =
      -1;  // a bound for the partly used GPUs and another for the levels, as FittingCandidates
  WalkLists(s, false, [&](const std::vector<int32_t>& list, bool gpus, int64_t at) {
    if (static_cast<int>(gpus) != phase) {
      phase = static_cast<int>(gpus);
      misfits = 0;
    }
    const int64_t delta = ListDelta(t, mix, s, gpus, at);
    if (found && delta >= best_delta) return false;  // no candidate here does better
    for (size_t k = list.size(); k-- > 0;) {
      const int32_t e = list[k];
      const Candidate c = gpus ? Candidate{e / gpn, e % gpn} : Candidate{e, -1};
      if (!overcommitted(c.node) && NodeHasRoom(c.node, s)) {
        *out = c;
        best_delta = delta;
        found = true;
        return false;
      }
      if (++misfits >= kFitProbes) return true;
    }
    return false;
  });
  return found;
}

int64_t PoolNodes::CountCandidates(const NodeShape& s) const {
  int64_t n = 0;
  if (s.share() && sharing_) {
    int64_t below = 0;  // partly used GPUs with less than s.milli free
    for (int32_t i = s.milli - 1; i > 0; i -= i & -i) below += bcount_[i];
    n += partly_used_ - below;
  }
  for (int64_t l = LowestLevelFrom(s.share() ? 1 : s.gpus); l != 0; l = LowestLevelFrom(l + 1)) {
    n += static_cast<int64_t>(level_[l].size());
  }
  return n;
}

int64_t PoolNodes::NodeFragmentation(int32_t n, const RequestMix& mix) const {
  return FragWith(n, Terms(mix), mix, nullptr, nullptr);
}

void PoolNodes::Take(const NodeShape& s, NodePolicy policy, Rng& rng, const RequestMix& mix,
                     NodePick* pick) {
  if (plain_ && !s.share()) {
    Take(s.gpus, policy, rng, mix, pick);
    return;
  }
  // Fits(s) walks in best-fit order; the policy's own walk below may find a
  // candidate where that bounded walk did not, and falls back to it otherwise.
  POLYCLOUD_CHECK(s.share() ? sharing_ && s.milli <= ShareRoom() : s.gpus <= Placeable());
  pick->nodes.clear();
  pick->mix_total = mix.total();
  pick->gpu = -1;
  pick->share_free_before = 0;
  pick->frag_milli = true;
  pick->frag_before = pick->frag_after = 0;
  if (s.gpus > gpn_) {
    Take(s.gpus, policy, rng, mix, pick);
    pick->frag_milli = true;
    for (int32_t n : pick->nodes) {
      cpu_used_[n] += s.cpu_milli;
      mem_used_[n] += s.memory_mib;
    }
    return;
  }
  const int64_t candidates = CountCandidates(s);
  std::vector<Candidate>& found = scratch_;
  switch (policy) {
    case NodePolicy::kPooled:
    case NodePolicy::kBestFit:
      FittingCandidates(s, false, 0, 1, &found);
      break;
    case NodePolicy::kSpread:
      FittingCandidates(s, true, 0, 1, &found);
      break;
    case NodePolicy::kRandom:
      FittingCandidates(
          s, false, static_cast<int64_t>(rng.Below(static_cast<uint64_t>(candidates))), 1, &found);
      break;
    case NodePolicy::kFragmentation: {
      const MixTerms t = Terms(mix);
      Candidate c;
      found.clear();
      if (LeastFragmenting(s, t, mix, &c)) {
        found.push_back(c);
        pick->frag_before = FragWith(c.node, t, mix, nullptr, nullptr);
        pick->frag_after = FragWith(c.node, t, mix, &s, &c);
      }
      break;
    }
  }
  if (found.empty()) FittingCandidates(s, false, 0, 1, &found);  // as Fits()
  if (found.empty()) {
    // Every node, past the probe bound: a preemption may have freed a node
    // that the bounded walk does not reach (Fits() said no, the oracle yes).
    for (int32_t n = 0; n < node_count() && found.empty(); ++n) {
      if (overcommitted(n) || !NodeHasRoom(n, s)) continue;
      if (!s.share()) {
        if (free(n) >= s.gpus) found.push_back({n, -1});
        continue;
      }
      int32_t best_gpu = -1;
      for (int32_t g = 0; g < gpn_; ++g) {
        const int32_t u = slot_[n * gpn_ + g];
        if (u > 0 && 1000 - u >= s.milli && (best_gpu < 0 || u > slot_[n * gpn_ + best_gpu])) {
          best_gpu = g;
        }
      }
      if (best_gpu >= 0 || free(n) >= 1) found.push_back({n, best_gpu});
    }
  }
  POLYCLOUD_CHECK(!found.empty());  // the caller asked Fits() (or the oracle) first
  const Candidate c = found[0];
  const int32_t n = c.node;
  pick->candidates = candidates;
  pick->free_before = free(n);
  pick->node_gpus = size_[n];
  pick->nodes.push_back(n);
  if (s.share()) {
    int32_t g = c.gpu;
    if (g < 0) {  // a wholly free GPU: the first GPU of the node without a share
      for (g = 0; g < gpn_ && slot_[n * gpn_ + g] != 0; ++g) {
      }
    }
    pick->gpu = g;
    pick->share_free_before = 1000 - slot_[n * gpn_ + g];
    AddShare(n, g, s.milli);
  } else {
    TakeOn(n, s.gpus);
  }
  cpu_used_[n] += s.cpu_milli;
  mem_used_[n] += s.memory_mib;
}

void PoolNodes::Give(const std::vector<int32_t>& nodes, const NodeShape& s, int32_t gpu) {
  if (s.share()) {
    POLYCLOUD_CHECK(nodes.size() == 1 && gpu >= 0);
    AddShare(nodes[0], gpu, -s.milli);
  } else {
    Give(nodes, s.gpus);
  }
  if (plain_) return;
  for (int32_t n : nodes) {
    cpu_used_[n] -= s.cpu_milli;
    mem_used_[n] -= s.memory_mib;
    POLYCLOUD_CHECK(cpu_used_[n] >= 0 && mem_used_[n] >= 0);
  }
}

}  // namespace polycloud::placement
