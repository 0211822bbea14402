// The plan as terminal tables, JSON and a scenario fragment.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "polycloud/base/parse.h"
#include "polycloud/plan/plan.h"

namespace polycloud::plan {
namespace {

std::string Mw(Power p) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(p.watts() / 1'000'000),
                static_cast<long long>(p.watts() % 1'000'000 / 1000));
  return buf;
}

// MW with six decimals, as the scenario writes them.
std::string MwExact(Power p) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lld.%06lld", static_cast<long long>(p.watts() / 1'000'000),
                static_cast<long long>(p.watts() % 1'000'000));
  return buf;
}

std::string Pad(const std::string& s, size_t width, bool right = true) {
  if (s.size() >= width) return s;
  return right ? std::string(width - s.size(), ' ') + s : s + std::string(width - s.size(), ' ');
}

const char* GoalName(Goal g) { return g == Goal::kDemand ? "demand" : "burn-commitments"; }

}  // namespace

std::string RenderPlanText(const world::World& w, const PlanningInputs& in, const Plan& plan) {
  std::ostringstream out;
  out << "Capacity plan  " << FormatTime(in.from) << " to " << FormatTime(in.until) << ", step "
      << FormatDuration(in.step) << ", goal " << GoalName(in.goal);
  if (!in.burn.empty()) {
    out << " (";
    for (size_t i = 0; i < in.burn.size(); ++i)
      out << (i ? ", " : "") << w.contracts[in.burn[i]].id;
    out << ")";
  }
  out << "\n";
  char line[256];
  std::snprintf(line, sizeof line,
                "solver %s: %s, %lld rows x %lld columns, solved in %.2f s; plan rounded to whole "
                "nodes and re-priced exactly\n\n",
                plan.solver.c_str(), plan.status.c_str(), static_cast<long long>(plan.rows),
                static_cast<long long>(plan.columns), plan.solve_seconds);
  out << line;

  // GPUs (and MW) to bring online, per period where anything changes.
  out << "To bring online (GPUs arriving at the period's start; MW: site power built, "
         "cumulative)\n";
  std::vector<std::string> headers = {"period"};
  for (const PlanOffer& o : in.offers)
    headers.push_back(o.id + " (" + w.providers[o.provider].id + ", " +
                      w.accelerators[o.accelerator].name + ")");
  for (const PlanSite& s : in.sites) headers.push_back(w.sites[s.site].id + " MW");
  std::vector<size_t> width;
  for (const std::string& h : headers) width.push_back(std::max<size_t>(h.size(), 10));
  width[0] = 10;
  for (size_t i = 0; i < headers.size(); ++i)
    out << Pad(headers[i], width[i], i == 0 ? false : true) << "  ";
  out << "\n";
  int shown = 0;
  for (size_t t = 0; t < plan.periods.size(); ++t) {
    bool any = false;
    for (const OfferPlan& o : plan.offers) any |= o.added[t] != 0;
    for (const SitePlan& s : plan.sites)
      any |= t == 0 ? s.built[t].watts() != 0 : s.built[t] != s.built[t - 1];
    if (!any) continue;
    ++shown;
    out << Pad(FormatTime(plan.periods[t].start), width[0], false) << "  ";
    size_t col = 1;
    for (const OfferPlan& o : plan.offers)
      out << Pad(std::to_string(o.added[t]), width[col++]) << "  ";
    for (const SitePlan& s : plan.sites) out << Pad(Mw(s.built[t]), width[col++]) << "  ";
    out << "\n";
  }
  if (shown == 0) out << "  (nothing: the fleet as it is meets the goal at least cost)\n";
  out << Pad("total", width[0], false) << "  ";
  size_t col = 1;
  for (const OfferPlan& o : plan.offers)
    out << Pad(std::to_string(o.installed.empty() ? 0 : o.installed.back()), width[col++]) << "  ";
  for (const SitePlan& s : plan.sites)
    out << Pad(s.built.empty() ? "0.000" : Mw(s.built.back()), width[col++]) << "  ";
  out << "\n\n";

  // Per provider: the average weekly rate over the periods capacity arrives.
  out << "Per provider: GPUs brought online, first and last arrival, average per week between\n";
  for (size_t p = 0; p < w.providers.size(); ++p) {
    int64_t total = 0;
    int first = -1, last = -1;
    for (size_t o = 0; o < in.offers.size(); ++o) {
      if (in.offers[o].provider != static_cast<world::ProviderIndex>(p)) continue;
      for (size_t t = 0; t < plan.periods.size(); ++t) {
        if (plan.offers[o].added[t] == 0) continue;
        total += plan.offers[o].added[t];
        if (first < 0 || static_cast<int>(t) < first) first = static_cast<int>(t);
        last = std::max(last, static_cast<int>(t));
      }
    }
    if (total == 0) continue;
    const double weeks =
        (plan.periods[last].end - plan.periods[first].start).seconds() / (7.0 * 86400);
    std::snprintf(line, sizeof line, "  %-12s %12lld GPUs  %s .. %s  %10.0f GPUs/week\n",
                  w.providers[p].id.c_str(), static_cast<long long>(total),
                  FormatTime(plan.periods[first].start).c_str(),
                  FormatTime(plan.periods[last].start).c_str(), total / weeks);
    out << line;
  }
  out << "\n";

  out << "Cost over the horizon by contract (exact; shortfall: take-or-pay, paid)\n";
  std::snprintf(line, sizeof line, "  %-18s %14s %14s %14s %14s\n", "contract", "required",
                "scenario pools", "plan", "shortfall");
  out << line;
  for (const ContractPlan& c : plan.contracts) {
    Money required;
    for (const ObligationPlan& o : c.obligations)
      if (o.term) required = o.required;
    std::string note = w.contracts[c.contract].take_or_pay ? "" : " (discount-only, not paid)";
    std::snprintf(line, sizeof line, "  %-18s %14s %14s %14s %14s%s\n",
                  w.contracts[c.contract].id.c_str(), FormatMoneyShort(required).c_str(),
                  FormatMoneyShort(c.existing_spend).c_str(),
                  FormatMoneyShort(c.planned_spend).c_str(), FormatMoneyShort(c.shortfall).c_str(),
                  note.c_str());
    out << line;
  }
  out << "\n";
  // Spend per calendar year (scenario pools + plan), per contract.
  int first_year = 0, last_year = 0;
  for (const ContractPlan& c : plan.contracts)
    for (const auto& y : c.spend_by_year) {
      if (first_year == 0 || y.year < first_year) first_year = y.year;
      last_year = std::max(last_year, y.year);
    }
  if (first_year != 0) {
    out << "Spend by year (scenario pools + plan)\n  " << Pad("contract", 18, false);
    for (int y = first_year; y <= last_year; ++y) out << " " << Pad(std::to_string(y), 9);
    out << "\n";
    for (const ContractPlan& c : plan.contracts) {
      out << "  " << Pad(w.contracts[c.contract].id, 18, false);
      for (int y = first_year; y <= last_year; ++y) {
        std::string cell = "-";
        for (const auto& e : c.spend_by_year)
          if (e.year == y) cell = FormatMoneyShort(e.spend);
        out << " " << Pad(cell, 9);
      }
      out << "\n";
    }
    out << "\n";
  }
  for (const SitePlan& s : plan.sites) {
    if (s.capex == Money()) continue;
    out << "  capex " << w.sites[s.site].id << ": " << FormatMoneyShort(s.capex) << " for "
        << Mw(s.built.back()) << " MW\n";
  }
  for (const DemandPlan& d : plan.demand) {
    double worst = 0;
    for (double u : d.unmet_reference_gpus) worst = std::max(worst, u);
    if (worst > 0.5) {
      std::snprintf(line, sizeof line, "  demand %s: up to %.0f reference GPUs unmet\n",
                    d.id.c_str(), worst);
      out << line;
    }
  }
  out << "Lifetime cost " << FormatMoneyShort(plan.total) << " = scenario pools "
      << FormatMoneyShort(plan.spend_existing) << " + plan capacity "
      << FormatMoneyShort(plan.spend_new) << " + take-or-pay shortfall "
      << FormatMoneyShort(plan.shortfall) << " + capex " << FormatMoneyShort(plan.capex) << "\n";
  return out.str();
}

