#include "polycloud/placement/pipeline.h"

#include <algorithm>

#include "polycloud/base/parse.h"

namespace polycloud::placement {
namespace {

using world::PoolIndex;

std::string Gpus(int64_t n) { return std::to_string(n) + (n == 1 ? " GPU" : " GPUs"); }

class AcceleratorFilter final : public placement::Filter {
 public:
  const char* name() const override { return "accelerator"; }
  Verdict Check(const Context& ctx, const Request& req, PoolIndex p) const override {
    if (req.accelerators == nullptr || req.accelerators->empty()) return Verdict::Pass();
    const auto a = ctx.world.pools[p].accelerator;
    for (auto x : *req.accelerators) {
      if (x == a) return Verdict::Pass();
    }
    return Verdict::Fail(a);
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
  Verdict Check(const Context& ctx, const Request&, PoolIndex p) const override {
    const PoolState& s = ctx.fleet.pool(p);
    return s.down() ? Verdict::Fail(s.outages) : Verdict::Pass();
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
  Verdict Check(const Context& ctx, const Request&, PoolIndex p) const override {
    return ctx.fleet.pool(p).contract_in_force ? Verdict::Pass() : Verdict::Fail();
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
    const int64_t max_gang = ctx.fleet.pool(p).max_gang;
    return req.gpus > max_gang ? Verdict::Fail(req.gpus, max_gang) : Verdict::Pass();
  }
  std::string Describe(const Context&, const Request&, PoolIndex, const Verdict& v) const override {
    return "a gang of " + Gpus(v.a) + " exceeds the fabric's largest gang of " + Gpus(v.b);
  }
};

class ExclusivityFilter final : public placement::Filter {
 public:
  const char* name() const override { return "exclusivity"; }
  Verdict Check(const Context& ctx, const Request& req, PoolIndex p) const override {
    if (ctx.rules.empty()) return Verdict::Pass();
    auto v = ctx.rules.Check(req.workload_class, req.model_family, ctx.world.pools[p].provider,
                             ctx.now, ctx.fleet.provider_in_outage());
    return v.allowed ? Verdict::Pass() : Verdict::Fail(v.contract, v.clause);
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
  Verdict Check(const Context& ctx, const Request& req, PoolIndex p) const override {
    if (req.replicas_per_provider == nullptr || req.min_providers <= 1) return Verdict::Pass();
    const auto& per = *req.replicas_per_provider;
    int64_t present = 0;
    for (int32_t n : per) present += n > 0;
    if (present >= req.min_providers) return Verdict::Pass();
    return per[ctx.world.pools[p].provider] > 0 ? Verdict::Fail(present, req.min_providers)
                                                : Verdict::Pass();
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
    if (ctx.reserved_for_priority == nullptr) return Verdict::Pass();
    const int32_t holder = (*ctx.reserved_for_priority)[p];
    return holder != kNoReservation && req.priority < holder ? Verdict::Fail(holder, req.priority)
                                                             : Verdict::Pass();
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
    const int64_t need = ctx.fleet.AllocationSize(p, req.gpus);
    const int64_t free = ctx.fleet.pool(p).free();
    return need > free ? Verdict::Short(need, free) : Verdict::Pass();
  }
  std::string Describe(const Context& ctx, const Request&, PoolIndex p,
                       const Verdict& v) const override {
    return "needs " + Gpus(v.a) + ", " + std::to_string(v.b) + " free of " +
           std::to_string(ctx.fleet.pool(p).capacity) + " usable";
  }
};

class PowerFilter final : public placement::Filter {
 public:
  const char* name() const override { return "power"; }
  Verdict Check(const Context& ctx, const Request& req, PoolIndex p) const override {
    const SiteState& site = ctx.fleet.site(ctx.world.pools[p].site);
    if (!site.limited) return Verdict::Pass();
    const Power need = ctx.fleet.PowerOf(p, ctx.fleet.AllocationSize(p, req.gpus));
    return need > site.headroom() ? Verdict::Short(need.watts(), site.headroom().watts())
                                  : Verdict::Pass();
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
  const char* name() const override { return "marginal-cost"; }
  const char* unit() const override { return "µ$/ref-GPU-h"; }
  bool lower_is_better() const override { return true; }
  int64_t weight() const override { return 100; }
  int64_t Raw(const Context& ctx, const Request&, PoolIndex p) const override {
    const int64_t speed = ctx.world.accelerators[ctx.world.pools[p].accelerator].speed_milli;
    const Money price = ctx.ledger != nullptr
                            ? ctx.ledger->MarginalPricePerGpuHour(p, ctx.now, ctx.cost_model)
                            : MarginalPricePerGpuHour(ctx.world, p);
    return MulDivRound(price.micros(), 1000, speed);
  }
};

class SpeedScorer final : public Scorer {
 public:
  const char* name() const override { return "speed"; }
  const char* unit() const override { return "×H100/1000"; }
  bool lower_is_better() const override { return false; }
  int64_t weight() const override { return 10; }
  int64_t Raw(const Context& ctx, const Request&, PoolIndex p) const override {
    return ctx.world.accelerators[ctx.world.pools[p].accelerator].speed_milli;
  }
};

class ProviderDiversityScorer final : public Scorer {
 public:
  const char* name() const override { return "diversity"; }
  const char* unit() const override { return "replicas here"; }
  bool lower_is_better() const override { return true; }
  int64_t weight() const override { return 20; }
  int64_t Raw(const Context& ctx, const Request& req, PoolIndex p) const override {
    if (req.replicas_per_provider == nullptr) return 0;
    return (*req.replicas_per_provider)[ctx.world.pools[p].provider];
  }
};

class FragmentationScorer final : public Scorer {
 public:
  const char* name() const override { return "fragmentation"; }
  const char* unit() const override { return "GPUs left free"; }
  bool lower_is_better() const override { return true; }
  int64_t weight() const override { return 5; }
  int64_t Raw(const Context& ctx, const Request& req, PoolIndex p) const override {
    // Best fit: leave large holes elsewhere for large gangs.
    return std::max<int64_t>(0, ctx.fleet.pool(p).free() - ctx.fleet.AllocationSize(p, req.gpus));
  }
};

class ConsolidationScorer final : public Scorer {
 public:
  const char* name() const override { return "consolidation"; }
  const char* unit() const override { return "nodes spanned"; }
  bool lower_is_better() const override { return true; }
  int64_t weight() const override { return 1000; }
  int64_t Raw(const Context& ctx, const Request& req, PoolIndex p) const override {
    const int64_t per_node = std::max<int64_t>(1, ctx.world.pools[p].gpus_per_node);
    return (req.gpus + per_node - 1) / per_node;
  }
};

}  // namespace

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
std::unique_ptr<Scorer> MakeMarginalCostScorer() { return std::make_unique<MarginalCostScorer>(); }
std::unique_ptr<Scorer> MakeSpeedScorer() { return std::make_unique<SpeedScorer>(); }
std::unique_ptr<Scorer> MakeProviderDiversityScorer() {
  return std::make_unique<ProviderDiversityScorer>();
}
std::unique_ptr<Scorer> MakeFragmentationScorer() {
  return std::make_unique<FragmentationScorer>();
}
std::unique_ptr<Scorer> MakeConsolidationScorer() {
  return std::make_unique<ConsolidationScorer>();
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
  scorers_.push_back(MakeMarginalCostScorer());
  scorers_.push_back(MakeSpeedScorer());
  scorers_.push_back(MakeProviderDiversityScorer());
  scorers_.push_back(MakeFragmentationScorer());
  if (options.consolidate) scorers_.push_back(MakeConsolidationScorer());
  obstacle_counts_.assign(filters_.size(), 0);
}

int Placer::FirstFailingFilter(const Context& ctx, const Request& req, world::PoolIndex pool,
                               Verdict* failed) const {
  for (size_t f = 0; f < filters_.size(); ++f) {
    Verdict v = filters_[f]->Check(ctx, req, pool);
    if (!v.pass) {
      *failed = v;
      return static_cast<int>(f);
    }
  }
  return -1;
}

void Placer::Consider(const Context& ctx, const Request& req, world::PoolIndex pool,
                      bool allow_preempt, Explanation* explanation) {
  Verdict failed;
  const int f = FirstFailingFilter(ctx, req, pool, &failed);
  bool via_preemption = false;
  if (f >= 0 && failed.resource && allow_preempt) {
    // Would preempting lower-priority work free enough GPUs and power?
    const int64_t need = ctx.fleet.AllocationSize(pool, req.gpus);
    const PoolState& ps = ctx.fleet.pool(pool);
    const int64_t reclaim = ctx.preemption->ReclaimableGpus(pool, req.priority);
    const SiteState& site = ctx.fleet.site(world_.pools[pool].site);
    const bool gpus_ok = reclaim > 0 && ps.free() + std::min(reclaim, ps.used) >= need;
    const bool power_ok = !site.limited || site.headroom() + ctx.fleet.PowerOf(pool, reclaim) >=
                                               ctx.fleet.PowerOf(pool, need);
    via_preemption = gpus_ok && power_ok;
  }
  if (f >= 0 && !via_preemption) {
    ++obstacle_counts_[f];
    if (failed.resource) {
      const int64_t free = ctx.fleet.pool(pool).free();
      if (best_blocked_ == world::kNone || free > ctx.fleet.pool(best_blocked_).free() ||
          (free == ctx.fleet.pool(best_blocked_).free() && pool < best_blocked_)) {
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
  for (size_t k = 0; k < scorers_.size(); ++k) s.raw[k] = scorers_[k]->Raw(ctx, req, pool);
  survivors_.push_back(s);
  if (explanation) {
    CandidateVerdict& c = explanation->candidates.emplace_back();
    c.pool = pool;
    c.via_preemption = via_preemption;
    c.raw = s.raw;
  }
}

Decision Placer::Place(const Context& ctx, const Request& req, Explanation* explanation) {
  survivors_.clear();
  best_blocked_ = world::kNone;
  std::fill(obstacle_counts_.begin(), obstacle_counts_.end(), 0);
  const bool allow_preempt = ctx.preemption != nullptr;
  if (explanation) {
    explanation->at = ctx.now;
    explanation->gpus = req.gpus;
    explanation->candidates.clear();
    explanation->scorer_names.clear();
    explanation->scorer_units.clear();
    for (const auto& s : scorers_) {
      explanation->scorer_names.push_back(s->name());
      explanation->scorer_units.push_back(s->unit());
    }
    for (size_t p = 0; p < world_.pools.size(); ++p) {
      Consider(ctx, req, static_cast<world::PoolIndex>(p), allow_preempt, explanation);
    }
  } else if (req.accelerators != nullptr && !req.accelerators->empty()) {
    for (world::AcceleratorIndex a : *req.accelerators) {
      for (world::PoolIndex p : world_.PoolsOf(a)) Consider(ctx, req, p, allow_preempt, nullptr);
    }
  } else {
    for (size_t p = 0; p < world_.pools.size(); ++p) {
      Consider(ctx, req, static_cast<world::PoolIndex>(p), allow_preempt, nullptr);
    }
  }

  Decision d;
  if (survivors_.empty()) {
    int best = -1;
    for (size_t f = 0; f < obstacle_counts_.size(); ++f) {
      if (obstacle_counts_[f] > 0 && (best < 0 || obstacle_counts_[f] > obstacle_counts_[best])) {
        best = static_cast<int>(f);
      }
    }
    d.main_obstacle = best >= 0 ? filters_[best]->name() : "no pools";
    d.best_blocked = best_blocked_;
    return d;
  }
  // Normalise each scorer over the survivors to 0..100 (100 = best), then
  // weigh. Pools that fit outright beat pools that need preemption.
  std::array<int64_t, kMaxScorers> lo, hi;
  lo.fill(std::numeric_limits<int64_t>::max());
  hi.fill(std::numeric_limits<int64_t>::min());
  for (const Survivor& s : survivors_) {
    for (size_t k = 0; k < scorers_.size(); ++k) {
      lo[k] = std::min(lo[k], s.raw[k]);
      hi[k] = std::max(hi[k], s.raw[k]);
    }
  }
  auto normalise = [&](size_t k, int64_t raw) -> int64_t {
    if (hi[k] == lo[k]) return 100;
    const int64_t span = hi[k] - lo[k];
    const int64_t pos = scorers_[k]->lower_is_better() ? hi[k] - raw : raw - lo[k];
    return MulDivRound(pos, 100, span);
  };
  const Survivor* best = nullptr;
  int64_t best_total = 0;
  for (const Survivor& s : survivors_) {
    int64_t total = 0;
    for (size_t k = 0; k < scorers_.size(); ++k)
      total += scorers_[k]->weight() * normalise(k, s.raw[k]);
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
        c.normalized[k] = normalise(k, c.raw[k]);
        c.total += scorers_[k]->weight() * c.normalized[k];
      }
    }
    explanation->chosen = d.pool;
    explanation->preempts = d.needs_preemption;
  }
  return d;
}

}  // namespace polycloud::placement
