// Service reconciliation: each service's replicas follow its demand and its
// minimum presence, replicas lost to faults are replaced (at the same
// provider, or failing over), and served and short token-seconds are
// integrated for the report.
#include <algorithm>

#include "polycloud/scheduler/scheduler.h"

namespace polycloud::scheduler {

using world::JobIndex;
using world::PoolIndex;
using world::ServiceIndex;

void Scheduler::InitServiceState(ServiceIndex s, int64_t demand, Time now) {
  const world::Service& svc = service_spec(s);
  if (static_cast<size_t>(s) >= services_.size()) services_.resize(s + 1);
  ServiceState& st = services_[s];
  st.per_provider.assign(world_.providers.size(), 0);
  st.lost_pending.assign(world_.providers.size(), 0);
  st.integrated_to = now;
  st.demand = demand;
  int64_t slowest = std::numeric_limits<int64_t>::max();
  if (svc.accelerators.empty()) {
    for (const auto& a : world_.accelerators) slowest = std::min(slowest, a.speed_milli);
  } else {
    for (auto a : svc.accelerators) slowest = std::min(slowest, world_.accelerators[a].speed_milli);
  }
  st.min_replica_tokens = std::max<int64_t>(1, svc.replica_tokens_per_s * slowest / 1000);
  // Services are reconciled highest priority first, then in registry order.
  auto at = std::upper_bound(service_order_.begin(), service_order_.end(), s,
                             [&](ServiceIndex a, ServiceIndex b) {
                               return service_spec(a).priority > service_spec(b).priority;
                             });
  service_order_.insert(at, s);
}

bool Scheduler::StartReplica(ServiceIndex s, Time now) {
  const world::Service& svc = service_spec(s);
  ServiceState& st = services_[s];
  placement::Request req = ReplicaRequest(s);
  placement::Decision d = Decide(req, now, IsWatched(true, s));
  if (d.pool == world::kNone) return false;
  Record(true, s, d, now);
  if (d.needs_preemption) PreemptFor(d.pool, d.alloc_gpus, svc.priority, -1 - s, now);
  IntegrateService(s, now);
  const int64_t speed = world_.accelerators[world_.pools[d.pool].accelerator].speed_milli;
  Allocation replica;
  replica.is_service = true;
  replica.owner = s;
  replica.pool = d.pool;
  replica.gpus = d.alloc_gpus;
  replica.gang = svc.gpus_per_replica;
  replica.priority = svc.priority;
  replica.start = now;
  replica.tokens = svc.replica_tokens_per_s * speed / 1000;
  const int32_t id = NewAllocation(replica, now);
  st.replicas.push_back(id);
  st.CountPool(d.pool, 1);
  st.may_shrink = true;
  ++st.per_provider[world_.pools[d.pool].provider];
  st.capacity += allocs_[id].tokens;
  st.peak_replicas = std::max<int32_t>(st.peak_replicas, static_cast<int32_t>(st.replicas.size()));
  // A replacement for a replica lost at this provider is a recovery; one for a
  // replica lost elsewhere is a failover.
  int64_t replaces = 0;
  const world::ProviderIndex provider = world_.pools[d.pool].provider;
  if (st.lost_pending[provider] > 0) {
    --st.lost_pending[provider];
    ++st.replaced;
    replaces = 1;
  } else {
    for (int32_t& n : st.lost_pending) {
      if (n == 0) continue;
      --n;
      ++st.replaced;
      ++st.failovers;
      replaces = 2;
      break;
    }
  }
  Emit({now, EventType::kReplicaStarted, s, d.pool, d.alloc_gpus, allocs_[id].tokens, replaces});
  auto v = rules_.Check(svc.workload_class, svc.model_family, world_.pools[d.pool].provider, now,
                        fleet_.provider_in_outage());
  if (v.via_outage_exception)
    Emit({now, EventType::kExclusivityException, s, d.pool, d.alloc_gpus, 0, 1});
  return true;
}

void Scheduler::StopReplica(int32_t id, StopReason why, Time now) {
  const Allocation a = allocs_[id];
  const ServiceIndex s = a.owner;
  ServiceState& st = services_[s];
  IntegrateService(s, now);
  // Scale-down stops the newest replicas first: search from the back.
  st.replicas.erase(std::prev(std::find(st.replicas.rbegin(), st.replicas.rend(), id).base()));
  st.CountPool(a.pool, -1);
  st.may_shrink = true;
  --st.per_provider[world_.pools[a.pool].provider];
  st.capacity -= a.tokens;
  FreeAllocation(id, now);
  if (why == StopReason::kScaledDown) {
    Emit({now, EventType::kReplicaStopped, s, a.pool, a.gpus, a.tokens, 0});
  } else {
    ++st.lost_pending[world_.pools[a.pool].provider];
    ++st.replicas_lost;
    Emit({now, EventType::kReplicaLost, s, a.pool, a.gpus, a.tokens, 0});
    // A fault takes replicas one by one; the service is judged after all of them.
    if (std::find(shortness_pending_.begin(), shortness_pending_.end(), s) ==
        shortness_pending_.end()) {
      shortness_pending_.push_back(s);
    }
    return;
  }
  UpdateShortness(s, now);
}

void Scheduler::IntegrateService(ServiceIndex s, Time now) {
  ServiceState& st = services_[s];
  const int64_t dt = (now - st.integrated_to).seconds();
  if (dt <= 0) return;
  st.served_token_seconds += std::min(st.capacity, st.demand) * dt;
  st.demand_token_seconds += st.demand * dt;
  if (st.capacity < st.demand) st.short_seconds += dt;
  st.integrated_to = now;
}

void Scheduler::UpdateShortness(ServiceIndex s, Time now) {
  ServiceState& st = services_[s];
  const bool short_now = st.capacity < st.demand;
  if (short_now == st.short_now) return;
  st.short_now = short_now;
  Emit({now, short_now ? EventType::kServiceShort : EventType::kServiceRecovered, s, world::kNone,
        0, st.demand, st.capacity});
}

void Scheduler::ServiceDemandChanged(ServiceIndex s, int64_t demand, Time now) {
  IntegrateService(s, now);
  services_[s].demand = demand;
  services_[s].failed_generation = ~0ULL;  // worth trying again
  services_[s].may_shrink = true;
}

void Scheduler::ReconcileService(ServiceIndex s, Time now) {
  const world::Service& svc = service_spec(s);
  ServiceState& st = services_[s];
  auto wanted_more = [&] {
    return st.capacity < st.demand || static_cast<int32_t>(st.replicas.size()) < svc.min_providers;
  };
  if (wanted_more() && st.failed_generation != generation_) {
    while (wanted_more()) {
      if (!StartReplica(s, now)) {
        st.failed_generation = generation_;
        break;
      }
    }
  }
  // Once demand is met, nothing lost is waiting to be replaced any more: later
  // growth is growth, not failover.
  if (!wanted_more()) std::fill(st.lost_pending.begin(), st.lost_pending.end(), 0);
  // Scale down while the rest still meets demand and presence.
  // Only worth a look when demand fell or replicas changed, and when the
  // surplus is at least one replica.
  if (!st.may_shrink || st.capacity - st.demand < st.min_replica_tokens) {
    UpdateShortness(s, now);
    return;
  }
  st.may_shrink = false;
  // Newest first; with the rebalance on, dearest first (ScaleDownOrder).
  std::vector<int32_t> order;
  ScaleDownOrder(s, now, &order);
  for (int32_t id : order) {
    if (st.capacity - st.demand < st.min_replica_tokens) break;
    if (static_cast<int32_t>(st.replicas.size()) <= svc.min_providers) break;
    const Allocation& a = allocs_[id];
    if (st.capacity - a.tokens < st.demand) continue;
    const world::ProviderIndex p = world_.pools[a.pool].provider;
    int32_t present = 0;
    for (int32_t n : st.per_provider) present += n > 0;
    if (st.per_provider[p] == 1 && present <= svc.min_providers) continue;
    StopReplica(id, StopReason::kScaledDown, now);
  }
  UpdateShortness(s, now);
}

}  // namespace polycloud::scheduler
