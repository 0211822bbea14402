#include "polycloud/placement/pipeline.h"

#include <algorithm>

#include "filters.h"
#include "polycloud/base/parse.h"
#include "ranking.h"

namespace polycloud::placement {
namespace {

using world::PoolIndex;

std::string Gpus(int64_t n) { return std::to_string(n) + (n == 1 ? " GPU" : " GPUs"); }
// Thousandths as a decimal: 4500 -> "4.5".
std::string Milli(int64_t milli) {
  std::string s = std::to_string(milli / 1000);
  int64_t rest = milli % 1000;
  if (rest == 0) return s;
  std::string frac = std::to_string(1000 + rest).substr(1);
  while (frac.back() == '0') frac.pop_back();
  return s + "." + frac;
}

class AcceleratorFilter final : public placement::Filter {
 public:
  const char* name() const override { return "accelerator"; }
  Verdict Check(const Context& ctx, const Request& req, PoolIndex p) const override {
    return CheckAccelerator(ctx, req, p);
  }
  std::string Describe(const Context& ctx, const Request& req, PoolIndex p,
                       const Verdict& v) const override {
    std::string allowed;
    for (auto x : *req.accelerators)
      allowed += (allowed.empty() ? "" : ", ") + ctx.world.accelerators[x].name;
    return ctx.world.accelerators[ctx.world.pools[p].accelerator].name +
           " is not among the allowed types (" + allowed + ")";
  }
};

class FaultFilter final : public placement::Filter {
 public:
  const char* name() const override { return "fault"; }
  Verdict Check(const Context& ctx, const Request& req, PoolIndex p) const override {
    return CheckFault(ctx, req, p);
  }
  std::string Describe(const Context& ctx, const Request&, PoolIndex p,
                       const Verdict& v) const override {
    return "the pool is down (" + std::to_string(v.a) + " outage" + (v.a == 1 ? "" : "s") +
           " in force)";
  }
};

class ContractFilter final : public placement::Filter {
 public:
  const char* name() const override { return "contract"; }
  Verdict Check(const Context& ctx, const Request& req, PoolIndex p) const override {
    return CheckContract(ctx, req, p);
  }
  std::string Describe(const Context& ctx, const Request&, PoolIndex p,
                       const Verdict&) const override {
    const world::Contract& c = ctx.world.contracts[ctx.world.pools[p].contract];
    return "contract " + c.id + " is not in force (term " + FormatTime(c.start) + " to " +
           FormatTime(c.end) + ")";
  }
};

class FabricFilter final : public placement::Filter {
 public:
  const char* name() const override { return "fabric"; }
  Verdict Check(const Context& ctx, const Request& req, PoolIndex p) const override {
    return CheckFabric(ctx, req, p);
  }
  std::string Describe(const Context&, const Request& req, PoolIndex,
                       const Verdict& v) const override {
    switch (v.a) {
      case kNoSharing:
        return "asks for a share of a GPU (" + std::to_string(req.gpu_milli) +
               " milli); the pool does not allow GPU sharing";
      case kCpuPerNode:
        return "needs " + Milli(req.cpu_milli) + " CPUs on a node; a node has " + Milli(v.b);
      case kMemoryPerNode:
        return "needs " + std::to_string(req.memory_mib) + " MiB of memory on a node; a node has " +
               std::to_string(v.b) + " MiB";
      default:
        return "a gang of " + Gpus(v.a) + " exceeds the fabric's largest gang of " + Gpus(v.b);
    }
  }
};

class ExclusivityFilter final : public placement::Filter {
 public:
  const char* name() const override { return "exclusivity"; }
  bool per_provider() const override { return true; }
  Verdict Check(const Context& ctx, const Request& req, PoolIndex p) const override {
    return CheckExclusivity(ctx, req, p);
  }
  std::string Describe(const Context& ctx, const Request& req, PoolIndex p,
                       const Verdict&) const override {
    auto v = ctx.rules.Check(req.workload_class, req.model_family, ctx.world.pools[p].provider,
                             ctx.now, ctx.fleet.provider_in_outage());
    return ctx.rules.Describe(v, req.workload_class);
  }
};

class ProviderSpreadFilter final : public placement::Filter {
 public:
  const char* name() const override { return "provider-spread"; }
  bool per_provider() const override { return true; }
  Verdict Check(const Context& ctx, const Request& req, PoolIndex p) const override {
    return CheckProviderSpread(ctx, req, p);
  }
  std::string Describe(const Context& ctx, const Request&, PoolIndex p,
                       const Verdict& v) const override {
    return "the service must be present at " + std::to_string(v.b) + " providers and is at " +
           std::to_string(v.a) + "; it already runs at " +
           ctx.world.providers[ctx.world.pools[p].provider].id;
  }
};

class ReservationFilter final : public placement::Filter {
 public:
  const char* name() const override { return "reservation"; }
  Verdict Check(const Context& ctx, const Request& req, PoolIndex p) const override {
    return CheckReservation(ctx, req, p);
  }
  std::string Describe(const Context&, const Request&, PoolIndex, const Verdict& v) const override {
    return "held for a waiting job of priority " + std::to_string(v.a) + " (this one has " +
           std::to_string(v.b) + ")";
  }
};

class CapacityFilter final : public placement::Filter {
 public:
  const char* name() const override { return "capacity"; }
  Verdict Check(const Context& ctx, const Request& req, PoolIndex p) const override {
    return CheckCapacity(ctx, req, p);
  }
  std::string Describe(const Context& ctx, const Request& req, PoolIndex p,
                       const Verdict& v) const override {
    const PoolState& ps = ctx.fleet.pool(p);
    if (req.shaped() && ctx.fleet.has_nodes() && !ctx.fleet.info(p).plain_nodes) {
      std::string with;
      if (req.cpu_milli > 0) with += " with " + Milli(req.cpu_milli) + " CPUs";
      if (req.memory_mib > 0) {
        with += (with.empty() ? " with " : " and ") + std::to_string(req.memory_mib) + " MiB";
      }
      if (req.gpu_milli > 0 && v.a == req.gpu_milli && v.b < v.a) {
        return "needs a share of " + std::to_string(v.a) + " milli on one GPU" + with +
               "; the most free on one GPU is " + std::to_string(v.b) + " milli";
      }
      if (req.gpu_milli > 0 || v.a <= v.b) {
        return "needs " +
               (req.gpu_milli > 0 ? "a share of " + std::to_string(req.gpu_milli) + " milli"
                                  : Gpus(v.a)) +
               with + " on one node: none of the nodes looked at (up to " +
               std::to_string(PoolNodes::kFitProbes) + " without room) has room";
      }
    }
    if (!ctx.fleet.has_nodes() || ps.free() == v.b) {
      return "needs " + Gpus(v.a) + ", " + std::to_string(ps.free()) + " free of " +
             std::to_string(ps.capacity) + " usable";
    }
    const int64_t node = ctx.fleet.info(p).gpus_per_node;
    return "needs " + Gpus(v.a) + (v.a > node ? " in whole free nodes" : " on one node") + ", " +
           std::to_string(ps.free()) + " free of " + std::to_string(ps.capacity) +
           " usable but at most " + std::to_string(v.b) + " together";
  }
};

class PowerFilter final : public placement::Filter {
 public:
  const char* name() const override { return "power"; }
  Verdict Check(const Context& ctx, const Request& req, PoolIndex p) const override {
    return CheckPower(ctx, req, p);
  }
  std::string Describe(const Context& ctx, const Request&, PoolIndex p,
                       const Verdict& v) const override {
    const SiteState& site = ctx.fleet.site(ctx.world.pools[p].site);
    return "needs " + FormatPower(Power::Watts(v.a)) + " at site " +
           ctx.world.sites[ctx.world.pools[p].site].id + ", headroom " +
           FormatPower(Power::Watts(v.b)) + " of " + FormatPower(site.capacity);
  }
};

class MarginalCostScorer final : public Scorer {
 public:
  // The highest list price per reference GPU-hour of any pool: the ledger's
  // marginal price is never above a pool's list price.
  explicit MarginalCostScorer(const world::World& world) {
    for (const world::Pool& p : world.pools) {
      hi_ = std::max(hi_, MulDivRound(p.price_per_gpu_hour.micros(), 1000,
                                      world.accelerators[p.accelerator].speed_milli));
    }
  }
  const char* name() const override { return "marginal-cost"; }
  const char* unit() const override { return "µ$/ref-GPU-h"; }
  bool lower_is_better() const override { return true; }
  int64_t weight() const override { return 100; }
  int64_t Raw(const Context& ctx, const Request& req, PoolIndex p) const override {
    return MarginalCostRaw(ctx, req, p);
  }
  ScoreRange Range(const Context&, const Request&) const override { return {0, hi_}; }

