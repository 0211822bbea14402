// The placement pipeline: filters say yes or no for each candidate pool (with
// a reason), scorers rank the survivors, and the placer picks the best; bind
// is the caller's (the scheduler's) step, through FleetState.
//
// Each filter and scorer is a small named unit, tested on its own: the
// built-in ones' decisions are one predicate each (src/placement/filters.h,
// filters_test.cc), their text in pipeline_test.cc. A filter's verdict is a few integers; the human
// reason is formatted only when an explanation is asked for, so a decision makes no allocation on
// the hot path.
//
//   placement::Placer placer(world, rules);
//   placement::Context ctx{world, fleet, rules, now, &oracle};
//   placement::Decision d = placer.Place(ctx, request, /*explanation=*/nullptr);
//   if (d.pool != world::kNone) fleet.Bind(d.pool, d.alloc_gpus, now);
//
// Thread-safety: a Placer keeps scratch buffers; use one per thread.
#ifndef POLYCLOUD_PLACEMENT_PIPELINE_H_
#define POLYCLOUD_PLACEMENT_PIPELINE_H_

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "polycloud/contracts/exclusivity.h"
#include "polycloud/contracts/ledger.h"
#include "polycloud/placement/fleet_state.h"
#include "polycloud/world/world.h"

namespace polycloud::placement {

// What is being placed: one job's gang or one service replica.
struct Request {
  world::WorkloadKind kind = world::WorkloadKind::kTraining;
  std::string_view id;
  std::string_view workload_class;
  std::string_view model_family;
  int64_t gpus = 1;
  // A share of one GPU (1..999, gpus 1; only in pools with gpu_sharing) and
  // the CPU (thousandths) and memory (MiB) the request needs in all, spread
  // evenly over its nodes (world::Job). All 0: whole GPUs only, as before.
  int32_t gpu_milli = 0;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  const std::vector<world::AcceleratorIndex>* accelerators = nullptr;  // null/empty = any
  int32_t priority = 0;
  // Services only: replicas the service has at each provider now, and how many
  // providers it must be present at.
  const std::vector<int32_t>* replicas_per_provider = nullptr;
  int32_t min_providers = 1;
  // When nowhere, find the best blocked pool (Decision::best_blocked), where
  // the caller would hold capacity for the request.
  bool find_best_blocked = true;

