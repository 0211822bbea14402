// Capacity planning (`polycloud plan`): which GPUs and how much site power to
// bring online, where and when, at least lifetime cost — spend, take-or-pay
// shortfall and capex — over a planning horizon.
//
// The inputs are the scenario's World (fleet, contracts, sites' power) and its
// `planning:` section (docs/scenario.md, "planning"): offers with their
// price, lead time, maximum GPUs and maximum ramp per week; sites' build rate
// and capex per GW; a horizon and a step; and a goal — meet a demand forecast
// per workload class, or burn chosen take-or-pay commitments.
//
// The model is a linear program solved with COIN-OR CLP (docs/contracts.md,
// "Capacity planning", states every constraint and rule). The solution is
// rounded to whole nodes and re-priced exactly in integer micro-dollars; the
// report's figures are those of the rounded plan, never the solver's doubles.
// `WriteFragment` writes the plan as a scenario overlay (pools with `gpus`
// schedules, sites' `power_mw`, services for the forecast demand), and
// `CheckPlan` overlays it on the scenario, simulates it to the horizon's end
// and compares the simulator's shortfall per contract with the prediction.
//
//   Result<PlanningInputs> in = ParsePlanning(text, "s.yaml", world);
//   Result<Plan> plan = SolvePlan(world, *in);
//   std::cout << RenderPlanText(world, *in, *plan);
//
// Thread-safety: functions are reentrant; nothing is shared.
#ifndef POLYCLOUD_PLAN_PLAN_H_
#define POLYCLOUD_PLAN_PLAN_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/base/units.h"
#include "polycloud/world/world.h"