 private:
  int64_t hi_ = 0;
};

class SpeedScorer final : public Scorer {
 public:
  explicit SpeedScorer(const world::World& world) {
    for (const world::Pool& p : world.pools) {
      const int64_t speed = world.accelerators[p.accelerator].speed_milli;
      range_.lo = range_.hi == 0 ? speed : std::min(range_.lo, speed);
      range_.hi = std::max(range_.hi, speed);
    }
  }
  const char* name() const override { return "speed"; }
  const char* unit() const override { return "×H100/1000"; }
  bool lower_is_better() const override { return false; }
  int64_t weight() const override { return 10; }
  int64_t Raw(const Context& ctx, const Request& req, PoolIndex p) const override {
    return SpeedRaw(ctx, req, p);
  }
  ScoreRange Range(const Context&, const Request&) const override { return range_; }

 private:
  ScoreRange range_;
};

class ProviderDiversityScorer final : public Scorer {
 public:
  const char* name() const override { return "diversity"; }
  const char* unit() const override { return "replicas here"; }
  bool lower_is_better() const override { return true; }
  int64_t weight() const override { return 20; }
  int64_t Raw(const Context& ctx, const Request& req, PoolIndex p) const override {
    return DiversityRaw(ctx, req, p);
  }
  ScoreRange Range(const Context&, const Request& req) const override {
    ScoreRange r;
    if (req.replicas_per_provider != nullptr) {
      for (int32_t n : *req.replicas_per_provider) r.hi = std::max<int64_t>(r.hi, n);
    }
    return r;
  }
};

class FragmentationScorer final : public Scorer {
 public:
  explicit FragmentationScorer(const world::World& world) {
    for (const world::Pool& p : world.pools) hi_ = std::max(hi_, p.gpus.Max());
  }
  const char* name() const override { return "fragmentation"; }
  const char* unit() const override { return "GPUs left free"; }
  bool lower_is_better() const override { return true; }
  int64_t weight() const override { return 5; }
  int64_t Raw(const Context& ctx, const Request& req, PoolIndex p) const override {
    return FragmentationRaw(ctx, req, p);
  }
  ScoreRange Range(const Context&, const Request&) const override { return {0, hi_}; }

