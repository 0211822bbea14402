// Rebalance (Options::rebalance): service replicas placed on capacity that
// costs at the margin — after a failover, or because prepaid capacity was
// full — return to cheaper capacity (prepaid, reserved, procured, or a
// cheaper pay-as-you-go pool) once it has room.
//
// At the first pass at least `every` after the last one, after the job queue
// has had its pick: for each service, highest priority first, its replicas
// that have run at least `min_dwell` where they are and cost anything at the
// margin are taken dearest first. For each, the placer chooses where one more
// replica of the service would go now, with the moving replica not counted at
// its provider, without preempting anything; the move is made only when the
// saving over `horizon` — (the old pool's marginal price × its GPUs − the new
// pool's × its GPUs) × horizon, from the ledger, in exact micro-dollars — is
// at least `min_saving`, the new replica serves at least as many tokens/s, and
// the service stays present at `min_providers` providers. The new replica
// starts before the old one stops (make-before-break, at the same instant):
// the destination's room is checked by the placer's capacity and power
// filters with the old replica still running, so no pool ever holds more than
// its capacity. At most `max_moves` moves per rebalance. The core reads no
// clock: a rebalance happens at a pass, which the simulator and the live
// broker both drive with commands, so it is the same in both and replays
// identically from the command log.
#include <algorithm>
#include <utility>
#include <vector>

#include "polycloud/scheduler/scheduler.h"