  // Asks for more than whole GPUs: a share, CPU or memory.
  bool shaped() const { return gpu_milli > 0 || cpu_milli > 0 || memory_mib > 0; }
};

// The request for a job's gang (a hold asked for, as Request's default).
Request JobRequest(const world::Job& job);

// Tells the placer how much of a pool could be freed by preempting work of
// lower priority (implemented by the scheduler, which knows the allocations).
class PreemptionOracle {
 public:
  virtual ~PreemptionOracle() = default;
  // GPUs held in pool `p` by preemptible work with priority < `priority`.
  // The count may stop anywhere at or above `need` (the GPUs the placer is
  // looking for): the placer only asks whether enough can be freed.
  virtual int64_t ReclaimableGpus(world::PoolIndex p, int32_t priority, int64_t need) const = 0;
  // Every pool where ReclaimableGpus may be above zero (in any order), or
  // null when any pool may be: the placer then asks every pool.
  virtual const std::vector<world::PoolIndex>* CandidatePools() const { return nullptr; }
  // In a pool with GPU sharing or CPU and memory per node (with nodes):
  // whether preempting that work frees room for `need` (what the request
  // takes on each node, FleetState::NodeShapeOf) — a share, whole GPUs, CPU
  // and memory on one node, or whole nodes for a larger gang. Default: no.
  virtual bool ShapeReclaimable(world::PoolIndex, int32_t /*priority*/,
                                const NodeShape& /*need*/) const {
    return false;
  }
};

inline constexpr int32_t kNoReservation = std::numeric_limits<int32_t>::min();

struct Context {
  const world::World& world;
  const FleetState& fleet;
  const contracts::ExclusivityRules& rules;
  Time now;
  const PreemptionOracle* preemption = nullptr;  // null: never preempt
  // Per pool: the priority of a blocked job holding the pool for itself, or
  // kNoReservation. Work of lower priority may not start there (no backfill
  // past a waiting higher-priority gang). Null: no reservations.
  const std::vector<int32_t>* reserved_for_priority = nullptr;
  // The commitment ledger the marginal-cost scorer reads (null: static prices,
  // MarginalPricePerGpuHour below), and how it values a GPU-hour.
  const contracts::CommitmentLedger* ledger = nullptr;
  contracts::CostModel cost_model = contracts::CostModel::kContractAware;
};

// A filter's answer for one pool: pass, or fail with up to two numbers that
// the filter's Describe() turns into text (e.g. needed vs free GPUs).
struct Verdict {
  bool pass = true;
  bool resource = false;  // failed only for lack of GPUs or power: preemption may help
  int64_t a = 0;
  int64_t b = 0;
  static Verdict Pass() { return {}; }
  static Verdict Fail(int64_t a = 0, int64_t b = 0) { return {false, false, a, b}; }
  static Verdict Short(int64_t a, int64_t b) { return {false, true, a, b}; }
};

class Filter {
 public:
  virtual ~Filter() = default;
  virtual const char* name() const = 0;
  virtual Verdict Check(const Context& ctx, const Request& req, world::PoolIndex p) const = 0;
  // Why the pool failed (or "ok"), for explanations.
  virtual std::string Describe(const Context& ctx, const Request& req, world::PoolIndex p,
                               const Verdict& v) const = 0;
  // True when the verdict depends on the pool only through its provider
  // (exclusivity, provider spread): the placer then checks it once per
  // provider and decision.
  virtual bool per_provider() const { return false; }
};

// The range a scorer's raw measure can take, [lo, hi]: a raw value is
// normalised against it, not against the other candidates, so a pool's score
// does not depend on which other pools happen to have room (and the placer
// can find the best pool without scoring every pool).
struct ScoreRange {
  int64_t lo = 0;
  int64_t hi = 0;
};

// A normalised score runs from 0 (the worst end of the scorer's range) to
// kFullScore (the best), in millionths.
inline constexpr int64_t kFullScore = 1'000'000;

// The marginal-cost scorer's best normalised score for a pool that costs
// anything at the margin (a pay-as-you-go pool, even one burning a take-or-pay
// commitment at a hundredth of its price). A pool free at the margin (prepaid:
// reserved or procured) scores kFullScore, so it leads every paid pool by at
// least 30 points × the cost weight (100) = 3,000,000, more than diversity
// (20) and fragmentation (5) can add together (2,500,000): among pools of one
// accelerator type (equal speed) an idle prepaid pool always ranks above a
// paid one for the same work. (The consolidation scorer, on only with
// consolidated placement, weighs more than cost by design.)
inline constexpr int64_t kPaidCostCeiling = 700'000;

class Scorer {
 public:
  virtual ~Scorer() = default;
  virtual const char* name() const = 0;
  virtual const char* unit() const = 0;
  virtual bool lower_is_better() const = 0;
  virtual int64_t weight() const = 0;
  // The raw measure for this pool (e.g. marginal cost in micro-dollars per
  // reference GPU-hour); normalised against Range() by the placer.
  virtual int64_t Raw(const Context& ctx, const Request& req, world::PoolIndex p) const = 0;
  // Every value Raw() can take for `req` in this world (values outside are
  // clamped to it).
  virtual ScoreRange Range(const Context& ctx, const Request& req) const = 0;
};

// The built-in filters, cheap first.
std::unique_ptr<Filter> MakeAcceleratorFilter();
std::unique_ptr<Filter> MakeFaultFilter();
std::unique_ptr<Filter> MakeContractFilter();
std::unique_ptr<Filter> MakeFabricFilter();
std::unique_ptr<Filter> MakeExclusivityFilter();
std::unique_ptr<Filter> MakeProviderSpreadFilter();
std::unique_ptr<Filter> MakeReservationFilter();
std::unique_ptr<Filter> MakeCapacityFilter();
std::unique_ptr<Filter> MakePowerFilter();

// The built-in scorers, with their fixed ranges:
//   marginal cost: 0 to the world's highest list price per reference GPU-hour;
//   speed: the slowest to the fastest accelerator of the world's pools;
//   provider diversity: 0 to the most replicas the service has at a provider;
//   fragmentation (GPUs left free): 0 to the largest pool the world installs.
std::unique_ptr<Scorer> MakeMarginalCostScorer(const world::World& world);
std::unique_ptr<Scorer> MakeSpeedScorer(const world::World& world);
std::unique_ptr<Scorer> MakeProviderDiversityScorer();
std::unique_ptr<Scorer> MakeFragmentationScorer(const world::World& world);
// Nodes the gang would span in the pool, ceil(gpus / gpus_per_node); lower is
// better, from the fewest (the largest nodes of the world) to the most.
// Weighted above cost so that a job takes as few nodes as possible.
std::unique_ptr<Scorer> MakeConsolidationScorer(const world::World& world);

// Marginal price of one more GPU-hour in pool `p` without a ledger, before
// speed: 0 for reserved (prepaid) capacity, a hundredth of the discounted price
// for pools under a take-or-pay commitment (taken to be short: that spend would
// be paid anyway), the discounted price otherwise. With a ledger in the
// context the scorer asks CommitmentLedger::MarginalPricePerGpuHour instead,
// which knows whether the commitment is on track.
Money MarginalPricePerGpuHour(const world::World& world, world::PoolIndex p);

inline constexpr int kMaxScorers = 8;

// One candidate's fate in a decision, for `explain`.
struct CandidateVerdict {
  world::PoolIndex pool = world::kNone;
  const char* rejected_by = nullptr;  // filter name; null when the pool passed
  std::string reason;                 // filled for rejected pools
  bool via_preemption = false;        // passes only if lower-priority work is preempted
  std::array<int64_t, kMaxScorers> raw{};
  std::array<int64_t, kMaxScorers> normalized{};  // 0..kFullScore
  int64_t total = 0;                              // Σ weight × normalized
};

struct Explanation {
  Time at;
  std::string subject;  // "job research-0042", "service chat replica"
  int64_t gpus = 0;
  std::vector<std::string> scorer_names;
  std::vector<std::string> scorer_units;
  std::vector<CandidateVerdict> candidates;  // every pool of the world, in index order
  world::PoolIndex chosen = world::kNone;
  bool preempts = false;
};

struct Decision {
  world::PoolIndex pool = world::kNone;  // kNone: nowhere now
  int64_t alloc_gpus = 0;
  bool needs_preemption = false;  // the caller must free GPUs in `pool` first
  int64_t total_score = 0;
  // When nowhere and asked for: the pool that failed only for lack of GPUs
  // or power and has the most free GPUs, at least one (the lowest index
  // among equals) — where the request would wait best (kNone if none).
  world::PoolIndex best_blocked = world::kNone;
};

struct PlacerOptions {
  // Consolidated placement: add the consolidation scorer, so a gang goes to the
  // pool where it spans the fewest nodes. Pools count GPUs, not individual
  // nodes: within a pool a gang larger than a node already takes whole nodes
  // (FleetState::AllocationSize) and a smaller one is taken to fit in one node.
  bool consolidate = false;
};

class Ranking;

class Placer {
 public:
  explicit Placer(const world::World& world, const PlacerOptions& options = {});
  ~Placer();