std::string RenderPlanJson(const world::World& w, const PlanningInputs& in, const Plan& plan,
                           bool with_timing) {
  using nlohmann::ordered_json;
  ordered_json j;
  j["from"] = FormatTime(in.from);
  j["until"] = FormatTime(in.until);
  j["step_seconds"] = in.step.seconds();
  j["goal"] = GoalName(in.goal);
  j["burn"] = ordered_json::array();
  for (world::ContractIndex c : in.burn) j["burn"].push_back(w.contracts[c].id);
  j["solver"] = {{"name", plan.solver},
                 {"status", plan.status},
                 {"rows", plan.rows},
                 {"columns", plan.columns},
                 {"objective", plan.lp_objective}};
  if (with_timing) j["solver"]["solve_seconds"] = plan.solve_seconds;
  j["periods"] = ordered_json::array();
  for (const Period& p : plan.periods) j["periods"].push_back(FormatTime(p.start));
  j["offers"] = ordered_json::array();
  for (size_t o = 0; o < in.offers.size(); ++o) {
    const PlanOffer& offer = in.offers[o];
    j["offers"].push_back({{"id", offer.id},
                           {"pool", "plan-" + offer.id},
                           {"provider", w.providers[offer.provider].id},
                           {"site", w.sites[offer.site].id},
                           {"accelerator", w.accelerators[offer.accelerator].name},
                           {"added", plan.offers[o].added},
                           {"installed", plan.offers[o].installed}});
  }
  j["sites"] = ordered_json::array();
  for (const SitePlan& s : plan.sites) {
    std::vector<int64_t> watts;
    for (Power p : s.built) watts.push_back(p.watts());
    j["sites"].push_back({{"site", w.sites[s.site].id},
                          {"built_watts", watts},
                          {"capex_micros", s.capex.micros()},
                          {"capex", FormatMoneyExact(s.capex)}});
  }
  j["contracts"] = ordered_json::array();
  for (const ContractPlan& c : plan.contracts) {
    ordered_json cj = {{"contract", w.contracts[c.contract].id},
                       {"take_or_pay", w.contracts[c.contract].take_or_pay},
                       {"existing_spend", FormatMoneyExact(c.existing_spend)},
                       {"planned_spend", FormatMoneyExact(c.planned_spend)},
                       {"shortfall", FormatMoneyExact(c.shortfall)},
                       {"obligations", ordered_json::array()},
                       {"spend_by_year", ordered_json::array()}};
    for (const auto& y : c.spend_by_year)
      cj["spend_by_year"].push_back({{"year", y.year}, {"spend", FormatMoneyExact(y.spend)}});
    for (const ObligationPlan& o : c.obligations)
      cj["obligations"].push_back({{"from", FormatTime(o.from)},
                                   {"until", FormatTime(o.until)},
                                   {"term", o.term},
                                   {"required", FormatMoneyExact(o.required)},
                                   {"spend", FormatMoneyExact(o.spend)},
                                   {"shortfall", FormatMoneyExact(o.shortfall)}});
    j["contracts"].push_back(cj);
  }
  j["demand"] = ordered_json::array();
  for (const DemandPlan& d : plan.demand) {
    std::vector<int64_t> unmet;
    for (double u : d.unmet_reference_gpus) unmet.push_back(std::llround(u));
    j["demand"].push_back({{"id", d.id}, {"unmet_reference_gpus", unmet}});
  }
  j["cost"] = {{"scenario_pools", FormatMoneyExact(plan.spend_existing)},
               {"plan_capacity", FormatMoneyExact(plan.spend_new)},
               {"take_or_pay_shortfall", FormatMoneyExact(plan.shortfall)},
               {"capex", FormatMoneyExact(plan.capex)},
               {"total", FormatMoneyExact(plan.total)}};
  return j.dump(2) + "\n";
}

