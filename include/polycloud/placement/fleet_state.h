// FleetState: what the fleet looks like right now — each pool's usable
// capacity and GPUs in use, each site's power in use against its limit, which
// providers have a declared outage — plus exact integrals of use over time
// for the ledger and the report.
//
// Capacity is kept incrementally: the scheduler calls Bind/Release on every
// allocation and the setters when a ramp, fault or contract boundary changes
// a pool, so a placement decision reads free GPUs in O(1). Not thread-safe;
// one owner (the scheduler) mutates it.
#ifndef POLYCLOUD_PLACEMENT_FLEET_STATE_H_
#define POLYCLOUD_PLACEMENT_FLEET_STATE_H_

#include <cstdint>
#include <vector>

#include "polycloud/contracts/ledger.h"
#include "polycloud/placement/nodes.h"
#include "polycloud/world/world.h"

namespace polycloud::placement {

struct PoolState {
  int64_t installed = 0;  // GPUs installed now (the ramp)
  int64_t capacity = 0;   // usable now: installed, less faults, 0 outside the contract
  int64_t used = 0;       // GPUs allocated
  int64_t cut_milli = 0;  // capacity removed by capacity_cut faults (thousandths, capped at 1000)
  int32_t outages = 0;    // outage faults in force on this pool (directly or via site/provider)
  bool contract_in_force = true;
  int64_t max_gang = 0;  // largest gang the fabric allows (world::EffectiveMaxGang)
  // The largest allocation that fits now (an allocation of n GPUs fits iff
  // n <= placeable): free() when the pool is one bag of GPUs; with nodes,
  // whole free nodes × GPUs per node, or the most free GPUs of one node.
  int64_t placeable = 0;
  // Integrals, in GPU-seconds, up to `integrated_to`.
  int64_t used_gpu_seconds = 0;
  int64_t capacity_gpu_seconds = 0;
  int64_t installed_gpu_seconds = 0;
  int64_t contracted_gpu_seconds = 0;  // installed while the contract is in force (reserved fees)
  Time integrated_to;

  bool down() const { return outages > 0; }
  int64_t free() const { return capacity > used ? capacity - used : 0; }
};

// Tells FleetState which nodes' work matters most when a pool shrinks
// (implemented by the scheduler, which knows the allocations).
class NodeRanker {
 public:
  virtual ~NodeRanker() = default;
  // Per node of pool `p`: a rank, higher = keep longer (0 for no work).
  virtual void RankNodes(world::PoolIndex p, std::vector<int64_t>* rank) const = 0;
};

struct SiteState {
  Power capacity;  // facility power limit now
  Power used;      // power drawn: installed GPUs at idle, allocated ones at board power (× PUE)
  Power peak;      // highest `used` seen
  bool limited = false;
  int32_t outages = 0;
  Power headroom() const { return capacity > used ? capacity - used : Power(); }
};

// What placement reads about a pool on every decision, packed in one small
// record (world::Pool is large and cold).
struct PoolInfo {
  world::ProviderIndex provider = world::kNone;
  world::SiteIndex site = world::kNone;
  world::AcceleratorIndex accelerator = world::kNone;
  int32_t gpus_per_node = 8;
  bool plain_nodes = true;  // no GPU sharing, CPU or memory per node (PoolNodes::plain)
  bool gpu_sharing = false;
  int64_t cpu_milli_per_node = 0;  // 0: not modelled
  int64_t memory_mib_per_node = 0;
  int64_t speed_milli = 1000;
  int64_t power_per_gpu_milli =
      0;  // board watts × site PUE in thousandths (= mW of facility power)
  int64_t idle_per_gpu_milli = 0;  // idle watts × site PUE in thousandths
};

// What a request asks beyond whole GPUs (placement::Request): a share of
// one GPU, and CPU and memory in all (spread evenly over its nodes).
struct AllocationShape {
  int32_t gpu_milli = 0;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  bool empty() const { return gpu_milli == 0 && cpu_milli == 0 && memory_mib == 0; }
};

class FleetState {
 public:
  // `nodes`: how a pool's GPUs are chosen — kPooled keeps each pool one bag of
  // GPUs (no nodes); the others place every allocation on nodes (nodes.h),
  // `seed` feeding the random policy.
  FleetState(const world::World& world, Time start, NodePolicy nodes = NodePolicy::kPooled,
             uint64_t seed = 1);

