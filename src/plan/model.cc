// The capacity-planning program (docs/contracts.md, "Capacity planning"):
// built row by row as triplets, solved by CLP (or CBC with whole nodes),
// rounded to whole nodes and re-priced exactly.
#include <CbcModel.hpp>
#include <ClpSimplex.hpp>
#include <CoinPackedMatrix.hpp>
#include <OsiClpSolverInterface.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "polycloud/base/parse.h"
#include "polycloud/contracts/exclusivity.h"
#include "polycloud/contracts/ledger.h"
#include "polycloud/plan/plan.h"

namespace polycloud::plan {
namespace {

using contracts::Raw;
constexpr double kInf = std::numeric_limits<double>::infinity();
// A burned commitment's shortfall weighs this much more than a dollar of
// spend: the goal, not a price (the report prices the plan without it).
constexpr double kBurnWeight = 1000.0;
// Tie-break between plans of equal cost: a dollar per GPU brought online, so
// that of two plans that burn a commitment alike the one with fewer GPUs
// (capacity earlier rather than later) wins. Not in the re-priced total.
constexpr double kPerGpuTieBreak = 1.0;
// Tie-break for power: a hundredth of a cent per kW built per period, so
// that power is built no sooner and no more than the plan's GPUs need
// (without it a site whose building costs nothing could be built out at
// random). Small beside kPerGpuTieBreak; not in the re-priced total.
constexpr double kPerKwPeriodTieBreak = 1e-4;

// Calendar years (UTC), for the spend-by-year breakdown.
int YearOf(Time t) { return std::stoi(FormatTime(t).substr(0, 4)); }
Time YearStart(int year) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-01-01", year);
  return ParseTime(buf).value();
}

int64_t OverlapSeconds(Time a0, Time a1, Time b0, Time b1) {
  const Time lo = std::max(a0, b0), hi = std::min(a1, b1);
  return hi > lo ? (hi - lo).seconds() : 0;
}

// Installed GPUs of a pool's schedule over [a, b): the lowest and the highest value.
std::pair<int64_t, int64_t> RangeOver(const world::StepSchedule<int64_t>& s, Time a, Time b) {
  int64_t lo = s.At(a), hi = lo;
  for (const auto& p : s.points()) {
    if (p.at <= a || p.at >= b) continue;
    lo = std::min(lo, p.value);
    hi = std::max(hi, p.value);
  }
  return {lo, hi};
}

// Σ gpus × price_micros × seconds over [a, b) of a step schedule (Raw units).
Raw ScheduleRaw(const world::StepSchedule<int64_t>& s, int64_t price_micros, Time a, Time b) {
  if (b <= a) return 0;
  Raw raw = 0;
  Time t = a;
  int64_t v = s.At(a);
  for (const auto& p : s.points()) {
    if (p.at <= a) continue;
    if (p.at >= b) break;
    raw += static_cast<Raw>(v) * price_micros * (p.at - t).seconds();
    t = p.at;
    v = p.value;
  }
  raw += static_cast<Raw>(v) * price_micros * (b - t).seconds();
  return raw;
}

// Milliwatts one GPU of `acc` draws at `site` (board watts × PUE).
int64_t MilliwattsPerGpu(const world::World& w, world::AcceleratorIndex acc,
                         world::SiteIndex site) {
  return w.accelerators[acc].watts.watts() * w.sites[site].pue_milli;
}

class Lp {
 public:
  int AddColumn(double lo, double hi, double cost) {
    col_lo_.push_back(lo);
    col_hi_.push_back(hi);
    cost_.push_back(cost);
    return static_cast<int>(col_lo_.size()) - 1;
  }
  int AddRow(double lo, double hi) {
    row_lo_.push_back(lo);
    row_hi_.push_back(hi);
    return static_cast<int>(row_lo_.size()) - 1;
  }
  void Set(int row, int col, double v) {
    if (v == 0) return;
    rows_.push_back(row);
    cols_.push_back(col);
    vals_.push_back(v);
  }
  void AddCost(int col, double v) { cost_[col] += v; }
  int columns() const { return static_cast<int>(col_lo_.size()); }
  int rows() const { return static_cast<int>(row_lo_.size()); }