  // Picks the best pool for `req` now, without binding. Considers preemption
  // only when ctx.preemption is set and no pool fits outright. When
  // `explanation` is non-null, every pool's verdict and scores are recorded.
  //
  // A pool's score is Σ weight × its scorers' raw measures normalised
  // against their fixed ranges; the highest wins, the lowest pool index among
  // equals, and a pool that fits outright beats one that needs preemption.
  // Without an explanation the placer walks its ranking (ranking.h): classes
  // of pools with equal cost and speed, best first, each giving its best-fit
  // pool, until no class left can beat the best found. When none fits
  // outright it asks only the oracle's candidate pools about preemption, and
  // finds the best blocked pool through the ranking, most free GPUs first.
  Decision Place(const Context& ctx, const Request& req, Explanation* explanation);

  // True when `pool` passes every filter for `req` now, checked as Place
  // checks a candidate (the same predicates, in the same order), for a caller
  // that chose the pool itself (the scheduler's batch re-optimiser).
  bool Admits(const Context& ctx, const Request& req, world::PoolIndex pool);

  const std::vector<std::unique_ptr<Filter>>& filters() const { return filters_; }
  const std::vector<std::unique_ptr<Scorer>>& scorers() const { return scorers_; }

  // A contract's terms changed in the World (an amendment): what the placer
  // derived from them (the contracts whose pools' cost can move, the pools'
  // ranking) is derived again.
  void ContractsAmended();

