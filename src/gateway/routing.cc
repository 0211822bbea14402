#include "polycloud/gateway/routing.h"

#include <algorithm>

#include "polycloud/base/parse.h"

namespace polycloud::gateway {

RoutingTable::RoutingTable(const GatewayConfig& config, const world::World& world,
                           const Clock& clock)
    : config_(config),
      world_(world),
      clock_(clock),
      rules_(world),
      health_(config.deployments.size()) {}

std::vector<uint8_t> RoutingTable::ProvidersInOutage(Time now) const {
  // A declared outage: an outage fault of the scenario in force now, on the
  // provider or on one of its sites (as the simulator counts them).
  std::vector<uint8_t> out(world_.providers.size(), 0);
  for (const world::Fault& f : world_.faults) {
    if (f.kind != world::FaultKind::kOutage || now < f.start || now >= f.end) continue;
    if (f.target_kind == world::FaultTargetKind::kProvider) {
      out[f.target] = 1;
    } else if (f.target_kind == world::FaultTargetKind::kSite) {
      out[world_.sites[f.target].provider] = 1;
    }
  }
  return out;
}

std::string RoutingTable::Unavailable(int32_t d, Time now) const {
  const Health& h = health_[d];
  const Deployment& dep = config_.deployments[d];
  if (h.ejected && now < h.ejected_until) {
    return "ejected after " + std::to_string(h.consecutive_failures) +
           " consecutive failures, until " + FormatTimeFull(h.ejected_until);
  }
  if (h.ejected && h.probe_in_flight) return "half-open: a probe request is in flight";
  if (now < h.cooling_until) {
    return "asked to retry after " + FormatTimeFull(h.cooling_until) + " (Retry-After)";
  }
  if (dep.max_concurrent > 0 && h.outstanding >= dep.max_concurrent) {
    return "at capacity: " + std::to_string(h.outstanding) + " of " +
           std::to_string(dep.max_concurrent) + " concurrent requests in flight";
  }
  return "";
}

RoutePlan RoutingTable::Plan(const ApiKey& key, std::string_view model) const {
  const Time now = clock_.Now();
  const std::vector<uint8_t> outage = ProvidersInOutage(now);
  RoutePlan plan;
  std::string forbidding;  // the first clause that forbade a candidate
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < config_.deployments.size(); ++i) {
    const Deployment& dep = config_.deployments[i];
    if (dep.model != model) continue;
    Candidate c;
    c.deployment = static_cast<int32_t>(i);
    c.outstanding = health_[i].outstanding;
    c.latency_us = health_[i].latency_us;
    const contracts::ExclusivityVerdict v =
        rules_.Check(key.workload_class, key.model_family, dep.provider, now, outage);
    c.admissible = v.allowed;
    c.via_outage_exception = v.via_outage_exception;
    if (!v.allowed) {
      c.verdict = "forbidden: " + rules_.Describe(v, key.workload_class);
      if (forbidding.empty()) forbidding = rules_.Describe(v, key.workload_class);
    } else if (std::string why = Unavailable(c.deployment, now); !why.empty()) {
      c.verdict = "unavailable: " + why;
      const Health& h = health_[i];
      const Time until = std::max(h.ejected ? h.ejected_until : Time::Min(), h.cooling_until);
      if (until > now) {
        const int64_t wait = (until - now).seconds();
        plan.retry_after_s = plan.retry_after_s ? std::min(*plan.retry_after_s, wait) : wait;
      }
    } else {
      c.available = true;
      c.verdict =
          v.via_outage_exception ? "allowed: " + rules_.Describe(v, key.workload_class) : "allowed";
    }
    if (v.via_outage_exception) {
      c.rule = "outage exception: " + rules_.Describe(v, key.workload_class);
    }
    plan.candidates.push_back(std::move(c));
  }
  for (Candidate& c : plan.candidates) {
    if (!c.rule.empty()) continue;
    c.rule = forbidding.empty() ? "no exclusivity clause applies" : "exclusivity: " + forbidding;
  }
  plan.policy = config_.routing.PolicyFor(key.service);
  const char* order_text = "";
  switch (plan.policy) {
    case RoutePolicy::kLeastOutstanding:
      order_text = "; least outstanding requests, then cheapest";
      break;
    case RoutePolicy::kLatency:
      order_text = "; lowest recent latency, then least outstanding requests, then cheapest";
      break;
    case RoutePolicy::kCheapest:
      order_text = "; cheapest, then least outstanding requests";
      break;
  }
  for (Candidate& c : plan.candidates) c.rule += order_text;
  for (const Candidate& c : plan.candidates) {
    if (c.available) plan.order.push_back(c.deployment);
  }
  auto price = [&](int32_t d) {
    const Deployment& dep = config_.deployments[d];
    return dep.input_per_million.micros() + dep.output_per_million.micros();
  };
  auto by_outstanding_then_price = [&](int32_t a, int32_t b) {
    if (health_[a].outstanding != health_[b].outstanding) {
      return health_[a].outstanding < health_[b].outstanding;
    }
    return price(a) < price(b);
  };
  std::stable_sort(plan.order.begin(), plan.order.end(), [&](int32_t a, int32_t b) {
    switch (plan.policy) {
      case RoutePolicy::kLatency:
        // Unmeasured (-1) first, so every deployment gets measured.
        if (health_[a].latency_us != health_[b].latency_us) {
          return health_[a].latency_us < health_[b].latency_us;
        }
        return by_outstanding_then_price(a, b);
      case RoutePolicy::kCheapest:
        if (price(a) != price(b)) return price(a) < price(b);
        return health_[a].outstanding < health_[b].outstanding;
      case RoutePolicy::kLeastOutstanding:
        break;
    }
    return by_outstanding_then_price(a, b);
  });
  if (plan.order.empty() && !plan.candidates.empty()) {
    const bool any_admissible = std::any_of(plan.candidates.begin(), plan.candidates.end(),
                                            [](const Candidate& c) { return c.admissible; });
    plan.contract_refusal = !any_admissible;
    if (!any_admissible) {
      plan.refusal = "no deployment of " + std::string(model) + " may serve workload class " +
                     key.workload_class + ": " + forbidding;
    } else {
      plan.refusal =
          "every deployment of " + std::string(model) + " the contracts allow is unavailable:";
      for (const Candidate& c : plan.candidates) {
        plan.refusal += " " + config_.deployments[c.deployment].id + " (" + c.verdict + ");";
      }
      plan.refusal.pop_back();
    }
  }
  return plan;
}

