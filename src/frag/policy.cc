#include "polycloud/frag/policy.h"

#include <algorithm>
#include <bit>
#include <functional>
#include <limits>

namespace polycloud::frag {
namespace {

constexpr int64_t kNoFit = std::numeric_limits<int64_t>::min();
// The artifact's normalisers (pkg/type/open-gpu-share/utils/const.go).
constexpr int64_t kMaxSpecCpu = 128000;  // milli-cores
constexpr int64_t kMaxSpecGpu = 8000;    // milli-GPU

// round(10^12 x ln(k / (100 - k))) for k = 1..99: 100 x sigmoid(x) >= k
// exactly when x >= ln(k / (100 - k)), so the artifact's
// int64(sigmoid(x) x 100) is the number of these x reaches (0..99).
constexpr int64_t kLogitPico[99] = {
    -4595119850135, -3891820298111, -3476098689835, -3178053830348, -2944438979166,
    -2751535313042, -2586689344098, -2442347035369, -2313634929181, -2197224577336,
    -2090741096934, -1992430164690, -1900958761193, -1815289966638, -1734601055388,
    -1658228076604, -1585627263740, -1516347489368, -1450010175506, -1386294361120,
    -1324925414744, -1265666373331, -1208311205925, -1152679509938, -1098612288668,
    -1045968555183, -994622575144,  -944461608841,  -895384047055,  -847297860387,
    -800119300112,  -753771802376,  -708185057924,  -663294217410,  -619039208406,
    -575364144904,  -532216813747,  -489548225319,  -447312218044,  -405465108108,
    -363965377201,  -322773392263,  -281851152141,  -241162056817,  -200670695462,
    -160342650075,  -120144311842,  -80042707674,   -40005334614,   0,
    40005334614,    80042707674,    120144311842,   160342650075,   200670695462,
    241162056817,   281851152141,   322773392263,   363965377201,   405465108108,
    447312218044,   489548225319,   532216813747,   575364144904,   619039208406,
    663294217410,   708185057924,   753771802376,   800119300112,   847297860387,
    895384047055,   944461608841,   994622575144,   1045968555183,  1098612288668,
    1152679509938,  1208311205925,  1265666373331,  1324925414744,  1386294361120,
    1450010175506,  1516347489368,  1585627263740,  1658228076604,  1734601055388,
    1815289966638,  1900958761193,  1992430164690,  2090741096934,  2197224577336,
    2313634929181,  2442347035369,  2586689344098,  2751535313042,  2944438979166,
    3178053830348,  3476098689835,  3891820298111,  4595119850135,
};

// int(100 x sigmoid(num / den / 1000)) for den > 0, without floating point.
int64_t SigmoidPercent(int64_t num, int64_t den) {
  const __int128 lhs = static_cast<__int128>(num) * 1'000'000'000'000;
  int64_t k = 0;
  while (k < 99 && lhs >= static_cast<__int128>(den) * 1000 * kLogitPico[k]) ++k;
  return k;
}

struct PolicyInfo {
  Policy policy;
  const char* name;
};
constexpr PolicyInfo kPolicies[] = {
    {Policy::kRandom, "random"},         {Policy::kDotProd, "dotprod"},
    {Policy::kClustering, "clustering"}, {Policy::kPacking, "packing"},
    {Policy::kBestFit, "bestfit"},       {Policy::kFgd, "fgd"},
    {Policy::kFgdExact, "fgd-exact"},    {Policy::kSpread, "spread"},
};

// BestFit: 100 x (1 - (cpu left after / 128 cores + GPU left after / 8 GPUs) / 2),
// truncated, as the artifact's getBestFitScore (computed exactly here).
int64_t BestFitScore(const NodeState& s, const Pod& p) {
  const int64_t cpu_left = s.cpu_free - p.cpu_milli;
  const int64_t gpu_left = s.GpuFreeTotal() - p.TotalGpuMilli();
  // 50 x cpu_left / 128000 + 50 x gpu_left / 8000 over the denominator 128000.
  const int64_t num =
      100 * kMaxSpecCpu - 50 * cpu_left - 50 * (kMaxSpecCpu / kMaxSpecGpu) * gpu_left;
  return num / kMaxSpecCpu;  // truncation toward zero, as Go's int64(float)
}

// DotProd (Tetris): 100 x (1 - (free . demand) / 2), each dimension divided by
// its maximum spec, truncated (calculateDotProductScore, "merge" + "max").
int64_t DotProdScore(const NodeState& s, const Pod& p) {
  constexpr int64_t kRatio = kMaxSpecCpu / kMaxSpecGpu;  // 16
  constexpr int64_t kDen = kMaxSpecCpu * kMaxSpecCpu;
  const int64_t dot =
      s.cpu_free * p.cpu_milli + kRatio * kRatio * s.GpuFreeTotal() * p.TotalGpuMilli();
  return (100 * kDen - 50 * dot) / kDen;
}

// GpuPacking (getPackingScore): an empty node max(33 - free GPUs, free GPUs);
// free GPUs of a used node max(50 - GPUs taken, 33); shared GPUs only
// max(100 - sum(free x 100 / 1000) / 10, 50). A CPU-only pod scores 0.
int64_t PackingScore(const NodeState& s, const Pod& p) {
  if (p.IsCpuOnly()) return 0;
  const int fully_free = s.FullyFreeGpus();
  if (fully_free == s.gpus) return std::max<int64_t>(100 / 3 - fully_free, fully_free);
  // GPUs in ascending order of free share; take the first that hold the share.
  int need = p.num_gpu, free_taken = 0;
  int64_t ratio_sum = 0;
  for (int g = s.gpus - 1; g >= 0 && need > 0; --g) {
    const int64_t free = s.gpu_free_sorted[g];
    if (free < p.gpu_milli) continue;
    --need;
    if (free == kMilliPerGpu) ++free_taken;
    ratio_sum += free * 100 / kMilliPerGpu;
  }
  if (free_taken > 0) return std::max<int64_t>(100 / 2 - free_taken, 100 / 3);
  return std::max<int64_t>(100 - ratio_sum / 10, 100 / 2);
}

// GpuClustering: bands by the kinds of GPU pods the node holds (the pod's own
// kind alone 75..100, with others 50..75, an idle node 25..50, only other
// kinds 0..25), within a band 25 x (8000 - free GPU) / 8000. CPU-only pods 0.
int64_t ClusteringScore(const NodeState& s, const Pod& p) {
  if (p.IsCpuOnly()) return 0;
  const uint32_t kind = p.IsSharing() ? 1u : (1u << std::min(p.num_gpu, kMaxGpusPerNode));
  const int64_t base = 100 / 4 * (kMaxSpecGpu - s.GpuFreeTotal()) / kMaxSpecGpu;
  if (s.kinds & kind) return base + (std::popcount(s.kinds) == 1 ? 75 : 50);
  return base + (s.kinds == 0 ? 25 : 0);
}

int64_t SpreadScore(const NodeState& s) {
  return s.GpuFreeTotal() * (int64_t{1} << 32) + s.cpu_free;
}

// `s` after a pod takes CPU and memory and, from the GPUs, `take` milli on
// each of `count` GPUs with `free` share free.
NodeState After(const NodeState& s, const Pod& p, int64_t free, int count) {
  NodeState out = s;
  out.cpu_free -= p.cpu_milli;
  out.memory_free -= p.memory_mib;
  for (int g = 0; g < out.gpus && count > 0; ++g) {
    if (out.gpu_free_sorted[g] == free) {
      out.gpu_free_sorted[g] = static_cast<int16_t>(free - p.gpu_milli);
      --count;
    }
  }
  std::sort(out.gpu_free_sorted.begin(), out.gpu_free_sorted.begin() + out.gpus, std::greater<>());
  return out;
}

}  // namespace

std::vector<Policy> PaperPolicies() {
  return {Policy::kRandom,  Policy::kDotProd, Policy::kClustering,
          Policy::kPacking, Policy::kBestFit, Policy::kFgd};
}

const char* PolicyName(Policy policy) {
  for (const PolicyInfo& p : kPolicies) {
    if (p.policy == policy) return p.name;
  }
  return "?";
}

Result<Policy> ParsePolicy(std::string_view name) {
  std::string names;
  for (const PolicyInfo& p : kPolicies) {
    if (name == p.name) return p.policy;
    names += names.empty() ? "" : ", ";
    names += p.name;
  }
  return InvalidArgument("unknown policy \"" + std::string(name) + "\": expected one of " + names);
}

const char* TieBreakName(TieBreak tie_break) {
  return tie_break == TieBreak::kFirst ? "first" : "random";
}

Result<TieBreak> ParseTieBreak(std::string_view name) {
  if (name == "random") return TieBreak::kRandom;
  if (name == "first") return TieBreak::kFirst;
  return InvalidArgument("unknown tie break \"" + std::string(name) +
                         "\": expected random or first");
}

NodeChooser::NodeChooser(Policy policy, const TaskMix* mix, TieBreak tie_break)
    : policy_(policy), mix_(mix), tie_break_(tie_break) {
  POLYCLOUD_CHECK(!IsFgd() || mix != nullptr);
}

int64_t NodeChooser::FgdScore(const NodeState& s, const Pod& p, int64_t before, int64_t free) {
  const NodeState after = p.IsCpuOnly() ? After(s, p, 0, 0) : After(s, p, free, p.num_gpu);
  const int64_t decrease = before - NodeFragmentation(after, *mix_);
  if (policy_ == Policy::kFgdExact) return decrease;
  return SigmoidPercent(decrease, std::max<int64_t>(mix_->total_weight, 1));
}

int64_t NodeChooser::Fgd(const NodeState& s, const Pod& p) {
  const int64_t before = NodeFragmentation(s, *mix_);
  if (!p.IsSharing()) return FgdScore(s, p, before, kMilliPerGpu);
  // The best over each distinct free share that holds the pod.
  int64_t best = kNoFit;
  for (int g = 0; g < s.gpus; ++g) {
    const int64_t free = s.gpu_free_sorted[g];
    if (free < p.gpu_milli) break;  // sorted descending
    if (g > 0 && s.gpu_free_sorted[g - 1] == free) continue;
    best = std::max(best, FgdScore(s, p, before, free));
  }
  return best;
}

int NodeChooser::FgdGpu(const Cluster& cluster, int n, const Pod& p) {
  const NodeState& s = cluster.ClassState(cluster.ClassOf(n));
  const int64_t before = NodeFragmentation(s, *mix_);
  int chosen = -1;
  int64_t best = kNoFit;
  for (int g = 0; g < s.gpus; ++g) {
    const int64_t free = cluster.GpuFree(n, g);
    if (free < p.gpu_milli) continue;
    const int64_t score = FgdScore(s, p, before, free);
    if (chosen < 0 || score > best) {
      best = score;
      chosen = g;
    }
  }
  return chosen;
}

int64_t NodeChooser::Score(const NodeState& s, const Pod& p) {
  switch (policy_) {
    case Policy::kRandom:
      return 0;
    case Policy::kDotProd:
      return DotProdScore(s, p);
    case Policy::kClustering:
      return ClusteringScore(s, p);
    case Policy::kPacking:
      return PackingScore(s, p);
    case Policy::kBestFit:
      return BestFitScore(s, p);
    case Policy::kFgd:
    case Policy::kFgdExact:
      return Fgd(s, p);
    case Policy::kSpread:
      return SpreadScore(s);
  }
  return 0;
}

int NodeChooser::ShapeId(const Pod& p) {
  // What FGD's growth depends on besides the node: CPU, GPUs, share.
  const uint64_t key = (static_cast<uint64_t>(p.cpu_milli) << 24) ^
                       (static_cast<uint64_t>(p.num_gpu) << 12) ^
                       static_cast<uint64_t>(p.gpu_milli);
  auto [it, inserted] = shapes_.try_emplace(key, static_cast<int>(shapes_.size()));
  (void)inserted;
  return it->second;
}

int64_t NodeChooser::FgdMemo(const Cluster& cluster, int cls, const Pod& p) {
  const uint64_t key = (static_cast<uint64_t>(cls) << 24) | static_cast<uint64_t>(ShapeId(p));
  auto it = fgd_memo_.find(key);
  if (it != fgd_memo_.end()) return it->second;
  return fgd_memo_.emplace(key, Fgd(cluster.ClassState(cls), p)).first->second;
}

std::optional<Placement> NodeChooser::Choose(const Cluster& cluster, const Pod& pod, Rng& ties) {
  const int classes = cluster.ClassCount();
  if (static_cast<int>(stamp_.size()) < classes) {
    stamp_.resize(classes, 0);
    score_.resize(classes, kNoFit);
  }
  if (++epoch_ == 0) {  // wrapped: forget every stamp
    std::fill(stamp_.begin(), stamp_.end(), 0);
    epoch_ = 1;
  }
  const bool ordered = !order_.empty();
  POLYCLOUD_CHECK(!ordered || static_cast<int>(order_.size()) == cluster.size());
  auto score_of = [&](int n) {
    const int c = cluster.ClassOf(n);
    if (stamp_[c] != epoch_) {
      stamp_[c] = epoch_;
      const NodeState& s = cluster.ClassState(c);
      if (!StateFits(s, pod)) {
        score_[c] = kNoFit;
      } else if (IsFgd()) {
        score_[c] = FgdMemo(cluster, c, pod);
      } else {
        score_[c] = Score(s, pod);
      }
    }
    return score_[c];
  };
  int chosen = -1;
  if (policy_ == Policy::kRandom) {
    // Every fitting node scores the same: count them, draw one (one draw per
    // pod rather than one per tie).
    int64_t fitting = 0;
    for (int n = 0; n < cluster.size(); ++n) fitting += score_of(n) != kNoFit;
    if (fitting == 0) return std::nullopt;
    int64_t pick = static_cast<int64_t>(ties.Below(static_cast<uint64_t>(fitting)));
    for (int i = 0; i < cluster.size() && chosen < 0; ++i) {
      const int n = ordered ? order_[i] : i;
      if (score_of(n) != kNoFit && pick-- == 0) chosen = n;
    }
  } else {
    const bool draw = tie_break_ == TieBreak::kRandom;
    int64_t best = kNoFit;
    uint64_t tied = 0;
    for (int i = 0; i < cluster.size(); ++i) {
      const int n = ordered ? order_[i] : i;
      const int64_t score = score_of(n);
      if (score == kNoFit) continue;
      if (chosen < 0 || score > best) {
        best = score;
        chosen = n;
        tied = 1;
      } else if (draw && score == best && ties.Below(++tied) == 0) {
        chosen = n;
      }
    }
  }
  if (chosen < 0) return std::nullopt;
  Placement placement{chosen, {}};
  if (IsFgd() && pod.IsSharing()) {
    placement.gpus.index[0] = static_cast<int8_t>(FgdGpu(cluster, chosen, pod));
    placement.gpus.count = 1;
  } else {
    placement.gpus = *cluster.FitOnNode(chosen, pod);
  }
  return placement;
}

}  // namespace polycloud::frag