std::string WriteFragment(const world::World& w, const PlanningInputs& in, const Plan& plan) {
  std::ostringstream out;
  out << "# The capacity plan of `polycloud plan` for scenario \"" << w.name << "\" ("
      << FormatTime(in.from) << " to " << FormatTime(in.until) << "), as an overlay:\n"
      << "#   polycloud simulate SCENARIO --with THIS_FILE\n"
      << "# Lists of mappings merge by id (sites' power_mw is replaced: the scenario's\n"
      << "# schedule plus the power the plan builds); the plan's pools are new.\n";
  if (in.until > w.end) out << "end: " << FormatTime(in.until) << "\n";
  bool any_site = false;
  for (size_t s = 0; s < plan.sites.size(); ++s) {
    const SitePlan& sp = plan.sites[s];
    if (sp.built.empty() || sp.built.back().watts() == 0) continue;
    if (!any_site) out << "sites:\n";
    any_site = true;
    const world::Site& site = w.sites[sp.site];
    out << "  - id: " << site.id << "\n    power_mw:\n";
    // The union of the scenario's points and the plan's, each the sum in force then.
    std::vector<Time> at;
    for (const auto& p : site.power.points())
      if (p.at >= in.from) at.push_back(p.at);
    at.push_back(in.from);
    for (size_t t = 0; t < plan.periods.size(); ++t) at.push_back(plan.periods[t].start);
    std::sort(at.begin(), at.end());
    at.erase(std::unique(at.begin(), at.end()), at.end());
    Power last = Power::Watts(-1);
    for (Time t : at) {
      Power built;
      for (size_t k = 0; k < plan.periods.size(); ++k)
        if (plan.periods[k].start <= t) built = sp.built[k];
      const Power total = site.power.At(t) + built;
      if (total == last) continue;
      last = total;
      out << "      - {at: " << FormatTimeFull(t) << ", mw: " << MwExact(total) << "}\n";
    }
  }
  bool any_pool = false;
  for (size_t o = 0; o < in.offers.size(); ++o) {
    const OfferPlan& op = plan.offers[o];
    if (op.installed.empty() || op.installed.back() == 0) continue;
    if (!any_pool) out << "pools:\n";
    any_pool = true;
    const PlanOffer& offer = in.offers[o];
    out << "  - id: plan-" << offer.id << "\n"
        << "    site: " << w.sites[offer.site].id << "\n"
        << "    accelerator: " << w.accelerators[offer.accelerator].name << "\n"
        << "    pricing: reserved\n"
        << "    price_per_gpu_hour: " << FormatMoneyExact(offer.price_per_gpu_hour) << "\n"
        << "    gpus_per_node: " << offer.gpus_per_node << "\n"
        << "    domain_size: " << offer.domain_size << "\n"
        << "    max_gang: " << std::min(offer.max_gang, std::max<int64_t>(op.installed.back(), 1))
        << "\n";
    if (offer.contract != world::kNone)
      out << "    contract: " << w.contracts[offer.contract].id << "\n";
    out << "    gpus:\n";
    for (size_t t = 0; t < plan.periods.size(); ++t)
      if (op.added[t] != 0)
        out << "      - {at: " << FormatTimeFull(plan.periods[t].start)
            << ", gpus: " << op.installed[t] << "}\n";
  }
  if (!in.demand.empty()) {
    out << "services:\n";
    for (const PlanDemand& d : in.demand) {
      // One replica of 8 reference GPUs serves 8000 tokens/s: demand in tokens/s
      // is reference GPUs × 1000.
      out << "  - id: plan-" << d.id << "\n"
          << "    model: plan-" << d.id << "\n";
      if (!d.model_family.empty()) out << "    model_family: " << d.model_family << "\n";
      out << "    class: " << d.workload_class << "\n"
          << "    gpus_per_replica: 8\n"
          << "    replica_tokens_per_s: 8000\n";
      if (!d.accelerators.empty()) {
        out << "    accelerators: [";
        for (size_t i = 0; i < d.accelerators.size(); ++i)
          out << (i ? ", " : "") << w.accelerators[d.accelerators[i]].name;
        out << "]\n";
      }
      out << "    demand:\n";
      // The value in force at the start, then every later change.
      out << "      - {at: " << FormatTimeFull(w.start)
          << ", tokens_per_s: " << d.reference_gpus.At(w.start) * 1000 << "}\n";
      for (const auto& p : d.reference_gpus.points())
        if (p.at > w.start)
          out << "      - {at: " << FormatTimeFull(p.at) << ", tokens_per_s: " << p.value * 1000
              << "}\n";
    }
  }
  return out.str();
}

}  // namespace polycloud::plan