  CoinPackedMatrix Matrix() const {
    return CoinPackedMatrix(false, rows_.data(), cols_.data(), vals_.data(),
                            static_cast<CoinBigIndex>(vals_.size()));
  }
  std::vector<double> col_lo_, col_hi_, cost_, row_lo_, row_hi_;
  std::vector<int> rows_, cols_;
  std::vector<double> vals_;
};

struct Obligation {
  world::ContractIndex contract;
  Time from, until;
  Money amount;
  bool term = false;
  Raw required = 0;  // pro-rated to the horizon, Raw units
  Raw existing = 0;  // the scenario's reserved pools inside it
  int shortfall_col = -1;
  int row = -1;
};

// Right of first refusal: while a clause of another provider's contract holds
// at `at` and covers offer `o`'s accelerator and the class `cls` (a clause
// for "*" covers every class; `cls` "*" asks about clauses for all work
// only), offer `o` is closed when one of the holder's offers matches it — at
// or under its price per reference GPU-hour and no later lead time.
bool RofrClosed(const world::World& w, const PlanningInputs& in, int o, Time at,
                std::string_view cls) {
  const PlanOffer& offer = in.offers[o];
  auto covers = [](const world::RofrClause& r, world::AcceleratorIndex a) {
    return r.accelerators.empty() ||
           std::find(r.accelerators.begin(), r.accelerators.end(), a) != r.accelerators.end();
  };
  for (const world::Contract& c : w.contracts) {
    if (c.provider == offer.provider) continue;
    for (const world::RofrClause& r : c.rofr) {
      if (!(r.from <= at && at < r.until) || !covers(r, offer.accelerator)) continue;
      if (r.workload_class != "*" && r.workload_class != cls) continue;
      const int64_t speed = w.accelerators[offer.accelerator].speed_milli;
      for (const PlanOffer& h : in.offers) {
        if (h.provider != c.provider || !covers(r, h.accelerator)) continue;
        const int64_t hs = w.accelerators[h.accelerator].speed_milli;
        // h.price / hs <= offer.price / speed, exactly.
        const bool matches = static_cast<__int128>(h.price_per_gpu_hour.micros()) * speed <=
                             static_cast<__int128>(offer.price_per_gpu_hour.micros()) * hs;
        if (matches && h.lead_time <= offer.lead_time) return true;
      }
    }
  }
  return false;
}

}  // namespace