 private:
  struct Survivor {
    world::PoolIndex pool;
    bool via_preemption;
    std::array<int64_t, kMaxScorers> raw;
  };
  // Runs the filters over `pool`; returns the index of the first failing filter or -1.
  int FirstFailingFilter(const Context& ctx, const Request& req, world::PoolIndex pool,
                         Verdict* failed);
  void Consider(const Context& ctx, const Request& req, world::PoolIndex pool, bool allow_preempt,
                Explanation* explanation);
  enum class FilterKind : uint8_t;
  enum class ScorerKind : uint8_t;
  static FilterKind KindOf(const Filter& f);
  static ScorerKind KindOf(const Scorer& s);
  // The raw score of every scorer for `pool`.
  void Score(const Context& ctx, const Request& req, world::PoolIndex pool,
             std::array<int64_t, kMaxScorers>& raw) const;
  // Chooses among the survivors and fills `d`.
  void Choose(const Context& ctx, const Request& req, Decision& d, Explanation* explanation);
  // The scorers' ranges for `req` (into range_).
  void SetRanges(const Context& ctx, const Request& req);
  int64_t Normalised(size_t k, int64_t raw) const;
  int64_t Total(const std::array<int64_t, kMaxScorers>& raw) const;
  // The fast path: the best pool that fits outright, through the ranking.
  // False when none does (or the ranking cannot be used).
  bool PlaceRanked(const Context& ctx, const Request& req, Decision& d);
  // Filter f's verdict for the provider of `pool`, a per_provider() filter,
  // memoised for the decision.
  const Verdict& ProviderVerdict(const Context& ctx, const Request& req, size_t f,
                                 world::PoolIndex pool);
  // Whether the per-provider filters (exclusivity, spread) let `req` use
  // provider `p`.
  bool ProviderAllowed(const Context& ctx, const Request& req, world::ProviderIndex p);
  // Without an explanation, when nothing fits outright: a pool by
  // preemption, else the best blocked pool.
  void PlaceBlocked(const Context& ctx, const Request& req, Decision& d);
  // True when `pool` fails no filter but capacity and power.
  bool OnlyShort(const Context& ctx, const Request& req, world::PoolIndex pool);
  // Rebuilds the ranking when the fleet, the cost model or a commitment's
  // state (which moves a pool's marginal cost) changed; then syncs it.
  void PrepareRanking(const Context& ctx);

  const world::World& world_;
  std::vector<std::unique_ptr<Filter>> filters_;
  std::vector<std::unique_ptr<Scorer>> scorers_;
  std::vector<Survivor> survivors_;               // scratch, reused across decisions
  world::PoolIndex best_blocked_ = world::kNone;  // scratch
  // Per-provider verdicts of the per_provider() filters, for one decision:
  // [filter * providers + provider], valid where provider_memo_set_ is 1.
  std::vector<uint8_t> per_provider_filter_;
  std::vector<Verdict> provider_memo_;
  std::vector<uint8_t> provider_memo_set_;
  // What each filter and scorer is, so the built-in ones are evaluated inline
  // (no virtual call per pool); kinds are private to pipeline.cc.
  std::vector<uint8_t> filter_kind_;
  std::vector<uint8_t> scorer_kind_;
  std::array<ScoreRange, kMaxScorers> range_{};  // scratch: this decision's ranges
  std::array<int64_t, kMaxScorers> weight_{};
  std::array<bool, kMaxScorers> lower_better_{};
  // The ranking and what it was built for. Contracts whose take-or-pay state
  // moves the marginal cost of pools (pay-as-you-go pools under them), and
  // whether each was projected short when the ranking was built.
  std::unique_ptr<Ranking> ranking_;
  bool rankable_ = true;  // false with a scorer the ranking does not know
  const contracts::CommitmentLedger* ranked_ledger_ = nullptr;
  contracts::CostModel ranked_model_ = contracts::CostModel::kContractAware;
  std::vector<world::ContractIndex> volatile_contracts_;
  void FindVolatileContracts();
  bool ranking_stale_ = false;
  std::vector<uint8_t> ranked_short_, short_scratch_;
  std::vector<int64_t> static_score_;            // scratch for building
  std::vector<world::PoolIndex> provider_pool_;  // a pool of each provider (kNone: none)
  // The fast path's cursors: one per allowed accelerator (and provider, for a
  // service replica), each at its next class with room.
  struct RankCursor {
    world::AcceleratorIndex accelerator;
    world::ProviderIndex provider;  // kNone: every provider
    int32_t at;
    int64_t priority;  // class `at`'s static score + `extra`; the lowest past the end
    int64_t extra;     // the provider's diversity term
  };
  std::vector<RankCursor> cursors_;
  std::vector<std::pair<int32_t, int32_t>> ranges_;  // scratch: classes of the allowed types
};

}  // namespace polycloud::placement

#endif  // POLYCLOUD_PLACEMENT_PIPELINE_H_
