#include "polycloud/placement/fleet_state.h"

#include <algorithm>
#include <atomic>

#include "polycloud/base/status.h"

namespace polycloud::placement {
namespace {

std::atomic<uint64_t> next_serial{1};

}  // namespace

FleetState::FleetState(const world::World& world, Time start, NodePolicy nodes, uint64_t seed)
    : world_(world),
      pools_(world.pools.size()),
      sites_(world.sites.size()),
      provider_outage_(world.providers.size(), 0),
      provider_outage_count_(world.providers.size(), 0),
      serial_(next_serial.fetch_add(1, std::memory_order_relaxed)),
      node_policy_(nodes),
      rng_(Rng::Fork(seed, "nodes")) {
  info_.resize(pools_.size());
  for (size_t p = 0; p < pools_.size(); ++p) {
    pools_[p].integrated_to = start;
    pools_[p].max_gang = world::EffectiveMaxGang(world.pools[p]);
    const world::Pool& pool = world.pools[p];
    PoolInfo& info = info_[p];
    info.provider = pool.provider;
    info.site = pool.site;
    info.accelerator = pool.accelerator;
    info.gpus_per_node = static_cast<int32_t>(pool.gpus_per_node);
    info.gpu_sharing = pool.gpu_sharing;
    info.cpu_milli_per_node = pool.cpu_milli_per_node;
    info.memory_mib_per_node = pool.memory_mib_per_node;
    info.plain_nodes =
        !pool.gpu_sharing && pool.cpu_milli_per_node == 0 && pool.memory_mib_per_node == 0;
    info.speed_milli = world.accelerators[pool.accelerator].speed_milli;
    // The same product PowerOf used to take in two steps, so power rounds alike.
    info.power_per_gpu_milli =
        world.accelerators[pool.accelerator].watts.watts() * world.sites[pool.site].pue_milli;
    info.idle_per_gpu_milli =
        world.accelerators[pool.accelerator].idle_watts.watts() * world.sites[pool.site].pue_milli;
  }
  for (size_t s = 0; s < sites_.size(); ++s) {
    sites_[s].limited = world.sites[s].power_limited;
    sites_[s].capacity = world.sites[s].power.At(start);
  }
  logged_free_.assign(pools_.size(), 0);
  if (has_nodes()) {
    nodes_.reserve(pools_.size());
    for (size_t p = 0; p < pools_.size(); ++p) {
      const world::Pool& pool = world.pools[p];
      nodes_.emplace_back(info_[p].gpus_per_node, pool.cpu_milli_per_node, pool.memory_mib_per_node,
                          pool.gpu_sharing);
    }
  }
}

const std::vector<int32_t>& FleetState::NodesOf(int32_t handle) const {
  static const std::vector<int32_t> kNoNodes;
  return handle < 0 ? kNoNodes : placed_[handle].nodes;
}

NodeShape FleetState::NodeShapeOf(world::PoolIndex p, int64_t gpus, const Shape& shape) const {
  const int64_t node = info_[p].gpus_per_node;
  const int64_t spans = gpus > node ? (gpus + node - 1) / node : 1;
  NodeShape s;
  s.gpus = gpus;
  s.milli = gpus == 1 ? shape.gpu_milli : 0;
  s.cpu_milli = (shape.cpu_milli + spans - 1) / spans;
  s.memory_mib = (shape.memory_mib + spans - 1) / spans;
  return s;
}

bool FleetState::OnOvercommittedNode(world::PoolIndex p, int32_t handle) const {
  if (!has_nodes()) return true;
  for (int32_t n : NodesOf(handle)) {
    if (nodes_[p].overcommitted(n)) return true;
  }
  return false;
}

void FleetState::Reindex(world::PoolIndex p) {
  const int64_t free = has_nodes() ? nodes_[p].Placeable() : pools_[p].free();
  pools_[p].placeable = free;
  if (free == logged_free_[p]) return;
  logged_free_[p] = free;
  if (changes_.size() >= std::max<size_t>(4096, 2 * pools_.size())) {
    changes_.clear();
    ++change_epoch_;
  }
  changes_.push_back(p);
}

void FleetState::Integrate(world::PoolIndex p, Time now) {
  PoolState& s = pools_[p];
  const int64_t dt = (now - s.integrated_to).seconds();
  if (dt <= 0) return;
  s.used_gpu_seconds += s.used * dt;
  s.capacity_gpu_seconds += s.capacity * dt;
  s.installed_gpu_seconds += s.installed * dt;
  if (s.contract_in_force) s.contracted_gpu_seconds += s.installed * dt;
  s.integrated_to = now;
}

void FleetState::IntegrateAll(Time now) {
  for (size_t p = 0; p < pools_.size(); ++p) Integrate(static_cast<world::PoolIndex>(p), now);
}

int32_t FleetState::Bind(world::PoolIndex p, int64_t gpus, Time now, int64_t request,
                         const Shape& shape) {
  Integrate(p, now);
  int32_t handle = -1;
  if (has_nodes()) {
    const bool shaped = !info_[p].plain_nodes;
    const NodeShape ns = NodeShapeOf(p, gpus, shape);
    mix_.NoteMilli(shaped && ns.share() ? ns.milli : 1000 * (request > 0 ? request : gpus));
    const int64_t before = nodes_[p].used_total();
    if (shaped) {
      nodes_[p].Take(ns, node_policy_, rng_, mix_, &last_pick_);
      gpus = nodes_[p].used_total() - before;  // GPUs it started using
    } else {
      nodes_[p].Take(gpus, node_policy_, rng_, mix_, &last_pick_);
    }
    if (free_handles_.empty()) {
      handle = static_cast<int32_t>(placed_.size());
      placed_.emplace_back();
    } else {
      handle = free_handles_.back();
      free_handles_.pop_back();
    }
    Held& held = placed_[handle];
    held.nodes = last_pick_.nodes;
    held.shaped = shaped;
    held.shape = ns;
    held.gpu = last_pick_.gpu;
  }
  pools_[p].used += gpus;
  Reindex(p);
  SiteState& site = sites_[info_[p].site];
  site.used += PowerOf(p, gpus);
  site.peak = std::max(site.peak, site.used);
  Bill(p, now);
  return handle;
}

void FleetState::Release(world::PoolIndex p, int64_t gpus, int32_t handle, Time now) {
  Integrate(p, now);
  if (handle >= 0) {
    Held& held = placed_[handle];
    if (held.shaped) {
      const int64_t before = nodes_[p].used_total();
      nodes_[p].Give(held.nodes, held.shape, held.gpu);
      gpus = before - nodes_[p].used_total();  // GPUs no longer used at all
    } else {
      nodes_[p].Give(held.nodes, gpus);
    }
    held.nodes.clear();
    held.shaped = false;
    free_handles_.push_back(handle);
  }
  POLYCLOUD_CHECK(pools_[p].used >= gpus);
  pools_[p].used -= gpus;
  Reindex(p);
  sites_[info_[p].site].used -= PowerOf(p, gpus);
  Bill(p, now);
}

void FleetState::Recompute(world::PoolIndex p) {
  PoolState& s = pools_[p];
  if (s.down() || !s.contract_in_force) {
    s.capacity = 0;
  } else {
    const int64_t cut = std::min<int64_t>(s.cut_milli, 1000);
    s.capacity = s.installed - MulDivRound(s.installed, cut, 1000);
  }
  if (has_nodes()) {
    const bool ranked = ranker_ != nullptr && s.used > 0 && s.capacity < nodes_[p].capacity();
    if (ranked) ranker_->RankNodes(p, &rank_scratch_);
    nodes_[p].SetCapacity(s.capacity, ranked ? &rank_scratch_ : nullptr);
  }
  Reindex(p);
}

void FleetState::SetInstalled(world::PoolIndex p, int64_t gpus, Time now) {
  Integrate(p, now);
  // Installed GPUs draw idle power whether used or not.
  SiteState& site = sites_[info_[p].site];
  site.used += IdlePowerOf(p, gpus) - IdlePowerOf(p, pools_[p].installed);
  site.peak = std::max(site.peak, site.used);
  pools_[p].installed = gpus;
  Recompute(p);
  Bill(p, now);
}

void FleetState::AddCut(world::PoolIndex p, int64_t delta_milli, Time now) {
  Integrate(p, now);
  pools_[p].cut_milli += delta_milli;
  Recompute(p);
}

void FleetState::AddOutage(world::PoolIndex p, int32_t delta, Time now) {
  Integrate(p, now);
  pools_[p].outages += delta;
  Recompute(p);
}

void FleetState::SetContractInForce(world::PoolIndex p, bool in_force, Time now) {
  Integrate(p, now);
  pools_[p].contract_in_force = in_force;
  Recompute(p);
  Bill(p, now);
}

int64_t FleetState::Billable(world::PoolIndex p) const {
  const world::Pool& pool = world_.pools[p];
  const PoolState& s = pools_[p];
  if (pool.offer != world::kNone) return 0;
  if (pool.pricing == world::PricingKind::kReserved) return s.contract_in_force ? s.installed : 0;
  return s.used;
}

void FleetState::AttachLedger(contracts::CommitmentLedger* ledger, Time now) {
  ledger_ = ledger;
  for (size_t p = 0; p < pools_.size(); ++p) Bill(static_cast<world::PoolIndex>(p), now);
}

void FleetState::SetSitePower(world::SiteIndex s, Power capacity) { sites_[s].capacity = capacity; }

void FleetState::AddProviderOutage(world::ProviderIndex p, int32_t delta) {
  provider_outage_count_[p] += delta;
  provider_outage_[p] = provider_outage_count_[p] > 0 ? 1 : 0;
}

}  // namespace polycloud::placement
