// The world model: providers, sites, pools, accelerators, contracts, workloads
// and faults, as loaded from a scenario. See ../shared/DESIGN.md and
// docs/scenario.md for the meaning of each field.
//
// A World is immutable once built by the loader (io/scenario.h) and validated;
// every other layer holds it by const reference and refers to its entities by
// dense indices (PoolIndex, JobIndex, ...) for speed. Ids (strings) are for
// people and for the report. Thread-safety: immutable, safe to share.
#ifndef POLYCLOUD_WORLD_WORLD_H_
#define POLYCLOUD_WORLD_WORLD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "polycloud/base/units.h"
#include "polycloud/world/schedule.h"

namespace polycloud::world {

using ProviderIndex = int32_t;
using SiteIndex = int32_t;
using PoolIndex = int32_t;
using AcceleratorIndex = int32_t;
using ContractIndex = int32_t;
using JobIndex = int32_t;
using ServiceIndex = int32_t;
using FaultIndex = int32_t;
using TenantIndex = int32_t;
inline constexpr int32_t kNone = -1;

// Relative speeds and fractions are kept in thousandths ("milli") so that all
// arithmetic is integer: speed_milli 1000 is the reference accelerator (H100).
inline constexpr int64_t kMilli = 1000;

struct Accelerator {
  std::string name;            // "H100", "GB200", ...
  int64_t memory_gb = 0;       // HBM per GPU
  Power watts;                 // board power per GPU: what an allocated GPU draws
  int64_t speed_milli = 1000;  // relative training/inference speed, H100 = 1000
  // What an installed GPU draws while idle (its share of an idle server:
  // GPU, CPU, memory, NICs, fans); the built-in table and a new scenario
  // accelerator default to a quarter of `watts` (docs/scenario.md).
  Power idle_watts;
};

// An accelerator's idle draw when none is given: a quarter of board power.
inline Power DefaultIdleWatts(Power watts) { return Power::Watts(watts.watts() / 4); }

// The built-in accelerator table (H100, H200, B200, GB200, GB300, MI300X,
// Trainium2, A100, ...); a scenario may override or extend it.
const std::vector<Accelerator>& BuiltinAccelerators();

struct Provider {
  std::string id;
  std::string name;
};

// What runs a site's work under `polycloud serve` (simulate ignores it):
// a real Slurm cluster, processes on this machine, or nothing (dry run).
enum class SiteBackend { kSim, kLocal, kSlurm };
const char* SiteBackendName(SiteBackend backend);

struct Site {
  std::string id;
  ProviderIndex provider = kNone;
  std::string region;
  int64_t pue_milli = 1000;    // power usage effectiveness × 1000
  StepSchedule<Power> power;   // facility power capacity over time
  bool power_limited = false;  // false: no power limit given
  // How fast the site's power can grow (build-out), per week; 0 = no limit.
  // Validated against `power` (or, without a limit, the installed draw) and
  // applied to procurement awards at the site.
  Power build_rate_per_week;
  SiteBackend backend = SiteBackend::kSim;
  // The driver's options (docs/sites.md), as written: slurm_conf, timeout, ...
  std::vector<std::pair<std::string, std::string>> backend_options;
};

enum class PricingKind { kReserved, kOnDemand, kSpot };
const char* PricingKindName(PricingKind kind);

struct Pool {
  std::string id;
  SiteIndex site = kNone;
  ProviderIndex provider = kNone;  // the site's provider, denormalised
  AcceleratorIndex accelerator = kNone;
  PricingKind pricing = PricingKind::kOnDemand;
  StepSchedule<int64_t> gpus;  // GPUs installed over time (ramps become steps)
  Money price_per_gpu_hour;
  int64_t gpus_per_node = 8;
  // Per node, for multi-resource fit (docs/scenario.md, "pools"): CPU in
  // thousandths of a core and memory in MiB; 0 = not modelled (unconstrained).
  int64_t cpu_milli_per_node = 0;
  int64_t memory_mib_per_node = 0;
  // Pods asking for a fraction of a GPU (Job::gpu_milli) may run here, several
  // on one GPU up to 1000 milli.
  bool gpu_sharing = false;
  int64_t domain_size = 8;         // GPUs in one interconnect domain (NVL72 rack: 72)
  int64_t max_gang = 0;            // largest gang the fabric allows; 0 = the pool's size
  ContractIndex contract = kNone;  // contract the pool is bought under
  // Procurement: the offer whose awarded capacity lands in this pool (kNone
  // for a pool defined in the scenario). Such a pool starts with no GPUs; its
  // fees are the awards', not price × installed.
  int32_t offer = kNone;
  std::string partition;  // serve, slurm sites: the partition (default: the pool id)
};

// Workload class "*" matches every class; an empty model_family matches every model.
struct ExclusivityClause {
  std::string workload_class;
  std::string model_family;
  Time from = Time::Min();
  Time until = Time::Max();       // exclusive: the clause holds for from <= t < until
  bool outage_exception = false;  // others may serve while the holder has an outage
};

// A minimum spend over [from, until) of a contract's term (a yearly minimum is
// one per contract year). Spend counted: fees of the contract's pools and of
// capacity procured under it.
struct CommitmentMinimum {
  Time from;
  Time until;  // exclusive; the minimum falls due at this instant
  Money spend;
};

// Right of first refusal: while it holds (from <= t < until), a capacity
// request within its scope must be offered to the contract's provider first,
// who may match the best market terms within `response_window`.
struct RofrClause {
  Time from = Time::Min();
  Time until = Time::Max();
  Duration response_window = Duration::Days(30);
  std::string workload_class = "*";            // "*" = every class
  std::vector<AcceleratorIndex> accelerators;  // empty = every type
};

struct Contract {
  std::string id;
  ProviderIndex provider = kNone;
  Time start;
  Time end;               // exclusive
  Money committed_spend;  // over the whole term; 0 = none
  // Take-or-pay: a shortfall against a minimum or the term commitment is paid
  // anyway. Otherwise the commitment is discount-only: missing it costs
  // nothing here (the ledger still reports the shortfall).
  bool take_or_pay = false;
  int64_t discount_milli = 0;  // price discount on the contract's pools, thousandths of list
  std::vector<CommitmentMinimum> minimums;  // in time order, non-overlapping
  std::vector<ExclusivityClause> exclusivity;
  std::vector<RofrClause> rofr;
};

// Capacity a provider will sell when asked (procurement): GPUs of one type at
// one site, at a price, arriving `lead_time` after the award.
struct Offer {
  std::string id;
  ProviderIndex provider = kNone;
  PoolIndex pool = kNone;  // the pool (created by the loader) awarded capacity lands in
  AcceleratorIndex accelerator = kNone;
  Money price_per_gpu_hour;
  Duration lead_time;
  int64_t max_gpus = 0;            // total the provider can supply over the run
  ContractIndex contract = kNone;  // awards count toward this contract's spend
};

// The capacity planner's settings (docs/scenario.md, "procurement").
struct Procurement {
  bool enabled = false;
  Duration review_every = Duration::Days(1);  // how often unmet demand is reviewed
  Duration unmet_after = Duration::Days(7);   // a class waiting this long raises a request
  Duration term = Duration::Days(365);        // how long procured capacity is held
  std::vector<Offer> offers;
  std::vector<Duration> answer_after;  // per provider: time to answer an ROFR offer (default 0)
};

enum class WorkloadKind { kTraining, kBatch, kService };
const char* WorkloadKindName(WorkloadKind kind);

// A training or batch job: a gang of `gpus` GPUs inside one fabric.
struct Job {
  std::string id;
  std::string workload_class;  // "training", "batch", "research", ...
  std::string model_family;    // optional
  int64_t gpus = 1;
  // A share of one GPU in thousandths (1-999, with gpus 1): runs only in a
  // pool with gpu_sharing, on one GPU that other shares may use too. 0 = whole GPUs.
  int64_t gpu_milli = 0;
  // CPU (thousandths of a core) and memory (MiB) the job needs, spread evenly
  // over its nodes; they count only in pools that declare them per node.
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int64_t work_gpu_seconds = 0;                // reference (H100) GPU-seconds of work
  std::vector<AcceleratorIndex> accelerators;  // allowed types; empty = any
  Duration checkpoint_interval;                // 0 = no checkpoints: an interruption loses the run
  Time arrival;
  int32_t priority = 0;  // higher runs first and may preempt lower preemptible work
  WorkloadKind kind = WorkloadKind::kTraining;
  bool preemptible = false;
  TenantIndex tenant = kNone;  // whose quota it counts against (kNone: no quota)
  std::string stream;          // the job stream it was generated from, if any
};

// A team's quota (docs/scenario.md, "tenants"): GPUs its running jobs may
// hold at once, and what its jobs may spend per UTC calendar month, in all and
// per workload class (0: no limit). Work over quota waits; explain says which
// quota holds it.
struct Tenant {
  std::string id;
  int64_t max_gpus = 0;
  std::vector<std::pair<std::string, int64_t>> class_max_gpus;       // (class, limit)
  Money spend_per_month;                                             // 0: no limit
  std::vector<std::pair<std::string, Money>> class_spend_per_month;  // (class, limit)
  bool has_spend_quota() const {
    if (spend_per_month.micros() > 0) return true;
    for (const auto& [cls, limit] : class_spend_per_month) {
      if (limit.micros() > 0) return true;
    }
    return false;
  }
};

// An inference service: replicas of `gpus_per_replica`, scaled to demand.
struct Service {
  std::string id;
  std::string model;
  std::string model_family;
  std::string workload_class;
  int64_t gpus_per_replica = 8;
  int64_t replica_tokens_per_s = 1;  // throughput of one replica on the reference accelerator
  std::vector<AcceleratorIndex> accelerators;
  int32_t min_providers = 1;  // present at this many providers at least
  int32_t priority = 1000;
  StepSchedule<int64_t> demand_tokens_per_s;
};

enum class FaultKind { kOutage, kCapacityCut };
enum class FaultTargetKind { kProvider, kSite, kPool };
const char* FaultKindName(FaultKind kind);
const char* FaultTargetKindName(FaultTargetKind kind);

struct Fault {
  std::string id;
  FaultKind kind = FaultKind::kOutage;
  FaultTargetKind target_kind = FaultTargetKind::kProvider;
  int32_t target = kNone;    // index into providers, sites or pools
  int64_t cut_milli = 1000;  // capacity removed, thousandths (outage: 1000)
  Time start;
  Time end;
};

struct World {
  std::string name;
  Time start;
  Time end;
  uint64_t seed = 1;

