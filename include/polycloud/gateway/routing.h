// RoutingTable: which deployment serves a request, contract rules first.
//
// For a key (workload class, model family) and a model, every deployment of
// that model is a candidate. The scenario's exclusivity clauses
// (contracts::ExclusivityRules, with their dates and outage exception, the
// outage being a provider- or site-level outage fault of the scenario in force
// now) decide which candidates are admissible; a forbidden one is never used,
// whatever else fails. Among the admissible ones, those ejected by passive
// health, cooling down after a 429's Retry-After, or at their concurrency
// limit are passed over; the rest are ordered by the key's service's policy
// (config.h, RoutePolicy): fewest requests outstanding then cheapest (the
// default), lowest recent latency, or cheapest; ties in config order.
//
// Passive health: a deployment is ejected after `eject_after_failures`
// consecutive failures (connection error, timeout, 5xx, 429) for `eject_for`;
// then it is half-open: one probe request is let through, and its outcome
// closes (healthy again) or re-opens (ejected again) the circuit.
//
//   RoutingTable table(config, world, clock);
//   RoutePlan plan = table.Plan(key, "gpt-4o");
//   for (int32_t d : plan.order) {
//     if (!table.Acquire(d)) continue;           // filled up since the plan
//     Outcome o = Call(d);
//     table.Release(d, o.ok ? Attempt::kSuccess : Attempt::kFailure, o.retry_after);
//     if (o.ok) break;
//   }
//
// Thread-safety: all methods are thread-safe.
#ifndef POLYCLOUD_GATEWAY_ROUTING_H_
#define POLYCLOUD_GATEWAY_ROUTING_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/base/clock.h"
#include "polycloud/contracts/exclusivity.h"
#include "polycloud/gateway/config.h"
#include "polycloud/world/world.h"

namespace polycloud::gateway {

// One deployment considered for a request, and what was decided about it.
struct Candidate {
  int32_t deployment = -1;  // index into GatewayConfig::deployments
  bool admissible = false;  // the contracts allow it
  bool available = false;   // admissible, healthy, not cooling down, under its limit
  bool via_outage_exception = false;
  int64_t outstanding = 0;
  int64_t latency_us = -1;  // recent upstream latency (mean, weighted to the recent); -1: none yet
  std::string verdict;  // for people: "forbidden: stateless-api is exclusive to azure until ..."
  std::string rule;     // the x-polycloud-rule header if this one serves
};

struct RoutePlan {
  std::vector<Candidate> candidates;  // every deployment of the model, in config order
  std::vector<int32_t> order;         // available deployments, best first
  // Set when `order` is empty and candidates exist: why none may serve.
  // contract_refusal: every candidate is forbidden by a clause (the message
  // names it); otherwise the admissible ones are all unavailable.
  bool contract_refusal = false;
  std::string refusal;
  std::optional<int64_t> retry_after_s;  // when cooling down/ejection ends, for Retry-After
  RoutePolicy policy = RoutePolicy::kLeastOutstanding;  // how `order` was sorted
};

enum class Attempt { kSuccess, kFailure, kNeutral };  // neutral: e.g. the client's own 4xx

class RoutingTable {
 public:
  // `config`, `world` and `clock` must outlive the table.
  RoutingTable(const GatewayConfig& config, const world::World& world, const Clock& clock);

  RoutePlan Plan(const ApiKey& key, std::string_view model) const;

  // Takes a slot of deployment `d` (a request in flight). False when `d` is
  // at its concurrency limit, ejected, cooling down, or half-open with its
  // probe already in flight.
  bool Acquire(int32_t d);
  // Gives the slot back with the attempt's outcome. `retry_after`: the
  // upstream's Retry-After on a 429/503; `d` is skipped until then.
  void Release(int32_t d, Attempt outcome, std::optional<Duration> retry_after = std::nullopt);

  // A measured upstream latency of `d` (to the answer's headers): folded into
  // its recent mean (weight 1/5 to the newest), which the latency policy reads.
  void ObserveLatency(int32_t d, std::chrono::nanoseconds latency);
  int64_t latency_us(int32_t d) const;  // -1 before the first observation

  // Requests in flight at `d`; whether it is ejected now (for tests and metrics).
  int64_t outstanding(int32_t d) const;
  bool ejected(int32_t d) const;
  int64_t ejections() const;

  bool HasModel(std::string_view model) const;
  // The distinct models, in config order.
  std::vector<std::string> Models() const;

 private:
  struct Health {
    int64_t outstanding = 0;
    int32_t consecutive_failures = 0;
    Time ejected_until = Time::Min();  // > now: ejected
    bool ejected = false;              // once ejected, until a probe succeeds
    bool probe_in_flight = false;
    Time cooling_until = Time::Min();  // after a Retry-After
    int64_t latency_us = -1;           // recent mean latency; -1: not measured yet
  };
  std::vector<uint8_t> ProvidersInOutage(Time now) const;
  // Why `d` cannot take a request now ("" when it can). Under mu_.
  std::string Unavailable(int32_t d, Time now) const;

  const GatewayConfig& config_;
  const world::World& world_;
  const Clock& clock_;
  contracts::ExclusivityRules rules_;
  mutable std::mutex mu_;
  std::vector<Health> health_;
  int64_t ejections_ = 0;
};

}  // namespace polycloud::gateway

#endif  // POLYCLOUD_GATEWAY_ROUTING_H_
