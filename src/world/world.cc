#include "polycloud/world/world.h"

#include <algorithm>

namespace polycloud::world {

// Rough public figures. Speeds are relative dense-training throughput with H100
// = 1.0 (vendor and MLPerf-era estimates); scenarios override them when they
// know better. Watts are board power per GPU (GB200/GB300 include their share
// of the Grace CPU). Idle watts are a quarter of board power: vendors publish
// no idle figure for a whole server, and a quarter is an estimate of an idle
// 8-GPU server's draw (GPUs at ~10-15 % of board power plus CPUs, memory,
// NICs and fans) per GPU; docs/scenario.md says so.
const std::vector<Accelerator>& BuiltinAccelerators() {
  static const std::vector<Accelerator> kTable = {
      {"H100", 80, Power::Watts(700), 1000, Power::Watts(175)},
      {"H200", 141, Power::Watts(700), 1200, Power::Watts(175)},
      {"B200", 192, Power::Watts(1000), 2200, Power::Watts(250)},
      {"GB200", 186, Power::Watts(1200), 2500, Power::Watts(300)},
      {"GB300", 288, Power::Watts(1400), 3300, Power::Watts(350)},
      {"MI300X", 192, Power::Watts(750), 900, Power::Watts(187)},
      {"MI355X", 288, Power::Watts(1400), 2000, Power::Watts(350)},
      {"Trainium2", 96, Power::Watts(500), 650, Power::Watts(125)},
      {"TPUv5p", 95, Power::Watts(450), 700, Power::Watts(112)},
      {"A100", 80, Power::Watts(400), 400, Power::Watts(100)},
      {"A10", 24, Power::Watts(150), 120, Power::Watts(37)},
      {"V100", 32, Power::Watts(300), 150, Power::Watts(75)},
      {"P100", 16, Power::Watts(250), 80, Power::Watts(62)},
      {"T4", 16, Power::Watts(70), 60, Power::Watts(17)},
  };
  return kTable;
}

const char* PricingKindName(PricingKind kind) {
  switch (kind) {
    case PricingKind::kReserved:
      return "reserved";
    case PricingKind::kOnDemand:
      return "on-demand";
    case PricingKind::kSpot:
      return "spot";
  }
  return "?";
}

const char* SiteBackendName(SiteBackend backend) {
  switch (backend) {
    case SiteBackend::kSim:
      return "sim";
    case SiteBackend::kLocal:
      return "local";
    case SiteBackend::kSlurm:
      return "slurm";
  }
  return "?";
}

const char* WorkloadKindName(WorkloadKind kind) {
  switch (kind) {
    case WorkloadKind::kTraining:
      return "training";
    case WorkloadKind::kBatch:
      return "batch";
    case WorkloadKind::kService:
      return "service";
  }
  return "?";
}

const char* FaultKindName(FaultKind kind) {
  return kind == FaultKind::kOutage ? "outage" : "capacity_cut";
}

const char* FaultTargetKindName(FaultTargetKind kind) {
  switch (kind) {
    case FaultTargetKind::kProvider:
      return "provider";
    case FaultTargetKind::kSite:
      return "site";
    case FaultTargetKind::kPool:
      return "pool";
  }
  return "?";
}

namespace {

template <typename T, typename GetId>
void IndexBy(const std::vector<T>& items, GetId get_id,
             std::unordered_map<std::string, int32_t>& out) {
  out.clear();
  out.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) out.emplace(get_id(items[i]), static_cast<int32_t>(i));
}

int32_t Lookup(const std::unordered_map<std::string, int32_t>& m, std::string_view id) {
  auto it = m.find(std::string(id));
  return it == m.end() ? kNone : it->second;
}

}  // namespace

void World::BuildIndexes() {
  IndexBy(
      accelerators, [](const Accelerator& a) { return a.name; }, accelerator_ids_);
  IndexBy(
      providers, [](const Provider& p) { return p.id; }, provider_ids_);
  IndexBy(
      sites, [](const Site& s) { return s.id; }, site_ids_);
  IndexBy(
      pools, [](const Pool& p) { return p.id; }, pool_ids_);
  IndexBy(
      contracts, [](const Contract& c) { return c.id; }, contract_ids_);
  IndexBy(
      jobs, [](const Job& j) { return j.id; }, job_ids_);
  IndexBy(
      services, [](const Service& s) { return s.id; }, service_ids_);
  pools_by_accelerator_.assign(accelerators.size(), {});
  for (size_t i = 0; i < pools.size(); ++i) {
    if (pools[i].accelerator >= 0 &&
        pools[i].accelerator < static_cast<int32_t>(accelerators.size())) {
      pools_by_accelerator_[pools[i].accelerator].push_back(static_cast<PoolIndex>(i));
    }
  }
}

AcceleratorIndex World::FindAccelerator(std::string_view n) const {
  return Lookup(accelerator_ids_, n);
}
ProviderIndex World::FindProvider(std::string_view id) const { return Lookup(provider_ids_, id); }
SiteIndex World::FindSite(std::string_view id) const { return Lookup(site_ids_, id); }
PoolIndex World::FindPool(std::string_view id) const { return Lookup(pool_ids_, id); }
ContractIndex World::FindContract(std::string_view id) const { return Lookup(contract_ids_, id); }
JobIndex World::FindJob(std::string_view id) const { return Lookup(job_ids_, id); }
ServiceIndex World::FindService(std::string_view id) const { return Lookup(service_ids_, id); }

TenantIndex World::FindTenant(std::string_view id) const {
  for (size_t t = 0; t < tenants.size(); ++t) {
    if (tenants[t].id == id) return static_cast<TenantIndex>(t);
  }
  return kNone;
}

int64_t EffectiveMaxGang(const Pool& pool) {
  return pool.max_gang > 0 ? pool.max_gang : pool.gpus.Max();
}

}  // namespace polycloud::world