  std::vector<Accelerator> accelerators;
  std::vector<Provider> providers;
  std::vector<Site> sites;
  std::vector<Pool> pools;
  std::vector<Contract> contracts;
  std::vector<Job> jobs;  // sorted by (arrival, id index) after loading
  std::vector<Service> services;
  std::vector<Fault> faults;
  std::vector<Tenant> tenants;
  Procurement procurement;

  // Lookups by id; kNone when absent.
  AcceleratorIndex FindAccelerator(std::string_view name) const;
  ProviderIndex FindProvider(std::string_view id) const;
  SiteIndex FindSite(std::string_view id) const;
  PoolIndex FindPool(std::string_view id) const;
  ContractIndex FindContract(std::string_view id) const;
  JobIndex FindJob(std::string_view id) const;
  ServiceIndex FindService(std::string_view id) const;
  TenantIndex FindTenant(std::string_view id) const;  // linear: tenants are few

  // Pools of each accelerator type, in index order (built by BuildIndexes()).
  const std::vector<PoolIndex>& PoolsOf(AcceleratorIndex a) const {
    return pools_by_accelerator_[a];
  }
  // Rebuilds the id maps and per-accelerator pool lists; call after mutating.
  void BuildIndexes();

 private:
  std::vector<std::vector<PoolIndex>> pools_by_accelerator_;
  std::unordered_map<std::string, int32_t> accelerator_ids_, provider_ids_, site_ids_, pool_ids_,
      contract_ids_, job_ids_, service_ids_;
};

// Largest gang a pool can run: max_gang, or the pool's peak size when unset.
int64_t EffectiveMaxGang(const Pool& pool);

}  // namespace polycloud::world

#endif  // POLYCLOUD_WORLD_WORLD_H_