namespace polycloud::plan {

// Capacity that can be brought online: GPUs of one type at one site, at a
// price per GPU-hour (reserved: every installed GPU-hour bills while its
// contract is in force), arriving no earlier than `lead_time` after the
// horizon's start, at most `max_ramp_per_week` GPUs a week, `max_gpus` in all.
struct PlanOffer {
  std::string id;  // the fragment's pool is "plan-<id>"
  world::SiteIndex site = world::kNone;
  world::ProviderIndex provider = world::kNone;
  world::AcceleratorIndex accelerator = world::kNone;
  Money price_per_gpu_hour;
  Duration lead_time;
  int64_t max_gpus = 0;
  int64_t max_ramp_per_week = 0;
  int64_t gpus_per_node = 8;
  int64_t domain_size = 8;
  int64_t max_gang = 0;  // 0: max_gpus
  world::ContractIndex contract = world::kNone;
};

// A site whose power the plan may grow: at most `build_per_week` more each
// week, up to `max_power` (when given), at `capex_per_gw` (0 when the
// provider builds it and its price covers the cost).
struct PlanSite {
  world::SiteIndex site = world::kNone;
  Power build_per_week;
  Money capex_per_gw;
  bool has_max_power = false;
  Power max_power;
};

// Forecast demand of one workload class: H100-equivalent GPUs busy over time
// (a GPU of speed v supplies v of them), on the allowed accelerators.
struct PlanDemand {
  std::string id;
  std::string workload_class;
  std::string model_family;
  std::vector<world::AcceleratorIndex> accelerators;  // empty: any
  world::StepSchedule<int64_t> reference_gpus;
};

enum class Goal { kDemand, kBurnCommitments };

struct PlanningInputs {
  Time from;   // the scenario's start
  Time until;  // horizon end (exclusive)
  Duration step = Duration::Days(7);
  Goal goal = Goal::kDemand;
  std::vector<world::ContractIndex> burn;  // kBurnCommitments: contracts to burn
  std::vector<PlanOffer> offers;
  std::vector<PlanSite> sites;
  std::vector<PlanDemand> demand;
  Money unmet_penalty_per_gpu_hour = Money::FromDollars(100);
  // Solve with CBC, GPUs added as whole nodes (integers), instead of CLP and
  // rounding; `max_solve_seconds` bounds CBC (the best plan found is kept).
  bool integer = false;
  int64_t max_solve_seconds = 60;
};

// Parses the `planning:` section of the scenario `text` (already loaded into
// `world` by io::LoadScenarioString) with the scenario's strictness: unknown
// keys, wrong types, dangling references and inconsistent values are all
// errors, each "file:line:column: ..." (kInvalidInput, every error on its
// own line). A scenario without a `planning:` section is an error too.
Result<PlanningInputs> ParsePlanning(std::string_view text, std::string_view file_name,
                                     const world::World& world);

// One period of the plan: [start, end).
struct Period {
  Time start;
  Time end;
};

struct OfferPlan {
  std::vector<int64_t> added;      // GPUs arriving at each period's start (whole nodes)
  std::vector<int64_t> installed;  // cumulative
};

struct SitePlan {
  world::SiteIndex site = world::kNone;
  std::vector<Power> built;  // cumulative power added by each period (the plan's build-out)
  Money capex;
};

// One obligation (a minimum or the term) of a take-or-pay or discount-only
// contract over the horizon, exact.
struct ObligationPlan {
  Time from, until;
  Money required;  // pro-rated like the ledger when it began before `from`
  Money spend;     // planned spend inside it (existing pools + plan)
  Money shortfall;
  bool term = false;
};

struct ContractPlan {
  world::ContractIndex contract = world::kNone;
  Money existing_spend;  // the scenario's pools over the horizon
  Money planned_spend;   // the plan's capacity and on-demand use
  Money shortfall;       // take-or-pay: paid; otherwise reported (not in the total)
  std::vector<ObligationPlan> obligations;
  // Spend (scenario pools + plan) per calendar year of the horizon.
  struct Year {
    int year = 0;
    Money spend;
  };
  std::vector<Year> spend_by_year;
};

struct DemandPlan {
  std::string id;
  std::vector<double> unmet_reference_gpus;  // per period, average (the LP's figure)
};

struct Plan {
  std::vector<Period> periods;
  std::vector<OfferPlan> offers;  // as PlanningInputs::offers
  std::vector<SitePlan> sites;    // as PlanningInputs::sites
  std::vector<ContractPlan> contracts;
  std::vector<DemandPlan> demand;
  Money spend_existing;     // every pool of the scenario over the horizon (on-demand: planned use)
  Money spend_new;          // the plan's capacity
  Money shortfall;          // take-or-pay shortfalls paid
  Money capex;              // power built at self-built sites
  Money total;              // spend_existing + spend_new + shortfall + capex
  double lp_objective = 0;  // the solver's objective (doubles, with the goal's weights)
  std::string solver;       // "clp" or "cbc"
  std::string status;       // "optimal", or why not
  int64_t rows = 0, columns = 0;
  double solve_seconds =
      0;  // wall clock of the solve only (not deterministic; not in JSON goldens)
};

// Builds and solves the program. Errors: kInvalidInput when the horizon is
// empty; kInternal when the solver fails (the message says how).
Result<Plan> SolvePlan(const world::World& world, const PlanningInputs& inputs);

// Terminal tables: GPUs (and MW) to bring online per offer/site per period
// (periods where nothing changes are left out), cost by contract, totals.
std::string RenderPlanText(const world::World& world, const PlanningInputs& inputs,
                           const Plan& plan);
// The same as JSON (docs/cli.md, "plan"); `with_timing` false leaves the
// solve time out so the bytes depend on the input only.
std::string RenderPlanJson(const world::World& world, const PlanningInputs& inputs,
                           const Plan& plan, bool with_timing = true);
// The plan as a scenario fragment (overlay form): `end` moved to the
// horizon's end when later, one reserved pool "plan-<offer>" per offer used,
// each built site's `power_mw`, one service per demand entry.
std::string WriteFragment(const world::World& world, const PlanningInputs& inputs,
                          const Plan& plan);

struct ContractCheck {
  world::ContractIndex contract = world::kNone;
  Money required;
  Money predicted_spend, simulated_spend;
  Money predicted_shortfall, simulated_shortfall;
};

struct CheckResult {
  std::vector<ContractCheck> contracts;
  Time simulated_until;
  double simulate_seconds = 0;
};

// Overlays the plan's fragment on the scenario `text`, loads it, simulates it
// to the fragment's end and settles every contract with a commitment.
Result<CheckResult> CheckPlan(std::string_view text, std::string_view file_name,
                              const world::World& world, const PlanningInputs& inputs,
                              const Plan& plan);
std::string RenderCheckText(const world::World& world, const CheckResult& check);

}  // namespace polycloud::plan

#endif  // POLYCLOUD_PLAN_PLAN_H_