namespace polycloud::scheduler {

using world::PoolIndex;
using world::ServiceIndex;

namespace {

// Price of `gpus` GPUs for `horizon` at `per_gpu_hour`, exactly (rounded once).
Money CostOver(Money per_gpu_hour, int64_t gpus, Duration horizon) {
  const __int128 micros = static_cast<__int128>(per_gpu_hour.micros()) * gpus * horizon.seconds();
  const __int128 q = micros / 3600, r = micros % 3600;
  return Money::FromMicros(static_cast<int64_t>(q + (2 * r >= 3600 ? 1 : 0)));
}

}  // namespace

void Scheduler::Rebalance(Time now) {
  const RebalanceOptions& o = options_.rebalance;
  int32_t budget = o.max_moves;
  placement::Context ctx = MakeContext(now);
  ctx.preemption = nullptr;  // a move never preempts
  // Marginal prices per GPU-hour, read once per pool and rebalance.
  std::vector<int64_t> price(world_.pools.size(), -1);
  auto price_of = [&](PoolIndex p) {
    if (price[p] < 0)
      price[p] = ledger_.MarginalPricePerGpuHour(p, now, options_.cost_model).micros();
    return Money::FromMicros(price[p]);
  };
  struct Candidate {
    Money cost_per_hour;  // marginal, of the whole replica
    Money price;          // per GPU-hour
    Time start;
    int32_t id;
  };
  std::vector<Candidate> candidates;
  std::vector<int32_t> per_provider;
  for (ServiceIndex s : service_order_) {
    if (budget <= 0) return;
    if (service_cancelled_[s]) continue;
    const world::Service& svc = service_spec(s);
    ServiceState& st = services_[s];
    // Only a service with replicas on capacity that costs at the margin has
    // anything to move (read from its few pools, not its replicas).
    bool paid = false;
    for (const auto& [pool, n] : st.pools) paid = paid || price_of(pool) > Money();
    if (!paid) continue;
    // Where one more replica would go now: nowhere means nothing can move,
    // and only replicas dearer than that pool are worth a look.
    placement::Request probe = ReplicaRequest(s);
    ++attempts_;
    const placement::Decision best = placer_.Place(ctx, probe, nullptr);
    if (best.pool == world::kNone) continue;
    const Money floor = price_of(best.pool);
    candidates.clear();
    for (const auto& [pool, n] : st.pools) {
      if (price_of(pool) <= floor) continue;
      for (int32_t id : allocs_.InPool(pool)) {
        const Allocation& a = allocs_[id];
        if (!a.is_service || a.owner != s || now - a.start < o.min_dwell) continue;
        candidates.push_back(
            {Money::FromMicros(price_of(pool).micros() * a.gpus), price_of(pool), a.start, id});
      }
    }
    // Dearest first; among equals the newest first.
    std::sort(candidates.begin(), candidates.end(), [](const Candidate& x, const Candidate& y) {
      if (x.cost_per_hour != y.cost_per_hour) return x.cost_per_hour > y.cost_per_hour;
      if (x.start != y.start) return x.start > y.start;
      return x.id > y.id;
    });
    for (const Candidate& c : candidates) {
      if (budget <= 0) return;
      const Allocation a = allocs_[c.id];
      const world::ProviderIndex from = world_.pools[a.pool].provider;
      per_provider = st.per_provider;
      --per_provider[from];
      placement::Request req = ReplicaRequest(s);
      req.replicas_per_provider = &per_provider;
      ++attempts_;
      const placement::Decision d = placer_.Place(ctx, req, nullptr);
      // Nowhere with room, or nowhere better than where it is: the replicas
      // left are cheaper still, so none of them would move either.
      if (d.pool == world::kNone || d.pool == a.pool) break;
      const Money price_to = price_of(d.pool);
      const Money saving =
          CostOver(c.price, a.gpus, o.horizon) - CostOver(price_to, d.alloc_gpus, o.horizon);
      if (saving < o.min_saving) break;
      const int64_t speed = world_.accelerators[world_.pools[d.pool].accelerator].speed_milli;
      if (svc.replica_tokens_per_s * speed / 1000 < a.tokens) continue;  // would serve less
      // Presence: leaving the last replica at a provider must keep the
      // service at min_providers providers.
      const world::ProviderIndex to = world_.pools[d.pool].provider;
      if (to != from && per_provider[from] == 0) {
        int32_t present = 0;
        for (int32_t n : per_provider) present += n > 0;
        if (per_provider[to] == 0) ++present;
        if (present < svc.min_providers) continue;
      }
      MoveReplica(s, c.id, d, c.price, price_to, saving, now);
      --budget;
    }
  }
}

void Scheduler::MoveReplica(ServiceIndex s, int32_t id, const placement::Decision& d,
                            Money price_from, Money price_to, Money saving, Time now) {
  const world::Service& svc = service_spec(s);
  ServiceState& st = services_[s];
  const Allocation old = allocs_[id];
  IntegrateService(s, now);
  // Make: the new replica starts first.
  Allocation replica = old;
  replica.pool = d.pool;
  replica.gpus = d.alloc_gpus;
  replica.start = now;
  replica.placed = -1;
  replica.slot = -1;
  replica.tokens = svc.replica_tokens_per_s *
                   world_.accelerators[world_.pools[d.pool].accelerator].speed_milli / 1000;
  Record(true, s, d, now);
  const int32_t moved = NewAllocation(replica, now);
  st.replicas.push_back(moved);
  st.CountPool(d.pool, 1);
  ++st.per_provider[world_.pools[d.pool].provider];
  st.capacity += allocs_[moved].tokens;
  Emit({now, EventType::kReplicaStarted, s, d.pool, d.alloc_gpus, allocs_[moved].tokens, 3});
  auto v = rules_.Check(svc.workload_class, svc.model_family, world_.pools[d.pool].provider, now,
                        fleet_.provider_in_outage());
  if (v.via_outage_exception)
    Emit({now, EventType::kExclusivityException, s, d.pool, d.alloc_gpus, 0, 1});
  // Break: then the old one stops.
  st.replicas.erase(std::find(st.replicas.begin(), st.replicas.end(), id));
  st.CountPool(old.pool, -1);
  --st.per_provider[world_.pools[old.pool].provider];
  st.capacity -= old.tokens;
  FreeAllocation(id, now);
  Emit({now, EventType::kReplicaStopped, s, old.pool, old.gpus, old.tokens, 1});
  st.may_shrink = true;
  Emit({now, EventType::kReplicaMoved, s, d.pool, d.alloc_gpus, saving.micros(), old.pool});
  moves_.push_back(
      Move{now, s, old.pool, d.pool, old.gpus, d.alloc_gpus, price_from, price_to, saving});
  UpdateShortness(s, now);
}

void Scheduler::ScaleDownOrder(ServiceIndex s, Time now, std::vector<int32_t>* order) const {
  const ServiceState& st = services_[s];
  order->assign(st.replicas.rbegin(), st.replicas.rend());  // newest first
  const bool by_cost =
      options_.rebalance.enabled && options_.cost_model == contracts::CostModel::kContractAware;
  if (!by_cost || order->size() < 2) return;
  // Dearest first by the marginal price of the replica's GPUs per token/s,
  // newest first among equals. A service's replicas sit in a few pools: key
  // the pools (compared as exact cross products), sort them, then lay the
  // replicas out pool by pool in one counting pass.
  struct Group {
    PoolIndex pool;
    __int128 cost;   // µ$ per hour of one replica here
    int64_t tokens;  // of one replica here
    int32_t count = 0, first = 0;
  };
  std::vector<Group> groups;
  std::vector<int32_t> group_of(order->size());
  for (size_t i = 0; i < order->size(); ++i) {
    const Allocation& a = allocs_[(*order)[i]];
    size_t g = 0;
    while (g < groups.size() && (groups[g].pool != a.pool || groups[g].tokens != a.tokens)) ++g;
    if (g == groups.size()) {
      const Money price = ledger_.MarginalPricePerGpuHour(a.pool, now, options_.cost_model);
      groups.push_back(
          {a.pool, static_cast<__int128>(price.micros()) * a.gpus, std::max<int64_t>(1, a.tokens)});
    }
    ++groups[g].count;
    group_of[i] = static_cast<int32_t>(g);
  }
  if (groups.size() < 2) return;
  std::vector<int32_t> rank(groups.size());
  for (size_t g = 0; g < rank.size(); ++g) rank[g] = static_cast<int32_t>(g);
  std::stable_sort(rank.begin(), rank.end(), [&](int32_t x, int32_t y) {
    return groups[x].cost * groups[y].tokens > groups[y].cost * groups[x].tokens;
  });
  int32_t at = 0;
  for (int32_t g : rank) {
    groups[g].first = at;
    at += groups[g].count;
  }
  std::vector<int32_t> sorted(order->size());
  for (size_t i = 0; i < order->size(); ++i) sorted[groups[group_of[i]].first++] = (*order)[i];
  order->swap(sorted);
}

}  // namespace polycloud::scheduler