  const world::World& world() const { return world_; }
  const PoolState& pool(world::PoolIndex p) const { return pools_[p]; }
  const PoolInfo& info(world::PoolIndex p) const { return info_[p]; }
  const SiteState& site(world::SiteIndex s) const { return sites_[s]; }
  const std::vector<uint8_t>& provider_in_outage() const { return provider_outage_; }

  // GPUs an allocation of a gang of `gpus` takes in pool `p`: a gang larger than a
  // node takes whole nodes; a smaller one shares a node.
  int64_t AllocationSize(world::PoolIndex p, int64_t gpus) const {
    const int64_t node = info_[p].gpus_per_node;
    return gpus <= node ? gpus : (gpus + node - 1) / node * node;
  }
  // Facility power that allocating `gpus` installed GPUs in pool `p` adds:
  // (board − idle power) × site PUE, since an installed GPU already draws idle.
  Power PowerOf(world::PoolIndex p, int64_t gpus) const {
    return Power::Watts(
        MulDivRound(gpus, info_[p].power_per_gpu_milli - info_[p].idle_per_gpu_milli, 1000));
  }
  // Facility power of `gpus` GPUs of pool `p` at full board power (× PUE).
  Power FullPowerOf(world::PoolIndex p, int64_t gpus) const {
    return Power::Watts(MulDivRound(gpus, info_[p].power_per_gpu_milli, 1000));
  }
  // Facility power `gpus` installed GPUs of pool `p` draw idle (× PUE).
  Power IdlePowerOf(world::PoolIndex p, int64_t gpus) const {
    return Power::Watts(MulDivRound(gpus, info_[p].idle_per_gpu_milli, 1000));
  }

  using Shape = AllocationShape;
  // The shape on each node of an allocation of `gpus` in pool `p`.
  NodeShape NodeShapeOf(world::PoolIndex p, int64_t gpus, const Shape& shape) const;
  // True when an allocation of `gpus` with `shape` fits pool `p` now: `gpus`
  // <= placeable for whole GPUs without CPU or memory (one comparison); on a
  // pool with sharing or CPU and memory, PoolNodes::Fits (a share needs
  // sharing; a share, CPU and memory are not modelled without nodes).
  bool Fits(world::PoolIndex p, int64_t gpus, const Shape& shape) const {
    if (shape.empty() || !has_nodes()) return gpus <= pools_[p].placeable;
    if (info_[p].plain_nodes) return shape.gpu_milli == 0 && gpus <= pools_[p].placeable;
    return nodes_[p].Fits(NodeShapeOf(p, gpus, shape));
  }
  // The largest share one GPU of pool `p` can take now (PoolNodes::ShareRoom;
  // 0 without sharing or nodes).
  int64_t ShareRoom(world::PoolIndex p) const { return has_nodes() ? nodes_[p].ShareRoom() : 0; }

  // Allocates `gpus` (an AllocationSize; at most placeable) in pool `p` for a
  // request of `request` GPUs, on the node(s) the node policy picks; returns
  // the placement's handle for Release (-1 without nodes). With a `shape` on a
  // pool with sharing or CPU and memory (Fits), the allocation takes them
  // too; the pool's GPUs in use then grow by the GPUs it starts using (0 for
  // a share on a GPU already shared). Without nodes a share takes a whole GPU.
  int32_t Bind(world::PoolIndex p, int64_t gpus, Time now, int64_t request = 0,
               const Shape& shape = {});
  void Release(world::PoolIndex p, int64_t gpus, int32_t handle, Time now);
  // Milli-GPUs allocated in pool `p` (shares counted as taken; 1000 per whole GPU).
  int64_t UsedMilli(world::PoolIndex p) const {
    return has_nodes() && !info_[p].plain_nodes ? nodes_[p].used_milli() : pools_[p].used * 1000;
  }

