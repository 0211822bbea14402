// CommitmentLedger: what every contract has cost so far, exactly, and what it
// is projected to cost by each minimum and by the end of its term.
//
// Fees accrue on accounts. Account p (0 <= p < pools) is pool p: an
// on-demand or spot pool bills the GPUs in use, a reserved pool bills every
// installed GPU while its contract is in force (capacity is prepaid, used or
// not), a procurement pool bills nothing itself. Each procurement award is an
// account of its own (AddAward) billing its GPUs at its own price while the
// capacity is held. The owner (FleetState, the scheduler) calls SetBillable
// whenever an account's billable GPUs change; the ledger integrates
// GPU-seconds × price exactly between those instants.
//
// Money is kept in "raw" units of micro-dollar × second / hour (GPU-seconds ×
// micro-dollars per GPU-hour) in 128-bit integers, so nothing is rounded until
// a figure is read; each figure is then rounded once, half away from zero.
// Spend is split by UTC day (per contract, and per provider for spend under
// no contract) and by commitment period (per contract minimum).
//
// Shortfall rules (docs/contracts.md):
//  - a minimum is missed when the spend in its period is below it; the
//    shortfall is minimum − spend, paid at the due date if take-or-pay;
//  - at the end of the term the shortfall is committed − (term spend + the
//    minimum shortfalls paid), paid if take-or-pay;
//  - a discount-only commitment pays no shortfall (it is still reported);
//  - a period that began before the ledger's start is pro-rated: only the
//    share of the requirement inside the run is asked of the run.
//
// Spend after a reading's instant `end` is projected (docs/contracts.md,
// "After the run"), one rule for obligations and for the lifetime cost:
//  - reserved capacity bills its installed GPUs per the pool's schedule at
//    its price while its contract is in force (known exactly);
//  - an award bills its GPUs at its price from its arrival (or `end`) to the
//    end of its term (known exactly);
//  - on-demand and spot pools continue at their mean spend over the last
//    kProjectionDays UTC days before `end` (from the contract's start when
//    later, from the ledger's start when sooner), while the contract is in
//    force; under no contract, to the lifetime end (LifetimeEnd).
//
// Thread-safety: not thread-safe; one owner (the scheduler) mutates it.
#ifndef POLYCLOUD_CONTRACTS_LEDGER_H_
#define POLYCLOUD_CONTRACTS_LEDGER_H_

#include <cstdint>
#include <map>
#include <vector>

#include "polycloud/base/units.h"
#include "polycloud/world/world.h"

namespace polycloud::contracts {

using Raw = __int128;  // micro-dollar × second / hour
Money RawToMoney(Raw raw);

// How placement values a GPU-hour (scheduler::Options::cost_model).
enum class CostModel : uint8_t {
  // Reserved and procured capacity is prepaid (0); spend under a take-or-pay
  // commitment that is projected to fall short is nearly free (a hundredth of
  // the discounted price), since it would be paid anyway; otherwise the
  // contract's discounted price.
  kContractAware,
  // The SkyPilot-style baseline: lowest list price, reservations at $0,
  // commitments and discounts ignored.
  kCheapestPrice,
};
const char* CostModelName(CostModel model);

// One minimum (or the term commitment) of a contract, settled or projected.
struct ObligationRow {
  Time from;
  Time until;       // due date
  Money required;   // the minimum or the commitment
  Money spent;      // in the period: counted up to the run's end
  Money projected;  // in the period: spent + the run-end rate × the rest of the period
  Money shortfall;  // required − projected (− paid minimum shortfalls for the term), ≥ 0
  bool due_in_run = false;  // the due date falls inside the run: `projected` == `spent`
  bool term = false;        // the whole-term commitment rather than a minimum
  // The period began before the ledger's start: `required` is the share of
  // the period inside the run (earlier spend is not known).
  bool prorated = false;
};

// Spend projected over a span after the reading's instant, by what bills.
struct ProjectedSpend {
  Money usage;     // on-demand and spot pools, at the mean of the last weeks
  Money reserved;  // reserved pools, per their installed schedule
  Money procured;  // awards, to the end of their terms
  Money total() const { return usage + reserved + procured; }
};

// One calendar year (UTC) of a contract's (or a provider's uncontracted)
// lifetime: spend in the run, spend projected after it, and the take-or-pay
// shortfall of the obligations whose period ends in that year.
struct YearRow {
  int64_t year = 0;
  Money spent;
  Money projected;
  Money shortfall;
};

// Spend the ledger does not bill itself but that counts toward a contract's
// obligations: the token-priced spend of `polycloud gateway` at the
// contract's deployments, per UTC day. A day counts toward an obligation
// whose window holds the day's start; after a reading it is projected at the
// mean of the last kProjectionDays days before it (the rule usage-billed
// pools follow).
struct ExternalSpend {
  std::map<int64_t, Money> by_day;  // UTC day number (days since 1970-01-01) → spend
};

struct ContractLedgerRow {
  world::ContractIndex contract = world::kNone;
  Money spent;                     // in the run
  ProjectedSpend projected_after;  // from the run's end to the end of the term
  Money rate_per_day;              // at the run's end
  Money shortfall_due;             // take-or-pay shortfalls falling due inside the run
  Money shortfall_projected;       // take-or-pay shortfalls falling due after the run
  Money shortfall_not_payable;     // discount-only shortfalls (not paid)
  // ExternalSpend, when given to Settle: to the reading and projected after
  // it to the term's end. Obligations (and the shortfalls above) count it;
  // `spent`, `projected_after` and `years` do not.
  Money external_spent;
  Money external_projected_after;
  std::vector<ObligationRow> obligations;  // minimums in order, then the term
  // The term's calendar years, each part rounded so that a column adds up to
  // the row's figures: Σ spent = spent, Σ projected = projected_after.total(),
  // Σ shortfall = shortfall_due + shortfall_projected.
  std::vector<YearRow> years;
};

// Spend under no contract at one provider, in the run and projected after it
// to the lifetime end (usage at the last weeks' mean, reserved per schedule,
// awards to their ends).
struct ProviderLedgerRow {
  world::ProviderIndex provider = world::kNone;
  Money spent;
  ProjectedSpend projected_after;
  std::vector<YearRow> years;  // the years with spend in the run or after it
};

// Days of the trailing window whose mean spend rate projects usage-billed
// pools after a reading's instant.
inline constexpr int64_t kProjectionDays = 28;

class CommitmentLedger {
 public:
  CommitmentLedger(const world::World& world, Time start);

