// Fleet: providers, sites and pools read from data (a cluster's node list, a
// provider catalog, Philly's virtual-cluster sizes), ready to add to a World.
//
// A Fleet is self-contained: its pools' accelerator indices refer to its own
// `accelerators` table and its sites' provider indices to its own `providers`.
// AddFleetToWorld() appends it to a World, matching accelerators and providers
// by name/id, so fleets read with different accelerator tables combine safely.
//
//   POLYCLOUD_ASSIGN_OR_RETURN(NodeList nodes, ReadAlibabaGpuNodes(input, {}));
//   NodeFleetOptions where;
//   where.provider_id = "alibaba";
//   where.site_id = "openb";
//   Fleet fleet = BuildNodeFleet(nodes, where);
//   POLYCLOUD_RETURN_IF_ERROR(AddFleetToWorld(fleet, world));
//
// Thread-safety: plain values and pure functions.
#ifndef POLYCLOUD_TRACES_FLEET_H_
#define POLYCLOUD_TRACES_FLEET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/base/units.h"
#include "polycloud/traces/read_options.h"
#include "polycloud/world/world.h"

namespace polycloud::traces {

struct Fleet {
  std::vector<world::Accelerator> accelerators;  // what Pool::accelerator indexes
  std::vector<world::Provider> providers;        // what Site/Pool::provider index
  std::vector<world::Site> sites;                // what Pool::site indexes
  std::vector<world::Pool> pools;
};

// Appends `fleet` to `world`: accelerators and providers already in the world
// (same name / id) are reused, others appended; sites and pools are appended
// with their indices remapped, then world.BuildIndexes() is called.
// Errors: InvalidInput if a site or pool id already exists in the world (the
// world is left unchanged).
Status AddFleetToWorld(const Fleet& fleet, world::World& world);

// One machine of a cluster's node list (Alibaba GPU or spot node lists).
struct ClusterNode {
  std::string name;                                    // "openb-node-0000", spot "0"
  std::string model;                                   // GPU model as in the trace; "" = CPU-only
  world::AcceleratorIndex accelerator = world::kNone;  // into the reader's AcceleratorNames
  int64_t gpus = 0;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;  // 0 when the list does not say
  int64_t line = 0;
};

struct NodeList {
  std::vector<ClusterNode> nodes;
  std::vector<world::Accelerator> accelerators;  // the table `accelerator` indexes
  ReadStats stats;

  int64_t TotalGpus() const;
};

struct NodeFleetOptions {
  std::string provider_id = "cluster";
  std::string site_id = "cluster";
  std::string region;
  // A private cluster's capacity is owned: reserved, price 0 unless told.
  world::PricingKind pricing = world::PricingKind::kReserved;
  Money price_per_gpu_hour;
  // Nodes with CPU, memory and GPU sharing (the Alibaba GPU cluster): pools
  // declare each node's CPU and memory (world::Pool::cpu_milli_per_node,
  // memory_mib_per_node; memory only when the list gives it) and allow GPU
  // sharing, and nodes of one (model, GPUs) with different CPU or memory
  // make separate pools.
  bool multi_resource = false;
};

// One pool per (trace model, GPUs per node) in first-seen order, id
// "<site>/<model>x<gpus per node>" (e.g. "openb/G2x8"), with all of those
// nodes' GPUs from Time::Min() on, gpus_per_node and domain_size the node size,
// and the trace model's accelerator. CPU-only nodes are left out. With
// multi_resource, one pool per (model, GPUs, CPU, memory): where a (model,
// GPUs) has nodes of several sizes, each pool's id gets "-<cpus>c<GiB>g"
// (e.g. "openb/P100x2-64c256g"), else the id is as above.
Fleet BuildNodeFleet(const NodeList& nodes, const NodeFleetOptions& options);

}  // namespace polycloud::traces

#endif  // POLYCLOUD_TRACES_FLEET_H_