  NodePolicy node_policy() const { return node_policy_; }
  // Who ranks nodes when a pool shrinks (null: emptiest nodes go first).
  void SetNodeRanker(const NodeRanker* ranker) { ranker_ = ranker; }
  bool has_nodes() const { return node_policy_ != NodePolicy::kPooled; }
  const PoolNodes& nodes(world::PoolIndex p) const { return nodes_[p]; }
  // The nodes a placement holds (empty without nodes).
  const std::vector<int32_t>& NodesOf(int32_t handle) const;
  // What a placement takes on each of its nodes in a pool with sharing or
  // CPU and memory (its NodeShape; for a share, ShareGpuOf is its GPU on
  // NodesOf(handle)[0]); null for a placement of whole GPUs only.
  const NodeShape* ShapeOf(int32_t handle) const {
    return handle >= 0 && placed_[handle].shaped ? &placed_[handle].shape : nullptr;
  }
  int32_t ShareGpuOf(int32_t handle) const { return handle >= 0 ? placed_[handle].gpu : -1; }
  // Free GPUs of pool `p` that the recent mix of requests could not use
  // where they sit (fragmentation; 0 without nodes).
  int64_t StrandedGpus(world::PoolIndex p) const {
    return has_nodes() ? nodes_[p].Stranded(mix_) : 0;
  }
  // What the last Bind chose and why (explain).
  const NodePick& last_pick() const { return last_pick_; }
  // True when pool `p` holds more work than it can run: used > capacity, or,
  // with nodes, work on a node that shrank or went away. The scheduler then
  // evicts work that OnOvercommittedNode until it is false.
  bool Overcommitted(world::PoolIndex p) const {
    return has_nodes() ? nodes_[p].overcommitted_nodes() > 0 : pools_[p].used > pools_[p].capacity;
  }
  bool OnOvercommittedNode(world::PoolIndex p, int32_t handle) const;

  // Updates the pool's installed GPUs, cut, outage count or contract flag and
  // recomputes its capacity. The caller evicts work if used > capacity.
  void SetInstalled(world::PoolIndex p, int64_t gpus, Time now);
  void AddCut(world::PoolIndex p, int64_t delta_milli, Time now);
  void AddOutage(world::PoolIndex p, int32_t delta, Time now);
  void SetContractInForce(world::PoolIndex p, bool in_force, Time now);
  void SetSitePower(world::SiteIndex s, Power capacity);
  void AddSiteOutage(world::SiteIndex s, int32_t delta) { sites_[s].outages += delta; }
  void AddProviderOutage(world::ProviderIndex p, int32_t delta);

  // Brings every pool's integrals up to `now` (before reading them).
  void IntegrateAll(Time now);

  // From now on, tells `ledger` every change of a pool's billable GPUs (in use
  // for on-demand and spot; installed while the contract is in force for
  // reserved; none for procurement pools, whose awards bill instead).
  void AttachLedger(contracts::CommitmentLedger* ledger, Time now);
  int64_t Billable(world::PoolIndex p) const;

  // Every change of a pool's free GPUs, in order, so an index kept outside
  // (the placer's ranking) can follow them: a reader that has read the first
  // n entries of epoch e reads changes()[n..] while change_epoch() is still e.
  // The log is cleared when it grows long, and the epoch advances; a reader
  // of an older epoch rereads every pool. `serial()` tells fleets apart.
  uint64_t serial() const { return serial_; }
  uint64_t change_epoch() const { return change_epoch_; }
  const std::vector<world::PoolIndex>& changes() const { return changes_; }

 private:
  void Bill(world::PoolIndex p, Time now) {
    if (ledger_ != nullptr) ledger_->SetBillable(p, Billable(p), now);
  }
  void Integrate(world::PoolIndex p, Time now);
  void Recompute(world::PoolIndex p);
  // Recomputes pool `p`'s placeable GPUs and logs the pool if they changed.
  void Reindex(world::PoolIndex p);

  const world::World& world_;
  std::vector<PoolState> pools_;
  std::vector<PoolInfo> info_;
  std::vector<SiteState> sites_;
  std::vector<uint8_t> provider_outage_;
  std::vector<int32_t> provider_outage_count_;
  contracts::CommitmentLedger* ledger_ = nullptr;

  uint64_t serial_;
  uint64_t change_epoch_ = 0;
  std::vector<world::PoolIndex> changes_;
  std::vector<int64_t> logged_free_;  // per pool: placeable GPUs as last logged

  NodePolicy node_policy_ = NodePolicy::kPooled;
  std::vector<PoolNodes> nodes_;  // per pool, with nodes
  RequestMix mix_;
  Rng rng_;
  NodePick last_pick_;
  const NodeRanker* ranker_ = nullptr;
  std::vector<int64_t> rank_scratch_;
  struct Held {
    std::vector<int32_t> nodes;
    NodeShape shape;      // non-plain pools: what the allocation took on each node
    int32_t gpu = -1;     // a share: its GPU on nodes[0]
    bool shaped = false;  // taken with PoolNodes::Take(NodeShape)
  };
  std::vector<Held> placed_;  // handle -> what it holds
  std::vector<int32_t> free_handles_;
};

}  // namespace polycloud::placement

#endif  // POLYCLOUD_PLACEMENT_FLEET_STATE_H_
