#include "polycloud/traces/fleet.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_set>
#include <utility>

#include "polycloud/base/text.h"

namespace polycloud::traces {

int64_t NodeList::TotalGpus() const {
  int64_t total = 0;
  for (const ClusterNode& node : nodes) total += node.gpus;
  return total;
}

Status AddFleetToWorld(const Fleet& fleet, world::World& world) {
  // Check every id first so that a failure leaves the world untouched.
  std::unordered_set<std::string> site_ids, pool_ids;
  for (const world::Site& site : world.sites) site_ids.insert(site.id);
  for (const world::Pool& pool : world.pools) pool_ids.insert(pool.id);
  for (const world::Site& site : fleet.sites) {
    if (!site_ids.insert(site.id).second) {
      return InvalidInput("site '" + Excerpt(site.id) + "' is already defined");
    }
  }
  for (const world::Pool& pool : fleet.pools) {
    if (!pool_ids.insert(pool.id).second) {
      return InvalidInput("pool '" + Excerpt(pool.id) + "' is already defined");
    }
  }

  std::vector<world::AcceleratorIndex> accelerator_map;
  for (const world::Accelerator& a : fleet.accelerators) {
    world::AcceleratorIndex index = world::kNone;
    for (size_t i = 0; i < world.accelerators.size(); ++i) {
      if (world.accelerators[i].name == a.name) index = static_cast<world::AcceleratorIndex>(i);
    }
    if (index == world::kNone) {
      index = static_cast<world::AcceleratorIndex>(world.accelerators.size());
      world.accelerators.push_back(a);
    }
    accelerator_map.push_back(index);
  }
  std::vector<world::ProviderIndex> provider_map;
  for (const world::Provider& p : fleet.providers) {
    world::ProviderIndex index = world::kNone;
    for (size_t i = 0; i < world.providers.size(); ++i) {
      if (world.providers[i].id == p.id) index = static_cast<world::ProviderIndex>(i);
    }
    if (index == world::kNone) {
      index = static_cast<world::ProviderIndex>(world.providers.size());
      world.providers.push_back(p);
    }
    provider_map.push_back(index);
  }
  auto map_provider = [&](world::ProviderIndex p) {
    return p == world::kNone ? world::kNone : provider_map[p];
  };
  const auto site_base = static_cast<world::SiteIndex>(world.sites.size());
  for (world::Site site : fleet.sites) {
    site.provider = map_provider(site.provider);
    world.sites.push_back(std::move(site));
  }
  for (world::Pool pool : fleet.pools) {
    pool.site = pool.site == world::kNone ? world::kNone : site_base + pool.site;
    pool.provider = map_provider(pool.provider);
    pool.accelerator =
        pool.accelerator == world::kNone ? world::kNone : accelerator_map[pool.accelerator];
    world.pools.push_back(std::move(pool));
  }
  world.BuildIndexes();
  return Status::Ok();
}

Fleet BuildNodeFleet(const NodeList& nodes, const NodeFleetOptions& options) {
  Fleet fleet;
  fleet.accelerators = nodes.accelerators;
  fleet.providers.push_back({options.provider_id, options.provider_id});
  world::Site site;
  site.id = options.site_id;
  site.provider = 0;
  site.region = options.region;
  fleet.sites.push_back(std::move(site));

  struct Group {
    size_t order;
    world::AcceleratorIndex accelerator;
    int64_t nodes = 0;
  };
  // (model, GPUs per node, CPU, memory); CPU and memory 0 without multi_resource.
  using Key = std::tuple<std::string, int64_t, int64_t, int64_t>;
  std::map<Key, Group> groups;
  std::map<std::pair<std::string, int64_t>, int> sizes;  // node sizes per (model, GPUs)
  for (const ClusterNode& node : nodes.nodes) {
    if (node.gpus <= 0 || node.accelerator == world::kNone) continue;
    const Key key{node.model, node.gpus, options.multi_resource ? node.cpu_milli : 0,
                  options.multi_resource ? node.memory_mib : 0};
    auto [it, inserted] = groups.try_emplace(key, Group{groups.size(), node.accelerator});
    if (inserted) ++sizes[{node.model, node.gpus}];
    ++it->second.nodes;
  }
  std::vector<std::pair<Key, Group>> ordered(groups.begin(), groups.end());
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return a.second.order < b.second.order; });
  for (const auto& [key, group] : ordered) {
    const auto& [model, gpn, cpu_milli, memory_mib] = key;
    world::Pool pool;
    pool.id = options.site_id + "/" + model + "x" + std::to_string(gpn);
    if (sizes[{model, gpn}] > 1) {
      auto decimal = [](int64_t v, int64_t unit) {
        std::string s = std::to_string(v / unit);
        if (v % unit != 0) s += "." + std::to_string(v % unit * 10 / unit);
        return s;
      };
      pool.id += "-" + decimal(cpu_milli, 1000) + "c" + decimal(memory_mib, 1024) + "g";
    }
    if (options.multi_resource) {
      pool.cpu_milli_per_node = cpu_milli;
      pool.memory_mib_per_node = memory_mib;
      pool.gpu_sharing = true;
    }

    pool.site = 0;
    pool.provider = 0;
    pool.accelerator = group.accelerator;
    pool.pricing = options.pricing;
    pool.gpus = world::StepSchedule<int64_t>(group.nodes * gpn);
    pool.price_per_gpu_hour = options.price_per_gpu_hour;
    pool.gpus_per_node = gpn;
    pool.domain_size = gpn;
    fleet.pools.push_back(std::move(pool));
  }
  return fleet;
}

}  // namespace polycloud::traces