bool RoutingTable::Acquire(int32_t d) {
  const Time now = clock_.Now();
  std::lock_guard<std::mutex> lock(mu_);
  if (!Unavailable(d, now).empty()) return false;
  Health& h = health_[d];
  if (h.ejected) h.probe_in_flight = true;  // half-open: this request is the probe
  ++h.outstanding;
  return true;
}

void RoutingTable::Release(int32_t d, Attempt outcome, std::optional<Duration> retry_after) {
  const Time now = clock_.Now();
  std::lock_guard<std::mutex> lock(mu_);
  Health& h = health_[d];
  --h.outstanding;
  const bool was_probe = h.ejected && h.probe_in_flight;
  if (was_probe) h.probe_in_flight = false;
  if (retry_after && retry_after->seconds() > 0) h.cooling_until = now + *retry_after;
  switch (outcome) {
    case Attempt::kSuccess:
      h.consecutive_failures = 0;
      h.ejected = false;
      break;
    case Attempt::kFailure:
      ++h.consecutive_failures;
      if (was_probe ||
          (!h.ejected && h.consecutive_failures >= config_.routing.eject_after_failures)) {
        if (!h.ejected) ++ejections_;
        h.ejected = true;
        h.ejected_until = now + config_.routing.eject_for;
      }
      break;
    case Attempt::kNeutral:
      if (was_probe) h.ejected = false;  // it answered: it is up
      break;
  }
}

void RoutingTable::ObserveLatency(int32_t d, std::chrono::nanoseconds latency) {
  const int64_t us = std::max<int64_t>(0, latency.count() / 1000);
  std::lock_guard<std::mutex> lock(mu_);
  int64_t& mean = health_[d].latency_us;
  mean = mean < 0 ? us : (4 * mean + us) / 5;
}

int64_t RoutingTable::latency_us(int32_t d) const {
  std::lock_guard<std::mutex> lock(mu_);
  return health_[d].latency_us;
}

int64_t RoutingTable::outstanding(int32_t d) const {
  std::lock_guard<std::mutex> lock(mu_);
  return health_[d].outstanding;
}

bool RoutingTable::ejected(int32_t d) const {
  std::lock_guard<std::mutex> lock(mu_);
  return health_[d].ejected;
}

int64_t RoutingTable::ejections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ejections_;
}

bool RoutingTable::HasModel(std::string_view model) const {
  return std::any_of(config_.deployments.begin(), config_.deployments.end(),
                     [&](const Deployment& d) { return d.model == model; });
}

std::vector<std::string> RoutingTable::Models() const {
  std::vector<std::string> out;
  for (const Deployment& d : config_.deployments) {
    if (std::find(out.begin(), out.end(), d.model) == out.end()) out.push_back(d.model);
  }
  return out;
}

}  // namespace polycloud::gateway
