#include "polycloud/contracts/exclusivity.h"

#include <algorithm>

#include "polycloud/base/parse.h"

namespace polycloud::contracts {

ExclusivityRules::ExclusivityRules(const world::World& world) : world_(world) { Rebuild(); }

void ExclusivityRules::Rebuild() {
  clauses_.clear();
  for (size_t c = 0; c < world_.contracts.size(); ++c) {
    const auto& contract = world_.contracts[c];
    for (size_t i = 0; i < contract.exclusivity.size(); ++i) {
      clauses_.push_back({static_cast<world::ContractIndex>(c), static_cast<int32_t>(i),
                          contract.provider, &contract.exclusivity[i]});
    }
  }
}

ExclusivityVerdict ExclusivityRules::Check(std::string_view workload_class,
                                           std::string_view model_family,
                                           world::ProviderIndex provider, Time t,
                                           const std::vector<uint8_t>& provider_in_outage) const {
  ExclusivityVerdict result;
  for (const Clause& c : clauses_) {
    const world::ExclusivityClause& terms = *c.terms;
    if (t < terms.from || t >= terms.until) continue;
    if (terms.workload_class != "*" && terms.workload_class != workload_class) continue;
    if (!terms.model_family.empty() && terms.model_family != model_family) continue;
    if (provider == c.holder) continue;
    if (terms.outage_exception && c.holder >= 0 &&
        static_cast<size_t>(c.holder) < provider_in_outage.size() && provider_in_outage[c.holder]) {
      result.via_outage_exception = true;
      result.contract = c.contract;
      result.clause = c.index;
      result.holder = c.holder;
      continue;  // another clause may still forbid it
    }
    return {false, false, c.contract, c.index, c.holder};
  }
  return result;
}

std::vector<Time> ExclusivityRules::Boundaries() const {
  std::vector<Time> out;
  for (const Clause& c : clauses_) {
    if (c.terms->from != Time::Min()) out.push_back(c.terms->from);
    if (c.terms->until != Time::Max()) out.push_back(c.terms->until);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string ExclusivityRules::Describe(const ExclusivityVerdict& v,
                                       std::string_view workload_class) const {
  if (v.contract == world::kNone) return "no exclusivity clause applies";
  const world::Contract& c = world_.contracts[v.contract];
  const world::ExclusivityClause& terms = c.exclusivity[v.clause];
  std::string scope = terms.workload_class == "*" ? "all work" : std::string(workload_class);
  if (!terms.model_family.empty()) scope += " (model family " + terms.model_family + ")";
  std::string out = scope + " is exclusive to " + world_.providers[v.holder].id + " until " +
                    FormatTime(terms.until) + " (contract " + c.id + ")";
  if (v.via_outage_exception)
    out += "; allowed by the outage exception while " + world_.providers[v.holder].id + " is down";
  return out;
}

}  // namespace polycloud::contracts
