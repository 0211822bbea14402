// ExclusivityRules: which providers may run a workload of a given class and
// model family at a given instant, under every exclusivity clause of every
// contract in the world.
//
// A clause of a contract with provider H scoped to class C (or "*" for all
// classes) and optionally to a model family holds for from <= t < until. While
// it holds, a matching workload may run only at H — unless the clause has the
// outage exception and H has a declared outage (a provider- or site-level
// outage fault in force), in which case others may serve and the verdict says
// so, so each such use can be recorded.
//
//   contracts::ExclusivityRules rules(world);
//   auto v = rules.Check("stateless-api", "gpt", aws, now, provider_in_outage);
//   if (!v.allowed) ... v.contract, v.clause say which term forbade it.
//
// Thread-safety: immutable after construction.
#ifndef POLYCLOUD_CONTRACTS_EXCLUSIVITY_H_
#define POLYCLOUD_CONTRACTS_EXCLUSIVITY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/world/world.h"

namespace polycloud::contracts {

struct ExclusivityVerdict {
  bool allowed = true;
  bool via_outage_exception = false;             // allowed only because the holder is in outage
  world::ContractIndex contract = world::kNone;  // the clause that decided, when one did
  int32_t clause = -1;
  world::ProviderIndex holder = world::kNone;
};

class ExclusivityRules {
 public:
  explicit ExclusivityRules(const world::World& world);

  // `provider_in_outage[p]` != 0 when provider p has a declared outage now.
  ExclusivityVerdict Check(std::string_view workload_class, std::string_view model_family,
                           world::ProviderIndex provider, Time t,
                           const std::vector<uint8_t>& provider_in_outage) const;

  // Instants at which some clause starts or stops holding (for the simulator).
  std::vector<Time> Boundaries() const;

  // "stateless-api is exclusive to azure until 2032-01-01 (contract azure-2025)".
  std::string Describe(const ExclusivityVerdict& v, std::string_view workload_class) const;

  bool empty() const { return clauses_.empty(); }

  // Reads the World's clauses again (after a contract was amended).
  void Rebuild();

 private:
  struct Clause {
    world::ContractIndex contract;
    int32_t index;
    world::ProviderIndex holder;
    const world::ExclusivityClause* terms;
  };
  const world::World& world_;
  std::vector<Clause> clauses_;
};

}  // namespace polycloud::contracts

#endif  // POLYCLOUD_CONTRACTS_EXCLUSIVITY_H_