  // Opens an account for a procurement award of `gpus` expected to arrive at
  // `arrives` and held until `ends`; returns its id. Bills nothing until
  // SetBillable; the term is what projections after a reading count on.
  int32_t AddAward(world::PoolIndex pool, Money price_per_gpu_hour, world::ContractIndex contract,
                   int64_t gpus, Time arrives, Time ends);

  // From `now` on, account `a` bills `gpus` GPUs. `now` never goes back.
  void SetBillable(int32_t account, int64_t gpus, Time now);

  // Spend attributed to a job or a service (for the report): `gpu_seconds`
  // used in `pool`, at the pool's effective price (reserved: the value of the
  // prepaid capacity used).
  void AttributeJob(world::JobIndex job, world::PoolIndex pool, int64_t gpu_seconds);
  void AttributeService(world::ServiceIndex service, world::PoolIndex pool, int64_t gpu_seconds);

  // The pool's price after its contract's discount (list price when none).
  Money EffectivePrice(world::PoolIndex pool) const;

  // Marginal price of one more GPU-hour in `pool` at `now` under `model`.
  Money MarginalPricePerGpuHour(world::PoolIndex pool, Time now, CostModel model) const;

  // Take-or-pay shortfall projected at `now` for the obligation in force (the
  // open minimum, else the term), at the current spend rate; 0 when on track.
  Money ProjectedShortfall(world::ContractIndex c, Time now) const;

  // An amendment of contract `c` (cmd::AmendContract), in two steps around
  // the replacement of its terms in the World: BeforeAmendment bills
  // everything up to `now` under the old terms; AfterAmendment bills its
  // pools at the new discount from `now` and counts against the new minimums
  // (those begun before `now` are unchanged, so what they hold stands).
  void BeforeAmendment(world::ContractIndex c, Time now);
  void AfterAmendment(world::ContractIndex c, Time now);

  // Brings every account up to `end` (a run's end; a live owner may call it
  // whenever it wants the per-day and per-pool figures brought up to date).
  void Close(Time end);

  // Readings at any instant `now` (>= every change so far), without Close:
  // spend up to `now`, exact. Settle (below) also takes any `now`.
  Money ContractSpendAt(world::ContractIndex c, Time now) const;
  Money PoolSpendAt(world::PoolIndex pool, Time now) const;

