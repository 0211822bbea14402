// The built-in filters' and scorers' predicates: one small function each,
// which decides alone what the filter or scorer says about a pool. Everything
// that evaluates a built-in filter or scorer calls these:
//   - the placer, inline (Placer::FirstFailingFilter and Score), for the fast
//     path, the explained full scan and Placer::Admits (the scheduler's
//     batch re-optimiser checks the starts it plans through it);
//   - the Filter and Scorer classes of pipeline.cc, whose Check and Raw are
//     these functions (for callers outside the placer) and whose Describe
//     only turns a failing verdict into text, when an explanation is asked.
// A verdict is the few integers its reason needs (pipeline.h, Verdict); no
// predicate allocates.
//
//   const Verdict v = CheckCapacity(ctx, req, pool);
//   if (!v.pass) ...  // v.a GPUs needed, v.b free
//
// Private to src/placement. Thread-safety: pure functions of their arguments.
#ifndef POLYCLOUD_PLACEMENT_FILTERS_H_
#define POLYCLOUD_PLACEMENT_FILTERS_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "polycloud/base/units.h"
#include "polycloud/placement/pipeline.h"

namespace polycloud::placement {

// True when `req` allows accelerator `a` (no list, or an empty one, allows any).
inline bool AllowsAccelerator(const Request& req, world::AcceleratorIndex a) {
  return req.accelerators == nullptr || req.accelerators->empty() ||
         std::find(req.accelerators->begin(), req.accelerators->end(), a) !=
             req.accelerators->end();
}

// Filters, in the placer's order. A failing verdict's numbers:

// accelerator: fails with a = the pool's accelerator.
inline Verdict CheckAccelerator(const Context& ctx, const Request& req, world::PoolIndex p) {
  const world::AcceleratorIndex a = ctx.fleet.info(p).accelerator;
  return AllowsAccelerator(req, a) ? Verdict::Pass() : Verdict::Fail(a);
}

// fault: fails with a = the outages in force on the pool.
inline Verdict CheckFault(const Context& ctx, const Request&, world::PoolIndex p) {
  const PoolState& s = ctx.fleet.pool(p);
  return s.down() ? Verdict::Fail(s.outages) : Verdict::Pass();
}

// contract: fails (no numbers) outside the pool's contract term.
inline Verdict CheckContract(const Context& ctx, const Request&, world::PoolIndex p) {
  return ctx.fleet.pool(p).contract_in_force ? Verdict::Pass() : Verdict::Fail();
}

// fabric: the pool's shape cannot hold the request. Fails with a = the gang,
// b = the largest gang the fabric allows; for a request with a share, CPU or
// memory (Request::shaped) also with a = kNoSharing (a share, in a pool
// without GPU sharing), kCpuPerNode or kMemoryPerNode (b = what one node
// has; the request needs more on a node than that).
inline constexpr int64_t kNoSharing = -1, kCpuPerNode = -2, kMemoryPerNode = -3;
inline Verdict CheckShape(const Context& ctx, const Request& req, world::PoolIndex p) {
  const PoolInfo& info = ctx.fleet.info(p);
  if (req.gpu_milli > 0 && !info.gpu_sharing) return Verdict::Fail(kNoSharing);
  const int64_t spans =
      req.gpus > info.gpus_per_node ? (req.gpus + info.gpus_per_node - 1) / info.gpus_per_node : 1;
  if (info.cpu_milli_per_node > 0 && (req.cpu_milli + spans - 1) / spans > info.cpu_milli_per_node)
    return Verdict::Fail(kCpuPerNode, info.cpu_milli_per_node);
  if (info.memory_mib_per_node > 0 &&
      (req.memory_mib + spans - 1) / spans > info.memory_mib_per_node)
    return Verdict::Fail(kMemoryPerNode, info.memory_mib_per_node);
  return Verdict::Pass();
}
inline Verdict CheckFabric(const Context& ctx, const Request& req, world::PoolIndex p) {
  const int64_t max_gang = ctx.fleet.pool(p).max_gang;
  if (req.gpus > max_gang) return Verdict::Fail(req.gpus, max_gang);
  return req.shaped() ? CheckShape(ctx, req, p) : Verdict::Pass();
}

// exclusivity: fails with a = the contract, b = the clause that forbids the
// workload at the pool's provider now.
inline Verdict CheckExclusivity(const Context& ctx, const Request& req, world::PoolIndex p) {
  if (ctx.rules.empty()) return Verdict::Pass();
  const auto v = ctx.rules.Check(req.workload_class, req.model_family, ctx.fleet.info(p).provider,
                                 ctx.now, ctx.fleet.provider_in_outage());
  return v.allowed ? Verdict::Pass() : Verdict::Fail(v.contract, v.clause);
}

// provider-spread: a service present at fewer providers than it must be fails
// at a provider where it already runs, with a = providers it is at, b = the
// providers it must be at.
inline Verdict CheckProviderSpread(const Context& ctx, const Request& req, world::PoolIndex p) {
  if (req.replicas_per_provider == nullptr || req.min_providers <= 1) return Verdict::Pass();
  const std::vector<int32_t>& per = *req.replicas_per_provider;
  int64_t present = 0;
  for (int32_t n : per) present += n > 0;
  if (present >= req.min_providers) return Verdict::Pass();
  return per[ctx.fleet.info(p).provider] > 0 ? Verdict::Fail(present, req.min_providers)
                                             : Verdict::Pass();
}

// reservation: a pool held for a waiting job of higher priority fails with
// a = the holder's priority, b = the request's.
inline Verdict CheckReservation(const Context& ctx, const Request& req, world::PoolIndex p) {
  if (ctx.reserved_for_priority == nullptr) return Verdict::Pass();
  const int32_t holder = (*ctx.reserved_for_priority)[p];
  return holder != kNoReservation && req.priority < holder ? Verdict::Fail(holder, req.priority)
                                                           : Verdict::Pass();
}

// capacity: short (a resource failure) with a = the GPUs the gang takes after
// rounding to whole nodes, b = the largest allocation that fits (the pool's
// free GPUs; with nodes, its whole free nodes' GPUs or one node's most free).
//
// A request with a share, CPU or memory in a pool with sharing or CPU and
// memory per node (with nodes) is then checked on the nodes
// (FleetState::Fits): a share short has a = its milli, b = the pool's
// ShareRoom; whole GPUs that no node holds with the CPU and memory have
// a = the GPUs, b = placeable (a <= b). The one comparison above stays the
// whole path for every other request.
inline Verdict CheckCapacity(const Context& ctx, const Request& req, world::PoolIndex p) {
  const int64_t need = ctx.fleet.AllocationSize(p, req.gpus);
  const int64_t free = ctx.fleet.pool(p).placeable;
  if (!req.shaped() || !ctx.fleet.has_nodes() || ctx.fleet.info(p).plain_nodes) {
    return need > free ? Verdict::Short(need, free) : Verdict::Pass();
  }
  const FleetState::Shape shape{req.gpu_milli, req.cpu_milli, req.memory_mib};
  if (ctx.fleet.Fits(p, need, shape)) return Verdict::Pass();
  if (req.gpu_milli > 0 && need == 1) return Verdict::Short(req.gpu_milli, ctx.fleet.ShareRoom(p));
  return Verdict::Short(need, free);
}

// power: at a power-limited site, short with a = the watts the allocation
// draws, b = the site's headroom in watts.
inline Verdict CheckPower(const Context& ctx, const Request& req, world::PoolIndex p) {
  const SiteState& site = ctx.fleet.site(ctx.fleet.info(p).site);
  if (!site.limited) return Verdict::Pass();
  const Power need = ctx.fleet.PowerOf(p, ctx.fleet.AllocationSize(p, req.gpus));
  return need > site.headroom() ? Verdict::Short(need.watts(), site.headroom().watts())
                                : Verdict::Pass();
}

// Scorers' raw measures (normalised by the placer against their ranges):

// marginal-cost: µ$ per reference GPU-hour of one more GPU-hour here, from the
// ledger when the context has one, from list prices otherwise.
inline int64_t MarginalCostRaw(const Context& ctx, const Request&, world::PoolIndex p) {
  const int64_t speed = ctx.world.accelerators[ctx.world.pools[p].accelerator].speed_milli;
  const Money price = ctx.ledger != nullptr
                          ? ctx.ledger->MarginalPricePerGpuHour(p, ctx.now, ctx.cost_model)
                          : MarginalPricePerGpuHour(ctx.world, p);
  return MulDivRound(price.micros(), 1000, speed);
}

// speed: the pool's accelerator speed, in thousandths of an H100.
inline int64_t SpeedRaw(const Context& ctx, const Request&, world::PoolIndex p) {
  return ctx.fleet.info(p).speed_milli;
}

// diversity: the service's replicas at the pool's provider (0 for a job).
inline int64_t DiversityRaw(const Context& ctx, const Request& req, world::PoolIndex p) {
  return req.replicas_per_provider == nullptr
             ? 0
             : (*req.replicas_per_provider)[ctx.fleet.info(p).provider];
}

// fragmentation: GPUs the pool would leave free (best fit: leave large holes
// elsewhere for large gangs).
inline int64_t FragmentationRaw(const Context& ctx, const Request& req, world::PoolIndex p) {
  return std::max<int64_t>(0, ctx.fleet.pool(p).placeable - ctx.fleet.AllocationSize(p, req.gpus));
}

// consolidation: nodes the gang would span, ceil(gpus / gpus_per_node).
inline int64_t ConsolidationRaw(const Context& ctx, const Request& req, world::PoolIndex p) {
  const int64_t per_node = std::max<int64_t>(1, ctx.fleet.info(p).gpus_per_node);
  return (req.gpus + per_node - 1) / per_node;
}

}  // namespace polycloud::placement

#endif  // POLYCLOUD_PLACEMENT_FILTERS_H_