 private:
  int64_t hi_ = 0;
};

class ConsolidationScorer final : public Scorer {
 public:
  explicit ConsolidationScorer(const world::World& world) {
    for (const world::Pool& p : world.pools) {
      const int64_t node = std::max<int64_t>(1, p.gpus_per_node);
      smallest_ = smallest_ == 0 ? node : std::min(smallest_, node);
      largest_ = std::max(largest_, node);
    }
  }
  const char* name() const override { return "consolidation"; }
  const char* unit() const override { return "nodes spanned"; }
  bool lower_is_better() const override { return true; }
  int64_t weight() const override { return 1000; }
  int64_t Raw(const Context& ctx, const Request& req, PoolIndex p) const override {
    return ConsolidationRaw(ctx, req, p);
  }
  ScoreRange Range(const Context&, const Request& req) const override {
    if (largest_ == 0) return {};
    return {(req.gpus + largest_ - 1) / largest_, (req.gpus + smallest_ - 1) / smallest_};
  }

 private:
  int64_t smallest_ = 0, largest_ = 0;
};

template <typename T>
bool Is(const auto& x) {
  return dynamic_cast<const T*>(&x) != nullptr;
}

}  // namespace

// Built-in filters and scorers the placer evaluates inline, through their
// predicates (filters.h); kOther ones (a filter or scorer added later) through
// their virtual methods. Exclusivity and provider spread are memoised per
// provider (ProviderVerdict).
enum class Placer::FilterKind : uint8_t {
  kOther,
  kAccelerator,
  kFault,
  kContract,
  kFabric,
  kExclusivity,
  kProviderSpread,
  kReservation,
  kCapacity,
  kPower
};
// Scorers the ranking knows: cost and speed are a pool's static score (the
// same whatever is free), diversity and consolidation the same for every pool
// of a class (provider, node size), fragmentation the only term that moves
// with free GPUs.
enum class Placer::ScorerKind : uint8_t {
  kOther,
  kCost,
  kSpeed,
  kDiversity,
  kFragmentation,
  kConsolidation
};

Placer::FilterKind Placer::KindOf(const Filter& f) {
  if (Is<AcceleratorFilter>(f)) return FilterKind::kAccelerator;
  if (Is<FaultFilter>(f)) return FilterKind::kFault;
  if (Is<ContractFilter>(f)) return FilterKind::kContract;
  if (Is<FabricFilter>(f)) return FilterKind::kFabric;
  if (Is<ExclusivityFilter>(f)) return FilterKind::kExclusivity;
  if (Is<ProviderSpreadFilter>(f)) return FilterKind::kProviderSpread;
  if (Is<ReservationFilter>(f)) return FilterKind::kReservation;
  if (Is<CapacityFilter>(f)) return FilterKind::kCapacity;
  if (Is<PowerFilter>(f)) return FilterKind::kPower;
  return FilterKind::kOther;
}

Placer::ScorerKind Placer::KindOf(const Scorer& s) {
  if (Is<MarginalCostScorer>(s)) return ScorerKind::kCost;
  if (Is<SpeedScorer>(s)) return ScorerKind::kSpeed;
  if (Is<ConsolidationScorer>(s)) return ScorerKind::kConsolidation;
  if (Is<ProviderDiversityScorer>(s)) return ScorerKind::kDiversity;
  if (Is<FragmentationScorer>(s)) return ScorerKind::kFragmentation;
  return ScorerKind::kOther;
}

std::unique_ptr<Filter> MakeAcceleratorFilter() { return std::make_unique<AcceleratorFilter>(); }
std::unique_ptr<Filter> MakeFaultFilter() { return std::make_unique<FaultFilter>(); }
std::unique_ptr<Filter> MakeContractFilter() { return std::make_unique<ContractFilter>(); }
std::unique_ptr<Filter> MakeFabricFilter() { return std::make_unique<FabricFilter>(); }
std::unique_ptr<Filter> MakeExclusivityFilter() { return std::make_unique<ExclusivityFilter>(); }
std::unique_ptr<Filter> MakeProviderSpreadFilter() {
  return std::make_unique<ProviderSpreadFilter>();
}
std::unique_ptr<Filter> MakeReservationFilter() { return std::make_unique<ReservationFilter>(); }
std::unique_ptr<Filter> MakeCapacityFilter() { return std::make_unique<CapacityFilter>(); }
std::unique_ptr<Filter> MakePowerFilter() { return std::make_unique<PowerFilter>(); }
std::unique_ptr<Scorer> MakeMarginalCostScorer(const world::World& world) {
  return std::make_unique<MarginalCostScorer>(world);
}
std::unique_ptr<Scorer> MakeSpeedScorer(const world::World& world) {
  return std::make_unique<SpeedScorer>(world);
}
std::unique_ptr<Scorer> MakeProviderDiversityScorer() {
  return std::make_unique<ProviderDiversityScorer>();
}
std::unique_ptr<Scorer> MakeFragmentationScorer(const world::World& world) {
  return std::make_unique<FragmentationScorer>(world);
}
std::unique_ptr<Scorer> MakeConsolidationScorer(const world::World& world) {
  return std::make_unique<ConsolidationScorer>(world);
}

Request JobRequest(const world::Job& job) {
  Request r;
  r.kind = job.kind;
  r.id = job.id;
  r.workload_class = job.workload_class;
  r.model_family = job.model_family;
  r.gpus = job.gpus;
  r.gpu_milli = static_cast<int32_t>(job.gpu_milli);
  r.cpu_milli = job.cpu_milli;
  r.memory_mib = job.memory_mib;
  r.accelerators = &job.accelerators;
  r.priority = job.priority;
  return r;
}

Money MarginalPricePerGpuHour(const world::World& world, world::PoolIndex p) {
  const world::Pool& pool = world.pools[p];
  if (pool.pricing == world::PricingKind::kReserved) return Money();
  if (pool.contract == world::kNone) return pool.price_per_gpu_hour;
  const world::Contract& c = world.contracts[pool.contract];
  const Money price = Money::FromMicros(
      MulDivRound(pool.price_per_gpu_hour.micros(), 1000 - c.discount_milli, 1000));
  if (c.take_or_pay && (c.committed_spend > Money() || !c.minimums.empty())) {
    return Money::FromMicros(price.micros() / 100);
  }
  return price;
}

Placer::Placer(const world::World& world, const PlacerOptions& options) : world_(world) {
  // Resource filters (capacity, power) come last: a pool that fails only on
  // them may still be had by preempting lower-priority work.
  filters_.push_back(MakeAcceleratorFilter());
  filters_.push_back(MakeFaultFilter());
  filters_.push_back(MakeContractFilter());
  filters_.push_back(MakeFabricFilter());
  filters_.push_back(MakeExclusivityFilter());
  filters_.push_back(MakeProviderSpreadFilter());
  filters_.push_back(MakeReservationFilter());
  filters_.push_back(MakeCapacityFilter());
  filters_.push_back(MakePowerFilter());
  scorers_.push_back(MakeMarginalCostScorer(world));
  scorers_.push_back(MakeSpeedScorer(world));
  scorers_.push_back(MakeProviderDiversityScorer());
  scorers_.push_back(MakeFragmentationScorer(world));
  if (options.consolidate) scorers_.push_back(MakeConsolidationScorer(world));
  for (const auto& f : filters_) {
    per_provider_filter_.push_back(f->per_provider() ? 1 : 0);
    filter_kind_.push_back(static_cast<uint8_t>(KindOf(*f)));
  }
  for (size_t k = 0; k < scorers_.size(); ++k) {
    scorer_kind_.push_back(static_cast<uint8_t>(KindOf(*scorers_[k])));
    weight_[k] = scorers_[k]->weight();
    lower_better_[k] = scorers_[k]->lower_is_better();
    rankable_ = rankable_ && static_cast<ScorerKind>(scorer_kind_[k]) != ScorerKind::kOther;
  }
  provider_memo_.resize(filters_.size() * world.providers.size());
  provider_memo_set_.assign(provider_memo_.size(), 0);
  FindVolatileContracts();
  ranking_ = std::make_unique<Ranking>();
  provider_pool_.assign(world.providers.size(), world::kNone);
  for (size_t p = world.pools.size(); p-- > 0;) {
    provider_pool_[world.pools[p].provider] = static_cast<world::PoolIndex>(p);
  }
}

Placer::~Placer() = default;

int Placer::FirstFailingFilter(const Context& ctx, const Request& req, world::PoolIndex pool,
                               Verdict* failed) {
  for (size_t f = 0; f < filters_.size(); ++f) {
    // The built-in filters' predicates inline (filters.h), the per-provider
    // ones once per provider and decision, a filter added later through its
    // virtual Check.
    Verdict v;
    switch (static_cast<FilterKind>(filter_kind_[f])) {
      case FilterKind::kAccelerator:
        v = CheckAccelerator(ctx, req, pool);
        break;
      case FilterKind::kFault:
        v = CheckFault(ctx, req, pool);
        break;
      case FilterKind::kContract:
        v = CheckContract(ctx, req, pool);
        break;
      case FilterKind::kFabric:
        v = CheckFabric(ctx, req, pool);
        break;
      case FilterKind::kReservation:
        v = CheckReservation(ctx, req, pool);
        break;
      case FilterKind::kCapacity:
        v = CheckCapacity(ctx, req, pool);
        break;
      case FilterKind::kPower:
        v = CheckPower(ctx, req, pool);
        break;
      case FilterKind::kExclusivity:
      case FilterKind::kProviderSpread:
      case FilterKind::kOther:
        v = per_provider_filter_[f] ? ProviderVerdict(ctx, req, f, pool)
                                    : filters_[f]->Check(ctx, req, pool);
        break;
    }
    if (!v.pass) {
      *failed = v;
      return static_cast<int>(f);
    }
  }
  return -1;
}

void Placer::Score(const Context& ctx, const Request& req, world::PoolIndex pool,
                   std::array<int64_t, kMaxScorers>& raw) const {
  // The built-in scorers' measures inline (filters.h).
  for (size_t k = 0; k < scorers_.size(); ++k) {
    switch (static_cast<ScorerKind>(scorer_kind_[k])) {
      case ScorerKind::kCost:
        raw[k] = MarginalCostRaw(ctx, req, pool);
        break;
      case ScorerKind::kSpeed:
        raw[k] = SpeedRaw(ctx, req, pool);
        break;
      case ScorerKind::kDiversity:
        raw[k] = DiversityRaw(ctx, req, pool);
        break;
      case ScorerKind::kFragmentation:
        raw[k] = FragmentationRaw(ctx, req, pool);
        break;
      case ScorerKind::kConsolidation:
        raw[k] = ConsolidationRaw(ctx, req, pool);
        break;
      case ScorerKind::kOther:
        raw[k] = scorers_[k]->Raw(ctx, req, pool);
        break;
    }
  }
}

void Placer::SetRanges(const Context& ctx, const Request& req) {
  for (size_t k = 0; k < scorers_.size(); ++k) range_[k] = scorers_[k]->Range(ctx, req);
}

int64_t Placer::Normalised(size_t k, int64_t raw) const {
  const ScoreRange& r = range_[k];
  if (r.hi <= r.lo) return kFullScore;
  raw = std::clamp(raw, r.lo, r.hi);
  // Marginal cost: capacity that costs nothing more to use (prepaid, reserved,
  // procured) scores in full; anything that costs at the margin scores at
  // most kPaidCostCeiling, a gap the other terms cannot close (pipeline.h).
  if (static_cast<ScorerKind>(scorer_kind_[k]) == ScorerKind::kCost && raw > 0) {
    return MulDivRound(r.hi - raw, kPaidCostCeiling, r.hi - r.lo);
  }
  return MulDivRound(lower_better_[k] ? r.hi - raw : raw - r.lo, kFullScore, r.hi - r.lo);
}

int64_t Placer::Total(const std::array<int64_t, kMaxScorers>& raw) const {
  int64_t total = 0;
  for (size_t k = 0; k < scorers_.size(); ++k) total += weight_[k] * Normalised(k, raw[k]);
  return total;
}

void Placer::Consider(const Context& ctx, const Request& req, world::PoolIndex pool,
                      bool allow_preempt, Explanation* explanation) {
  Verdict failed;
  const int f = FirstFailingFilter(ctx, req, pool, &failed);
  bool via_preemption = false;
  // A request that needs a share, CPU or memory in a pool that models them,
  // or any request in a pool with GPU sharing (where evicting a share may
  // free no GPU), asks the oracle about its shape on the nodes; power then
  // must fit without counting what the victims free.
  const bool shaped_here = ctx.fleet.has_nodes() && !ctx.fleet.info(pool).plain_nodes &&
                           (req.shaped() || ctx.fleet.info(pool).gpu_sharing);
  if (f >= 0 && failed.resource && allow_preempt && shaped_here) {
    const int64_t need = ctx.fleet.AllocationSize(pool, req.gpus);
    const SiteState& site = ctx.fleet.site(ctx.fleet.info(pool).site);
    const NodeShape shape =
        ctx.fleet.NodeShapeOf(pool, need, {req.gpu_milli, req.cpu_milli, req.memory_mib});
    via_preemption = (!site.limited || site.headroom() >= ctx.fleet.PowerOf(pool, need)) &&
                     ctx.preemption->ShapeReclaimable(pool, req.priority, shape);
  } else if (f >= 0 && failed.resource && allow_preempt) {
    // Would preempting lower-priority work free enough GPUs and power?
    const int64_t need = ctx.fleet.AllocationSize(pool, req.gpus);
    const PoolState& ps = ctx.fleet.pool(pool);
    const int64_t reclaim = ctx.preemption->ReclaimableGpus(pool, req.priority, need);
    const SiteState& site = ctx.fleet.site(ctx.fleet.info(pool).site);
    const bool gpus_ok = reclaim > 0 && ps.placeable + std::min(reclaim, ps.used) >= need;
    const bool power_ok = !site.limited || site.headroom() + ctx.fleet.PowerOf(pool, reclaim) >=
                                               ctx.fleet.PowerOf(pool, need);
    via_preemption = gpus_ok && power_ok;
  }
  if (f >= 0 && !via_preemption) {
    const int64_t free = ctx.fleet.pool(pool).placeable;
    if (failed.resource && free > 0 && req.find_best_blocked) {
      if (best_blocked_ == world::kNone || free > ctx.fleet.pool(best_blocked_).placeable ||
          (free == ctx.fleet.pool(best_blocked_).placeable && pool < best_blocked_)) {
        best_blocked_ = pool;
      }
    }
    if (explanation) {
      CandidateVerdict& c = explanation->candidates.emplace_back();
      c.pool = pool;
      c.rejected_by = filters_[f]->name();
      c.reason = filters_[f]->Describe(ctx, req, pool, failed);
    }
    return;
  }
  Survivor s{pool, via_preemption, {}};
  Score(ctx, req, pool, s.raw);
  survivors_.push_back(s);
  if (explanation) {
    CandidateVerdict& c = explanation->candidates.emplace_back();
    c.pool = pool;
    c.via_preemption = via_preemption;
    c.raw = s.raw;
  }
}

void Placer::FindVolatileContracts() {
  // Take-or-pay contracts with pay-as-you-go pools: their pools' marginal
  // cost moves when the commitment goes from projected short to on track.
  volatile_contracts_.clear();
  for (size_t c = 0; c < world_.contracts.size(); ++c) {
    const world::Contract& contract = world_.contracts[c];
    if (!contract.take_or_pay) continue;
    const bool payg =
        std::any_of(world_.pools.begin(), world_.pools.end(), [&](const world::Pool& p) {
          return p.contract == static_cast<world::ContractIndex>(c) &&
                 p.pricing != world::PricingKind::kReserved;
        });
    if (payg) volatile_contracts_.push_back(static_cast<world::ContractIndex>(c));
  }
}

void Placer::ContractsAmended() {
  FindVolatileContracts();
  ranking_stale_ = true;
}

void Placer::PrepareRanking(const Context& ctx) {
  const bool follows_ledger =
      ctx.ledger != nullptr && ctx.cost_model == contracts::CostModel::kContractAware;
  short_scratch_.assign(volatile_contracts_.size(), 0);
  if (follows_ledger) {
    for (size_t i = 0; i < volatile_contracts_.size(); ++i) {
      short_scratch_[i] = ctx.ledger->ProjectedShortfall(volatile_contracts_[i], ctx.now) > Money();
    }
  }
  if (!ranking_stale_ && ranking_->built_for(ctx.fleet) && ranked_ledger_ == ctx.ledger &&
      ranked_model_ == ctx.cost_model && ranked_short_ == short_scratch_) {
    ranking_->Sync(ctx.fleet);
    return;
  }
  // A pool's static score: its cost and speed terms.
  const Request any;
  SetRanges(ctx, any);
  static_score_.assign(world_.pools.size(), 0);
  std::array<int64_t, kMaxScorers> raw{};
  for (size_t p = 0; p < world_.pools.size(); ++p) {
    const auto pool = static_cast<world::PoolIndex>(p);
    int64_t score = 0;
    for (size_t k = 0; k < scorers_.size(); ++k) {
      const auto kind = static_cast<ScorerKind>(scorer_kind_[k]);
      if (kind != ScorerKind::kCost && kind != ScorerKind::kSpeed) continue;
      raw[k] =
          kind == ScorerKind::kSpeed ? SpeedRaw(ctx, any, pool) : MarginalCostRaw(ctx, any, pool);
      score += weight_[k] * Normalised(k, raw[k]);
    }
    static_score_[p] = score;
  }
  ranking_->Build(ctx.fleet, static_score_);
  ranked_ledger_ = ctx.ledger;
  ranked_model_ = ctx.cost_model;
  ranked_short_ = short_scratch_;
  ranking_stale_ = false;
}

const Verdict& Placer::ProviderVerdict(const Context& ctx, const Request& req, size_t f,
                                       world::PoolIndex pool) {
  const size_t slot = f * world_.providers.size() + ctx.fleet.info(pool).provider;
  if (!provider_memo_set_[slot]) {
    switch (static_cast<FilterKind>(filter_kind_[f])) {
      case FilterKind::kExclusivity:
        provider_memo_[slot] = CheckExclusivity(ctx, req, pool);
        break;
      case FilterKind::kProviderSpread:
        provider_memo_[slot] = CheckProviderSpread(ctx, req, pool);
        break;
      default:
        provider_memo_[slot] = filters_[f]->Check(ctx, req, pool);
        break;
    }
    provider_memo_set_[slot] = 1;
  }
  return provider_memo_[slot];
}

bool Placer::ProviderAllowed(const Context& ctx, const Request& req, world::ProviderIndex p) {
  if (provider_pool_[p] == world::kNone) return false;
  for (size_t f = 0; f < filters_.size(); ++f) {
    if (per_provider_filter_[f] && !ProviderVerdict(ctx, req, f, provider_pool_[p]).pass) {
      return false;
    }
  }
  return true;
}

bool Placer::PlaceRanked(const Context& ctx, const Request& req, Decision& d) {
  PrepareRanking(ctx);
  SetRanges(ctx, req);
  const Ranking& r = *ranking_;
  // A service replica's diversity term differs by provider: then each
  // provider's classes are walked apart (a cursor per accelerator and
  // provider), with the term in the cursor's priority. `rest` is the most the
  // other terms beyond the static score can add: consolidation, diversity
  // when it is the same everywhere, fragmentation at a perfect fit.
  int diversity = -1;
  int64_t rest = 0;
  for (size_t k = 0; k < scorers_.size(); ++k) {
    const auto kind = static_cast<ScorerKind>(scorer_kind_[k]);
    if (kind == ScorerKind::kCost || kind == ScorerKind::kSpeed) continue;
    if (kind == ScorerKind::kDiversity && range_[k].hi > range_[k].lo) {
      diversity = static_cast<int>(k);
    } else {
      rest += weight_[k] * kFullScore;
    }
  }
  auto seek = [&](RankCursor& c, int32_t from) {
    c.at = c.provider == world::kNone ? r.Next(c.accelerator, from, req.gpus)
                                      : r.NextOf(c.accelerator, c.provider, from, req.gpus);
    c.priority = c.at < r.end(c.accelerator) ? r.cls(c.at).score + c.extra
                                             : std::numeric_limits<int64_t>::min();
  };
  cursors_.clear();
  auto add = [&](world::AcceleratorIndex a) {
    if (diversity < 0) {
      cursors_.push_back(RankCursor{a, world::kNone, 0, 0, 0});
      seek(cursors_.back(), r.begin(a));
      return;
    }
    for (size_t p = 0; p < world_.providers.size(); ++p) {
      const auto provider = static_cast<world::ProviderIndex>(p);
      if (!ProviderAllowed(ctx, req, provider)) continue;
      const int64_t extra =
          weight_[diversity] * Normalised(diversity, (*req.replicas_per_provider)[p]);
      cursors_.push_back(RankCursor{a, provider, 0, 0, extra});
      seek(cursors_.back(), r.begin(a));
    }
  };
  if (req.accelerators == nullptr || req.accelerators->empty()) {
    for (size_t a = 0; a < world_.accelerators.size(); ++a) {
      add(static_cast<world::AcceleratorIndex>(a));
    }
  } else {
    for (world::AcceleratorIndex a : *req.accelerators) add(a);
  }
  if (cursors_.empty()) return false;
  world::PoolIndex best = world::kNone;
  int64_t best_total = 0;
  std::array<int64_t, kMaxScorers> raw{};
  while (true) {
    // The class with the highest priority among the cursors.
    RankCursor* next = &cursors_[0];
    for (RankCursor& c : cursors_) {
      if (c.priority > next->priority) next = &c;
    }
    if (next->at >= r.end(next->accelerator)) break;
    if (best != world::kNone && next->priority + rest < best_total) break;
    // The class's pools from the best fit up; later ones score no higher.
    const Ranking::Class& cls = r.cls(next->at);
    // Pools of a class share their node shape (Ranking::Build): one shape
    // check stands for all (a share where the class does not share GPUs, more
    // CPU or memory than its nodes have).
    if (cls.max_gang < req.gpus || !ProviderAllowed(ctx, req, cls.provider) ||
        (req.shaped() && !CheckShape(ctx, req, cls.members.front().pool).pass)) {
      seek(*next, next->at + 1);
      continue;
    }
    const int64_t node = cls.gpus_per_node;
    const int64_t need = req.gpus <= node ? req.gpus : (req.gpus + node - 1) / node * node;
    auto it = std::lower_bound(cls.members.begin(), cls.members.end(),
                               Ranking::Member{need, std::numeric_limits<world::PoolIndex>::min()});
    // Members' totals do not grow along the class (more free GPUs, the same
    // other terms), so a member is scored first and filtered only if it
    // would win: most members are then one score, not a filter pass (a
    // capacity check on nodes with shares, CPU and memory walks candidates).
    for (; it != cls.members.end(); ++it) {
      Score(ctx, req, it->pool, raw);
      const int64_t total = Total(raw);
      if (best != world::kNone) {
        if (total < best_total) break;                         // nor can any later member
        if (total == best_total && it->pool > best) continue;  // loses the tie
      }
      Verdict failed;
      if (FirstFailingFilter(ctx, req, it->pool, &failed) >= 0) continue;
      best = it->pool;
      best_total = total;
    }
    seek(*next, next->at + 1);
  }
  if (best == world::kNone) return false;
  d.pool = best;
  d.alloc_gpus = ctx.fleet.AllocationSize(best, req.gpus);
  d.needs_preemption = false;
  d.total_score = best_total;
  return true;
}

bool Placer::Admits(const Context& ctx, const Request& req, world::PoolIndex pool) {
  // The per-provider memo holds one request's verdicts.
  std::fill(provider_memo_set_.begin(), provider_memo_set_.end(), 0);
  Verdict failed;
  return FirstFailingFilter(ctx, req, pool, &failed) < 0;
}

bool Placer::OnlyShort(const Context& ctx, const Request& req, world::PoolIndex pool) {
  Verdict failed;
  return FirstFailingFilter(ctx, req, pool, &failed) < 0 || failed.resource;
}

void Placer::PlaceBlocked(const Context& ctx, const Request& req, Decision& d) {
  // Nothing fits outright (PlaceRanked read every pool with room). Pools
  // where preempting lower-priority work would free enough: only the
  // oracle's candidates can be.
  const bool any_type = req.accelerators == nullptr || req.accelerators->empty();
  auto allowed = [&](world::PoolIndex p) {
    return AllowsAccelerator(req, ctx.fleet.info(p).accelerator);
  };
  if (ctx.preemption != nullptr) {
    SetRanges(ctx, req);
    for (world::PoolIndex p : *ctx.preemption->CandidatePools()) {
      if (allowed(p)) Consider(ctx, req, p, /*allow_preempt=*/true, nullptr);
    }
    std::erase_if(survivors_, [](const Survivor& s) { return !s.via_preemption; });
    if (!survivors_.empty()) {
      Choose(ctx, req, d, nullptr);
      return;
    }
  }
  // The best blocked pool: the most free GPUs among the pools that fail only
  // for lack of GPUs or power, the lowest index among equals.
  if (!req.find_best_blocked) return;
  world::PoolIndex best = world::kNone;
  int64_t best_free = 0;
  ranges_.clear();
  if (any_type) {
    for (size_t a = 0; a < world_.accelerators.size(); ++a) {
      const auto type = static_cast<world::AcceleratorIndex>(a);
      ranges_.push_back({ranking_->begin(type), ranking_->end(type)});
    }
  } else {
    for (world::AcceleratorIndex a : *req.accelerators) {
      ranges_.push_back({ranking_->begin(a), ranking_->end(a)});
    }
  }
  auto admit = [&](const Ranking::Class& c) {
    return c.max_gang >= req.gpus && ProviderAllowed(ctx, req, c.provider);
  };
  ranking_->ByFreeDescending(ranges_, admit, [&](const Ranking::Member& m) {
    if (m.free <= 0 || (best != world::kNone && m.free < best_free)) return false;
    if ((best == world::kNone || m.pool < best) && OnlyShort(ctx, req, m.pool)) {
      best = m.pool;
      best_free = m.free;
    }
    return true;
  });
  d.best_blocked = best;
}

Decision Placer::Place(const Context& ctx, const Request& req, Explanation* explanation) {
  survivors_.clear();
  best_blocked_ = world::kNone;
  std::fill(provider_memo_set_.begin(), provider_memo_set_.end(), 0);
  const bool allow_preempt = ctx.preemption != nullptr;
  const bool any_type = req.accelerators == nullptr || req.accelerators->empty();
  Decision d;
  if (explanation == nullptr) {
    if (rankable_) {
      if (PlaceRanked(ctx, req, d)) return d;
      // Nothing fits outright among the pools with the whole free GPUs the
      // request needs (PlaceRanked filtered every one of them). A share may
      // still fit a partly used GPU of a sharing pool without a whole free
      // GPU: only those pools are read (a flag and the share room each),
      // the same outright survivors the scan of every pool below would find.
      // Then preemption and the best blocked pool, when the oracle can say
      // which pools hold preemptible work.
      if (ctx.preemption == nullptr || ctx.preemption->CandidatePools() != nullptr) {
        if (req.gpu_milli > 0 && ctx.fleet.has_nodes()) {
          SetRanges(ctx, req);
          auto consider = [&](world::PoolIndex p) {
            const PoolInfo& info = ctx.fleet.info(p);
            if (info.gpu_sharing && AllowsAccelerator(req, info.accelerator) &&
                ctx.fleet.pool(p).placeable == 0 && ctx.fleet.ShareRoom(p) >= req.gpu_milli) {
              Consider(ctx, req, p, /*allow_preempt=*/false, nullptr);
            }
          };
          if (any_type) {
            for (size_t p = 0; p < world_.pools.size(); ++p) {
              consider(static_cast<world::PoolIndex>(p));
            }
          } else {
            for (world::AcceleratorIndex a : *req.accelerators) {
              for (world::PoolIndex p : world_.PoolsOf(a)) consider(p);
            }
          }
          if (!survivors_.empty()) {
            Choose(ctx, req, d, nullptr);
            return d;
          }
        }
        PlaceBlocked(ctx, req, d);
        return d;
      }
    }
  } else {
    explanation->at = ctx.now;
    explanation->gpus = req.gpus;
    explanation->candidates.clear();
    explanation->scorer_names.clear();
    explanation->scorer_units.clear();
    for (const auto& s : scorers_) {
      explanation->scorer_names.push_back(s->name());
      explanation->scorer_units.push_back(s->unit());
    }
  }
  SetRanges(ctx, req);
  // Every candidate pool: with an explanation, or when nothing fits outright
  // (preemption candidates, the main obstacle and the best blocked pool).
  if (explanation != nullptr || any_type) {
    for (size_t p = 0; p < world_.pools.size(); ++p) {
      Consider(ctx, req, static_cast<world::PoolIndex>(p), allow_preempt, explanation);
    }
  } else {
    for (world::AcceleratorIndex a : *req.accelerators) {
      for (world::PoolIndex p : world_.PoolsOf(a)) Consider(ctx, req, p, allow_preempt, nullptr);
    }
  }
  // Pools that fit outright win over pools that need preemption.
  const bool any_outright = std::any_of(survivors_.begin(), survivors_.end(),
                                        [](const Survivor& s) { return !s.via_preemption; });
  if (any_outright && allow_preempt) {
    std::erase_if(survivors_, [](const Survivor& s) { return s.via_preemption; });
    if (explanation != nullptr) {
      for (CandidateVerdict& c : explanation->candidates) {
        if (c.rejected_by != nullptr || !c.via_preemption) continue;
        Verdict failed;
        const int f = FirstFailingFilter(ctx, req, c.pool, &failed);
        c.rejected_by = filters_[f]->name();
        c.reason = filters_[f]->Describe(ctx, req, c.pool, failed) +
                   "; preemption would free enough, but other pools fit without it";
        c.via_preemption = false;
        c.raw = {};
      }
    }
  }
  if (survivors_.empty()) {
    d.best_blocked = best_blocked_;
    if (explanation != nullptr) explanation->chosen = world::kNone;
    return d;
  }
  Choose(ctx, req, d, explanation);
  return d;
}

void Placer::Choose(const Context& ctx, const Request& req, Decision& d, Explanation* explanation) {
  // Pools that fit outright beat pools that need preemption; then the highest
  // total, then the lowest pool index.
  const Survivor* best = nullptr;
  int64_t best_total = 0;
  for (const Survivor& s : survivors_) {
    const int64_t total = Total(s.raw);
    const bool better = best == nullptr || (best->via_preemption && !s.via_preemption) ||
                        (best->via_preemption == s.via_preemption &&
                         (total > best_total || (total == best_total && s.pool < best->pool)));
    if (better) {
      best = &s;
      best_total = total;
    }
  }
  d.pool = best->pool;
  d.alloc_gpus = ctx.fleet.AllocationSize(best->pool, req.gpus);
  d.needs_preemption = best->via_preemption;
  d.total_score = best_total;
  if (explanation) {
    for (CandidateVerdict& c : explanation->candidates) {
      if (c.rejected_by != nullptr) continue;
      c.total = 0;
      for (size_t k = 0; k < scorers_.size(); ++k) {
        c.normalized[k] = Normalised(k, c.raw[k]);
        c.total += weight_[k] * c.normalized[k];
      }
    }
    explanation->chosen = d.pool;
    explanation->preempts = d.needs_preemption;
  }
}

}  // namespace polycloud::placement