  // Readings as of the last Close (or of the last change of each account).
  Money PoolSpend(world::PoolIndex pool) const { return RawToMoney(pool_raw_[pool]); }
  // Spend attributed to a job (service) so far; jobs and services submitted
  // at run time count too (0 until they are billed).
  Money JobSpend(world::JobIndex job) const {
    return Money::FromMicros(static_cast<size_t>(job) < job_micros_.size() ? job_micros_[job] : 0);
  }
  Money ServiceSpend(world::ServiceIndex s) const {
    return Money::FromMicros(static_cast<size_t>(s) < service_micros_.size() ? service_micros_[s]
                                                                             : 0);
  }
  Money AwardSpend(int32_t account) const { return RawToMoney(account_raw_[account]); }
  Money ContractSpend(world::ContractIndex c) const { return RawToMoney(contracts_[c].total); }
  // Spend per UTC day of the run, day 0 = the day of the start; the days
  // grow past the world's end when a live owner keeps billing.
  int64_t days() const { return days_; }
  Time DayStart(int64_t day) const;
  Money ContractDay(world::ContractIndex c, int64_t day) const;
  Money ProviderDay(world::ProviderIndex p, int64_t day) const;  // spend under no contract
  // Every day of contract `c` (of provider `p` under no contract), rounded so
  // that each running sum is the running total rounded once: the days of any
  // span add up exactly to the span's share of ContractSpend, where days
  // rounded alone (ContractDay) may drift by a micro-dollar a day.
  std::vector<Money> ContractDays(world::ContractIndex c) const;
  std::vector<Money> ProviderDays(world::ProviderIndex p) const;
  // Settles and projects every obligation of contract `c` as of `end` (any
  // instant at or after the last change; spend to then, the rest projected
  // at the current rate).
  // Spend after `end` is projected by the rule at the top of this file.
  // `external`: spend counted toward the obligations besides the ledger's
  // own (ExternalSpend above).
  ContractLedgerRow Settle(world::ContractIndex c, Time end,
                           const ExternalSpend* external = nullptr) const;
  // Spend under no contract at provider `p`, to `end` and projected after it
  // to LifetimeEnd(end).
  ProviderLedgerRow SettleProvider(world::ProviderIndex p, Time end) const;
  // The end of the latest term: every contract's end and every award's,
  // never before `end`.
  Time LifetimeEnd(Time end) const;

 private:
  struct Account {
    world::PoolIndex pool = world::kNone;
    world::ContractIndex contract = world::kNone;
    world::ProviderIndex provider = world::kNone;
    int64_t price = 0;  // micro-dollars per GPU-hour, after discount
    int64_t billable = 0;
    Time since;
    bool usage = false;  // a pool billing the GPUs in use (on-demand, spot)
    bool award = false;
    int64_t term_gpus = 0;  // awards: GPUs held from term_from to term_until
    Time term_from, term_until;
  };
  // Raw of accounts in contract `c` (provider `p` under no contract, when c
  // is kNone) projected over [from, until) after `end`, split by kind.
  struct ProjectedRaw {
    // Usage is the window's mean rate × the span: usage_num / usage_den,
    // kept apart so that spans add up before the one division.
    Raw usage_num = 0;
    int64_t usage_den = 0;
    Raw reserved = 0, procured = 0;
    Raw usage() const { return usage_den > 0 ? usage_num / usage_den : 0; }
  };
  ProjectedRaw Project(world::ContractIndex c, world::ProviderIndex p, Time end, Time from,
                       Time until) const;
  // Usage raw over the trailing window before `end` and its length in seconds.
  std::pair<Raw, int64_t> UsageWindow(world::ContractIndex c, world::ProviderIndex p,
                                      Time end) const;
  // Calendar years of [first, last) with the bucketed spend of `days` and projections.
  std::vector<YearRow> Years(world::ContractIndex c, world::ProviderIndex p, Time end, Time until,
                             const std::vector<Raw>& days) const;
  struct ContractBook {
    Raw rate = 0;   // raw per second
    Raw total = 0;  // raw up to `since`
    Time since;
    size_t period = 0;            // first minimum not yet past
    std::vector<Raw> period_raw;  // per minimum
  };
  void Flush(Account& a, Time now);
  void Advance(world::ContractIndex c, Time now);
  void AddDay(const Account& a, int64_t day, Raw raw);
  // Raw billed by account `a` since its last flush, up to `now`.
  Raw Pending(const Account& a, Time now) const;
  // Raw spent in period `k` of `c` (or the whole term when k == minimums) by `t` >= since.
  Raw SpentBy(world::ContractIndex c, size_t k, Time t) const;
  // `amount` due over [from, until), less the share before the ledger's start.
  Raw Required(Money amount, Time from, Time until) const;

  const world::World& world_;
  Time start_;
  int64_t first_day_ = 0;  // UTC day number of the start
  int64_t days_ = 0;
  std::vector<Account> accounts_;
  std::vector<Raw> account_raw_;
  std::vector<Raw> pool_raw_;
  std::vector<ContractBook> contracts_;
  std::vector<std::vector<Raw>> contract_days_;  // [contract][day]
  std::vector<std::vector<Raw>> provider_days_;  // [provider][day], spend under no contract
  // The usage-billed share of the two above (on-demand and spot pools).
  std::vector<std::vector<Raw>> usage_days_;
  std::vector<std::vector<Raw>> usage_provider_days_;
  std::vector<int64_t> job_micros_;
  std::vector<int64_t> service_micros_;
};

}  // namespace polycloud::contracts

#endif  // POLYCLOUD_CONTRACTS_LEDGER_H_