Result<Plan> SolvePlan(const world::World& w, const PlanningInputs& in) {
  if (in.until <= in.from) return InvalidInput("planning: the horizon is empty");
  Plan plan;
  for (Time t = in.from; t < in.until; t = t + in.step)
    plan.periods.push_back({t, std::min(t + in.step, in.until)});
  const int T = static_cast<int>(plan.periods.size());
  auto hours = [&](int t) {
    return (plan.periods[t].end - plan.periods[t].start).seconds() / 3600.0;
  };
  auto weeks = [&](int t) {
    return (plan.periods[t].end - plan.periods[t].start).seconds() / (7.0 * 86400);
  };

  contracts::ExclusivityRules exclusivity(w);
  const std::vector<uint8_t> no_outage(w.providers.size(), 0);
  const std::vector<Time> boundaries = exclusivity.Boundaries();
  // May work of `cls`/`family` run at `provider` during the whole of period t?
  auto allowed = [&](std::string_view cls, std::string_view family, world::ProviderIndex provider,
                     int t) {
    const Period& p = plan.periods[t];
    if (!exclusivity.Check(cls, family, provider, p.start, no_outage).allowed) return false;
    for (Time b : boundaries)
      if (b > p.start && b < p.end &&
          !exclusivity.Check(cls, family, provider, b, no_outage).allowed)
        return false;
    return true;
  };
  auto in_force = [&](world::ContractIndex c, int t) {
    if (c == world::kNone) return true;
    return w.contracts[c].start <= plan.periods[t].start &&
           plan.periods[t].end <= w.contracts[c].end;
  };
  auto billing_window = [&](world::ContractIndex c) -> std::pair<Time, Time> {
    if (c == world::kNone) return {Time::Min(), Time::Max()};
    return {w.contracts[c].start, w.contracts[c].end};
  };

  Lp lp;
  const int O = static_cast<int>(in.offers.size());
  // Columns per offer: nodes added and GPUs installed per period.
  std::vector<std::vector<int>> add_col(O, std::vector<int>(T)), inst_col(O, std::vector<int>(T));
  for (int o = 0; o < O; ++o) {
    const PlanOffer& offer = in.offers[o];
    const double node = static_cast<double>(offer.gpus_per_node);
    const Time earliest = in.from + offer.lead_time;
    for (int t = 0; t < T; ++t) {
      const Period& p = plan.periods[t];
      bool open = p.start >= earliest;
      // Capacity may not arrive while a clause for all work keeps its provider out.
      if (open && !allowed("*", "", offer.provider, t)) open = false;
      // ROFR (clauses for all work): the matched offer's capacity may not arrive.
      if (open && RofrClosed(w, in, o, p.start, "*")) open = false;
      const double ramp_nodes = open ? offer.max_ramp_per_week * weeks(t) / node : 0.0;
      add_col[o][t] = lp.AddColumn(0, ramp_nodes, kPerGpuTieBreak * node);
      inst_col[o][t] = lp.AddColumn(0, static_cast<double>(offer.max_gpus), 0);
      // inst[t] - inst[t-1] - node * add[t] = 0
      const int row = lp.AddRow(0, 0);
      lp.Set(row, inst_col[o][t], 1);
      if (t > 0) lp.Set(row, inst_col[o][t - 1], -1);
      lp.Set(row, add_col[o][t], -node);
      // Spend of the installed GPUs (reserved: every hour while the contract holds).
      const auto [b0, b1] = billing_window(offer.contract);
      const double secs = static_cast<double>(OverlapSeconds(p.start, p.end, b0, b1));
      lp.AddCost(inst_col[o][t], offer.price_per_gpu_hour.micros() / 1e6 * secs / 3600.0);
    }
  }

  // Site power: the plan's installed GPUs × watts × PUE ≤ headroom + built.
  plan.sites.resize(in.sites.size());
  std::vector<std::vector<int>> built_col(in.sites.size());
  for (size_t s = 0; s < in.sites.size(); ++s) {
    const PlanSite& ps = in.sites[s];
    plan.sites[s].site = ps.site;
    const double capex_per_kw = ps.capex_per_gw.micros() / 1e6 / 1e6;
    for (int t = 0; t < T; ++t) {
      double hi = kInf;
      if (ps.has_max_power) {
        const double scheduled_kw = w.sites[ps.site].power.At(plan.periods[t].start).watts() / 1e3;
        hi = std::max(0.0, ps.max_power.watts() / 1e3 - scheduled_kw);
      }
      // Only the last period's build-out carries the capex (it is cumulative).
      built_col[s].push_back(
          lp.AddColumn(0, hi, kPerKwPeriodTieBreak + (t == T - 1 ? capex_per_kw : 0)));
      const int row = lp.AddRow(-kInf, ps.build_per_week.watts() / 1e3 * weeks(t));
      lp.Set(row, built_col[s][t], 1);
      if (t > 0) lp.Set(row, built_col[s][t - 1], -1);
      if (t > 0) {
        const int mono = lp.AddRow(0, kInf);
        lp.Set(mono, built_col[s][t], 1);
        lp.Set(mono, built_col[s][t - 1], -1);
      }
    }
  }
  // Headroom per site and period (kW): limit − the scenario's installed power, at its tightest.
  std::vector<std::vector<double>> headroom_kw(w.sites.size());
  for (size_t site = 0; site < w.sites.size(); ++site) {
    const world::Site& st = w.sites[site];
    if (!st.power_limited) continue;
    bool has_offer = false;
    for (const PlanOffer& o : in.offers) has_offer |= o.site == static_cast<world::SiteIndex>(site);
    if (!has_offer) continue;
    headroom_kw[site].resize(T);
    for (int t = 0; t < T; ++t) {
      const Period& p = plan.periods[t];
      std::vector<Time> instants = {p.start};
      for (const auto& pt : st.power.points())
        if (pt.at > p.start && pt.at < p.end) instants.push_back(pt.at);
      for (const world::Pool& pool : w.pools)
        if (pool.site == static_cast<world::SiteIndex>(site) && pool.offer == world::kNone)
          for (const auto& pt : pool.gpus.points())
            if (pt.at > p.start && pt.at < p.end) instants.push_back(pt.at);
      double room = kInf;
      for (Time at : instants) {
        __int128 mw = 0;  // milliwatts
        for (const world::Pool& pool : w.pools)
          if (pool.site == static_cast<world::SiteIndex>(site) && pool.offer == world::kNone)
            mw += static_cast<__int128>(pool.gpus.At(at)) *
                  MilliwattsPerGpu(w, pool.accelerator, pool.site);
        room = std::min(room, st.power.At(at).watts() / 1e3 - static_cast<double>(mw) / 1e6);
      }
      headroom_kw[site][t] = std::max(0.0, room);
    }
    for (int t = 0; t < T; ++t) {
      int built = -1;
      for (size_t s = 0; s < in.sites.size(); ++s)
        if (in.sites[s].site == static_cast<world::SiteIndex>(site)) built = built_col[s][t];
      const int row = lp.AddRow(-kInf, headroom_kw[site][t]);
      for (int o = 0; o < O; ++o)
        if (in.offers[o].site == static_cast<world::SiteIndex>(site))
          lp.Set(row, inst_col[o][t],
                 MilliwattsPerGpu(w, in.offers[o].accelerator, in.offers[o].site) / 1e6);
      if (built >= 0) lp.Set(row, built, -1);
    }
  }

  // Demand: each class's reference GPUs per period, from the pools and offers it may use.
  struct Use {
    int demand, period, col;
    int pool;   // scenario pool, or -1
    int offer;  // planning offer, or -1
  };
  std::vector<Use> uses;
  std::vector<std::vector<int>> unmet_col(in.demand.size());
  std::vector<std::vector<int>> pool_cap_row(w.pools.size()), offer_cap_row(O);
  for (size_t p = 0; p < w.pools.size(); ++p) pool_cap_row[p].assign(T, -1);
  for (int o = 0; o < O; ++o) offer_cap_row[o].assign(T, -1);
  auto accel_ok = [](const PlanDemand& d, world::AcceleratorIndex a) {
    return d.accelerators.empty() ||
           std::find(d.accelerators.begin(), d.accelerators.end(), a) != d.accelerators.end();
  };
  const double penalty = in.unmet_penalty_per_gpu_hour.micros() / 1e6;
  for (size_t k = 0; k < in.demand.size(); ++k) {
    const PlanDemand& d = in.demand[k];
    for (int t = 0; t < T; ++t) {
      const Period& p = plan.periods[t];
      const double need = static_cast<double>(RangeOver(d.reference_gpus, p.start, p.end).second);
      const int row = lp.AddRow(need, kInf);
      unmet_col[k].push_back(lp.AddColumn(0, kInf, penalty * hours(t)));
      lp.Set(row, unmet_col[k][t], 1);
      for (size_t pi = 0; pi < w.pools.size(); ++pi) {
        const world::Pool& pool = w.pools[pi];
        if (pool.offer != world::kNone || !accel_ok(d, pool.accelerator)) continue;
        if (!in_force(pool.contract, t) ||
            !allowed(d.workload_class, d.model_family, pool.provider, t))
          continue;
        const int64_t cap = RangeOver(pool.gpus, p.start, p.end).first;
        if (cap <= 0) continue;
        if (pool_cap_row[pi][t] < 0)
          pool_cap_row[pi][t] = lp.AddRow(-kInf, static_cast<double>(cap));
        double cost = 0;
        if (pool.pricing != world::PricingKind::kReserved) {
          const int64_t disc =
              pool.contract == world::kNone ? 0 : w.contracts[pool.contract].discount_milli;
          cost = pool.price_per_gpu_hour.micros() / 1e6 * (1000 - disc) / 1000.0 * hours(t);
        }
        const int col = lp.AddColumn(0, kInf, cost);
        lp.Set(row, col, w.accelerators[pool.accelerator].speed_milli / 1000.0);
        lp.Set(pool_cap_row[pi][t], col, 1);
        uses.push_back({static_cast<int>(k), t, col, static_cast<int>(pi), -1});
      }
      for (int o = 0; o < O; ++o) {
        const PlanOffer& offer = in.offers[o];
        if (!accel_ok(d, offer.accelerator) || !in_force(offer.contract, t) ||
            !allowed(d.workload_class, d.model_family, offer.provider, t))
          continue;
        // A clause scoped to this class sends its new demand to the holder.
        if (RofrClosed(w, in, o, p.start, d.workload_class)) continue;
        if (offer_cap_row[o][t] < 0) {
          offer_cap_row[o][t] = lp.AddRow(-kInf, 0);
          lp.Set(offer_cap_row[o][t], inst_col[o][t], -1);
        }
        const int col = lp.AddColumn(0, kInf, 0);
        lp.Set(row, col, w.accelerators[offer.accelerator].speed_milli / 1000.0);
        lp.Set(offer_cap_row[o][t], col, 1);
        uses.push_back({static_cast<int>(k), t, col, -1, o});
      }
    }
  }

  // Obligations: each minimum, then the term, of every contract with one.
  std::vector<Obligation> obligations;
  for (size_t ci = 0; ci < w.contracts.size(); ++ci) {
    const world::Contract& c = w.contracts[ci];
    for (const world::CommitmentMinimum& m : c.minimums)
      obligations.push_back({static_cast<world::ContractIndex>(ci), m.from, m.until, m.spend});
    if (c.committed_spend > Money())
      obligations.push_back(
          {static_cast<world::ContractIndex>(ci), c.start, c.end, c.committed_spend, true});
  }
  for (Obligation& ob : obligations) {
    const world::Contract& c = w.contracts[ob.contract];
    // Only the share of the obligation inside the horizon is asked of it (the
    // ledger's rule for a period begun before its start, applied at both ends).
    const int64_t inside = OverlapSeconds(ob.from, ob.until, in.from, in.until);
    ob.required =
        static_cast<Raw>(ob.amount.micros()) * 3600 * inside / (ob.until - ob.from).seconds();
    for (const world::Pool& pool : w.pools) {
      if (pool.contract != ob.contract || pool.offer != world::kNone ||
          pool.pricing != world::PricingKind::kReserved)
        continue;
      const Time a = std::max({ob.from, in.from, c.start}),
                 b = std::min({ob.until, in.until, c.end});
      ob.existing += ScheduleRaw(pool.gpus, pool.price_per_gpu_hour.micros(), a, b);
    }
    const bool burn = std::find(in.burn.begin(), in.burn.end(), ob.contract) != in.burn.end();
    double weight = c.take_or_pay ? 1.0 : 0.0;
    if (burn) weight += kBurnWeight;
    ob.shortfall_col = lp.AddColumn(0, kInf, weight);
    const double rhs = static_cast<double>(ob.required - ob.existing) / 3600.0 / 1e6;
    ob.row = lp.AddRow(rhs, kInf);
    lp.Set(ob.row, ob.shortfall_col, 1);
    if (ob.term && c.take_or_pay)
      for (const Obligation& m : obligations)
        if (!m.term && m.contract == ob.contract && m.shortfall_col >= 0)
          lp.Set(ob.row, m.shortfall_col, 1);
    for (int o = 0; o < O; ++o) {
      if (in.offers[o].contract != ob.contract) continue;
      for (int t = 0; t < T; ++t) {
        const Period& p = plan.periods[t];
        const double secs = static_cast<double>(
            OverlapSeconds(p.start, p.end, std::max(ob.from, c.start), std::min(ob.until, c.end)));
        lp.Set(ob.row, inst_col[o][t],
               in.offers[o].price_per_gpu_hour.micros() / 1e6 * secs / 3600.0);
      }
    }
    for (const Use& u : uses) {
      if (u.pool < 0) continue;
      const world::Pool& pool = w.pools[u.pool];
      if (pool.contract != ob.contract || pool.pricing == world::PricingKind::kReserved) continue;
      const Period& p = plan.periods[u.period];
      const double secs = static_cast<double>(OverlapSeconds(p.start, p.end, ob.from, ob.until));
      lp.Set(ob.row, u.col,
             pool.price_per_gpu_hour.micros() / 1e6 * (1000 - c.discount_milli) / 1000.0 * secs /
                 3600.0);
    }
  }

  // Solve.
  plan.rows = lp.rows();
  plan.columns = lp.columns();
  const CoinPackedMatrix matrix = lp.Matrix();
  std::vector<double> x;
  const auto started = std::chrono::steady_clock::now();
  if (!in.integer) {
    ClpSimplex model;
    model.setLogLevel(0);
    model.loadProblem(matrix, lp.col_lo_.data(), lp.col_hi_.data(), lp.cost_.data(),
                      lp.row_lo_.data(), lp.row_hi_.data());
    model.initialSolve();
    plan.solver = "clp";
    if (!model.isProvenOptimal())
      return Internal("planning: CLP found no optimal plan (status " +
                      std::to_string(model.status()) + ", secondary " +
                      std::to_string(model.secondaryStatus()) + ")");
    plan.status = "optimal";
    plan.lp_objective = model.objectiveValue();
    x.assign(model.primalColumnSolution(), model.primalColumnSolution() + lp.columns());
  } else {
    OsiClpSolverInterface solver;
    solver.messageHandler()->setLogLevel(0);
    solver.loadProblem(matrix, lp.col_lo_.data(), lp.col_hi_.data(), lp.cost_.data(),
                       lp.row_lo_.data(), lp.row_hi_.data());
    for (int o = 0; o < O; ++o)
      for (int t = 0; t < T; ++t) {
        solver.setInteger(add_col[o][t]);
        // Whole nodes only: an open period may add up to the ramp, rounded down.
        solver.setColUpper(add_col[o][t], std::floor(lp.col_hi_[add_col[o][t]] + 1e-9));
      }
    CbcModel model(solver);
    model.setLogLevel(0);
    model.messageHandler()->setLogLevel(0);
    model.setUseElapsedTime(true);  // max_solve_time is wall-clock time
    model.setMaximumSeconds(static_cast<double>(in.max_solve_seconds));
    model.branchAndBound();
    plan.solver = "cbc";
    if (model.bestSolution() == nullptr)
      return Internal("planning: CBC found no integer plan within " +
                      std::to_string(in.max_solve_seconds) + " s");
    plan.status = model.isProvenOptimal() ? "optimal" : "time limit (best plan found)";
    plan.lp_objective = model.getObjValue();
    x.assign(model.bestSolution(), model.bestSolution() + lp.columns());
  }
  plan.solve_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  auto burned = [&](world::ContractIndex c) {
    return c != world::kNone && std::find(in.burn.begin(), in.burn.end(), c) != in.burn.end();
  };
  // Round to whole nodes: the cumulative installed GPUs to the nearest node,
  // never decreasing and never past max_gpus (rounded down to nodes).
  plan.offers.resize(O);
  for (int o = 0; o < O; ++o) {
    const PlanOffer& offer = in.offers[o];
    const int64_t node = offer.gpus_per_node;
    const int64_t cap = offer.max_gpus / node * node;
    int64_t prev = 0;
    for (int t = 0; t < T; ++t) {
      // Offers under a burned contract round up, so rounding never leaves
      // the goal short; others to the nearest node.
      const double nodes = x[inst_col[o][t]] / static_cast<double>(node);
      int64_t v = (burned(offer.contract) ? static_cast<int64_t>(std::ceil(nodes - 1e-6))
                                          : std::llround(nodes)) *
                  node;
      v = std::min(std::max(v, prev), cap);
      // Capacity cannot arrive where the program kept it out (lead time, exclusivity, ROFR).
      if (lp.col_hi_[add_col[o][t]] == 0) v = prev;
      plan.offers[o].installed.push_back(v);
      plan.offers[o].added.push_back(v - prev);
      prev = v;
    }
  }
  // Power built: the solver's, raised where rounding needs a little more, to whole kW.
  for (size_t s = 0; s < in.sites.size(); ++s) {
    const world::SiteIndex site = in.sites[s].site;
    int64_t prev_w = 0;
    for (int t = 0; t < T; ++t) {
      double need_kw = x[built_col[s][t]];
      if (!headroom_kw[site].empty()) {
        double used_kw = 0;
        for (int o = 0; o < O; ++o)
          if (in.offers[o].site == site)
            used_kw += plan.offers[o].installed[t] *
                       (MilliwattsPerGpu(w, in.offers[o].accelerator, site) / 1e6);
        need_kw = std::max(need_kw, used_kw - headroom_kw[site][t]);
      }
      int64_t watts = static_cast<int64_t>(std::ceil(std::max(0.0, need_kw) - 1e-6)) * 1000;
      watts = std::max(watts, prev_w);
      plan.sites[s].built.push_back(Power::Watts(watts));
      prev_w = watts;
    }
    const int64_t total_w = plan.sites[s].built.empty() ? 0 : plan.sites[s].built.back().watts();
    plan.sites[s].capex = Money::FromMicros(static_cast<int64_t>(
        (static_cast<__int128>(in.sites[s].capex_per_gw.micros()) * total_w + 500'000'000) /
        1'000'000'000));
  }

  // Re-price the rounded plan exactly.
  plan.demand.resize(in.demand.size());
  for (size_t k = 0; k < in.demand.size(); ++k) {
    plan.demand[k].id = in.demand[k].id;
    for (int t = 0; t < T; ++t) plan.demand[k].unmet_reference_gpus.push_back(x[unmet_col[k][t]]);
  }
  // On-demand use, whole GPUs per period.
  std::vector<std::vector<int64_t>> od_use(w.pools.size(), std::vector<int64_t>(T, 0));
  for (const Use& u : uses)
    if (u.pool >= 0 && w.pools[u.pool].pricing != world::PricingKind::kReserved)
      od_use[u.pool][u.period] += std::llround(x[u.col]);
  auto pool_od_raw = [&](size_t pi, Time a, Time b) {
    const world::Pool& pool = w.pools[pi];
    const int64_t disc =
        pool.contract == world::kNone ? 0 : w.contracts[pool.contract].discount_milli;
    const Raw price = static_cast<Raw>(pool.price_per_gpu_hour.micros()) * (1000 - disc);
    Raw raw = 0;  // thousandths of Raw
    for (int t = 0; t < T; ++t)
      raw +=
          od_use[pi][t] * price * OverlapSeconds(plan.periods[t].start, plan.periods[t].end, a, b);
    return raw / 1000;
  };
  auto offer_raw = [&](int o, Time a, Time b) {
    Raw raw = 0;
    for (int t = 0; t < T; ++t)
      raw += static_cast<Raw>(plan.offers[o].installed[t]) *
             in.offers[o].price_per_gpu_hour.micros() *
             OverlapSeconds(plan.periods[t].start, plan.periods[t].end, a, b);
    return raw;
  };
  Raw existing_total = 0, new_total = 0;
  for (size_t pi = 0; pi < w.pools.size(); ++pi) {
    const world::Pool& pool = w.pools[pi];
    if (pool.offer != world::kNone) continue;
    const auto [b0, b1] = billing_window(pool.contract);
    if (pool.pricing == world::PricingKind::kReserved)
      existing_total += ScheduleRaw(pool.gpus, pool.price_per_gpu_hour.micros(),
                                    std::max(in.from, b0), std::min(in.until, b1));
    else
      existing_total += pool_od_raw(pi, in.from, in.until);
  }
  for (int o = 0; o < O; ++o) {
    const auto [b0, b1] = billing_window(in.offers[o].contract);
    new_total += offer_raw(o, std::max(in.from, b0), std::min(in.until, b1));
  }
  plan.spend_existing = contracts::RawToMoney(existing_total);
  plan.spend_new = contracts::RawToMoney(new_total);

  plan.contracts.clear();
  for (size_t ci = 0; ci < w.contracts.size(); ++ci) {
    const world::Contract& c = w.contracts[ci];
    ContractPlan cp;
    cp.contract = static_cast<world::ContractIndex>(ci);
    const Time a = std::max(in.from, c.start), b = std::min(in.until, c.end);
    Raw existing = 0, planned = 0;
    for (size_t pi = 0; pi < w.pools.size(); ++pi) {
      const world::Pool& pool = w.pools[pi];
      if (pool.contract != cp.contract || pool.offer != world::kNone) continue;
      if (pool.pricing == world::PricingKind::kReserved)
        existing += ScheduleRaw(pool.gpus, pool.price_per_gpu_hour.micros(), a, b);
      else
        planned += pool_od_raw(pi, a, b);
    }
    for (int o = 0; o < O; ++o)
      if (in.offers[o].contract == cp.contract) planned += offer_raw(o, a, b);
    cp.existing_spend = contracts::RawToMoney(existing);
    cp.planned_spend = contracts::RawToMoney(planned);
    Money paid;
    for (const Obligation& ob : obligations) {
      if (ob.contract != cp.contract) continue;
      const Time oa = std::max(a, ob.from), obb = std::min(b, ob.until);
      Raw spend = 0;
      for (size_t pi = 0; pi < w.pools.size(); ++pi) {
        const world::Pool& pool = w.pools[pi];
        if (pool.contract != cp.contract || pool.offer != world::kNone) continue;
        spend += pool.pricing == world::PricingKind::kReserved
                     ? ScheduleRaw(pool.gpus, pool.price_per_gpu_hour.micros(), oa, obb)
                     : pool_od_raw(pi, oa, obb);
      }
      for (int o = 0; o < O; ++o)
        if (in.offers[o].contract == cp.contract) spend += offer_raw(o, oa, obb);
      ObligationPlan op;
      op.from = ob.from;
      op.until = ob.until;
      op.term = ob.term;
      op.required = contracts::RawToMoney(ob.required);
      op.spend = contracts::RawToMoney(spend);
      const Money counted = op.spend + (ob.term ? paid : Money());
      if (op.required > counted) op.shortfall = op.required - counted;
      if (!ob.term && c.take_or_pay) paid += op.shortfall;
      if (c.take_or_pay) cp.shortfall += op.shortfall;
      if (!c.take_or_pay && ob.term) cp.shortfall = op.shortfall;  // reported, not paid
      cp.obligations.push_back(op);
    }
    // Spend per calendar year, inside the horizon and the term.
    for (int year = YearOf(a); a < b; ++year) {
      const Time y0 = std::max(a, YearStart(year)), y1 = std::min(b, YearStart(year + 1));
      if (y1 <= y0) continue;
      Raw spend = 0;
      for (size_t pi = 0; pi < w.pools.size(); ++pi) {
        const world::Pool& pool = w.pools[pi];
        if (pool.contract != cp.contract || pool.offer != world::kNone) continue;
        spend += pool.pricing == world::PricingKind::kReserved
                     ? ScheduleRaw(pool.gpus, pool.price_per_gpu_hour.micros(), y0, y1)
                     : pool_od_raw(pi, y0, y1);
      }
      for (int o = 0; o < O; ++o)
        if (in.offers[o].contract == cp.contract) spend += offer_raw(o, y0, y1);
      cp.spend_by_year.push_back({year, contracts::RawToMoney(spend)});
      if (y1 == b) break;
    }
    if (c.take_or_pay) plan.shortfall += cp.shortfall;
    if (!cp.obligations.empty() || cp.existing_spend > Money() || cp.planned_spend > Money())
      plan.contracts.push_back(std::move(cp));
  }
  for (const SitePlan& s : plan.sites) plan.capex += s.capex;
  plan.total = plan.spend_existing + plan.spend_new + plan.shortfall + plan.capex;
  return plan;
}

}  // namespace polycloud::plan
