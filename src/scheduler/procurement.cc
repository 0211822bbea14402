// The capacity planner: unmet demand → capacity requests → right of first
// refusal → market → capacity arriving and leaving. See docs/contracts.md.
#include <algorithm>
#include <limits>

#include "polycloud/scheduler/scheduler.h"
#include "polycloud/world/magnitudes.h"

namespace polycloud::scheduler {
namespace {

// The smallest power of two >= gpus: requests are per class of gang size.
int64_t GangBucket(int64_t gpus) {
  int64_t b = 1;
  while (b < gpus) b <<= 1;
  return b;
}

bool Allows(const std::vector<world::AcceleratorIndex>& allowed, world::AcceleratorIndex a) {
  return allowed.empty() || std::find(allowed.begin(), allowed.end(), a) != allowed.end();
}

}  // namespace

void Scheduler::Wake(WakeKind kind, int32_t index, Time now) {
  switch (kind) {
    case WakeKind::kProcurementReview:
      ReviewUnmetDemand(now);
      if (timer_ != nullptr) {
        timer_->AtTime(now + world_.procurement.review_every, WakeKind::kProcurementReview, 0);
      }
      break;
    case WakeKind::kRofrWindowCloses: {
      CapacityRequest& r = requests_[index];
      if (r.status != CapacityRequest::Status::kAwaitingAnswer) break;
      r.answer = CapacityRequest::Answer::kExpired;
      Emit({now, EventType::kRofrExpired, index, world::kNone, r.gpus, 0, r.rofr_contract});
      GoToMarket(index, now);
      break;
    }
    case WakeKind::kCapacityEnds:
      CapacityEnds(index, now);
      break;
    case WakeKind::kContractTerms:
      ContractsChanged(now);
      break;
    case WakeKind::kSpendMonth:
      SpendMonthBegins(now);
      break;
  }
}

void Scheduler::ReviewUnmetDemand(Time now) {
  const world::Procurement& pr = world_.procurement;
  struct Unmet {
    int64_t gpus = 0;  // GPUs to run the work left within unmet_after
    int64_t largest = 0;
    int32_t jobs = 0;
    world::JobIndex oldest = world::kNone;
    Time oldest_since = Time::Max();
  };
  std::map<std::pair<int32_t, int64_t>, Unmet> unmet;
  for (const QueueKey& k : queue_) {
    const JobState& s = jobs_[k.job];
    if (now - s.queued_since < pr.unmet_after) continue;
    const world::Job& job = job_spec(k.job);
    Unmet& u = unmet[{job_shape_[k.job], GangBucket(job.gpus)}];
    // A job can use no more than its gang at once.
    const int64_t horizon = pr.unmet_after.seconds();
    u.gpus += std::min(job.gpus, (s.remaining_work + horizon - 1) / horizon);
    u.largest = std::max(u.largest, job.gpus);
    ++u.jobs;
    if (s.queued_since < u.oldest_since || (s.queued_since == u.oldest_since && k.job < u.oldest)) {
      u.oldest_since = s.queued_since;
      u.oldest = k.job;
    }
  }
  for (const auto& [key, u] : unmet) {
    ClassState& cs = classes_[key];
    if (cs.outstanding || now < cs.next_allowed) continue;
    cs.outstanding = true;
    CapacityRequest r;
    r.shape = key.first;
    r.gang_bucket = key.second;
    // Enough GPUs to clear the class's backlog within `unmet_after`, and at
    // least its largest gang.
    r.gpus = std::max(u.largest, u.gpus);
    r.largest_gang = u.largest;
    r.waiting_jobs = u.jobs;
    r.oldest_job = u.oldest;
    r.raised = now;
    r.duration = pr.term;
    requests_.push_back(std::move(r));
    RaiseRequest(static_cast<int32_t>(requests_.size() - 1), now);
  }
}

void Scheduler::RaiseRequest(int32_t id, Time now) {
  CapacityRequest& r = requests_[id];
  Emit(
      {now, EventType::kCapacityRequested, id, world::kNone, r.gpus, r.waiting_jobs, r.oldest_job});
  const world::Job& example = job_spec(shape_example_[r.shape]);
  // The first clause in force whose scope covers the request gives its holder
  // the first refusal.
  for (size_t c = 0; c < world_.contracts.size() && r.rofr_contract == world::kNone; ++c) {
    const world::Contract& contract = world_.contracts[c];
    for (size_t k = 0; k < contract.rofr.size(); ++k) {
      const world::RofrClause& clause = contract.rofr[k];
      if (now < clause.from || now >= clause.until) continue;
      if (clause.workload_class != "*" && clause.workload_class != example.workload_class) continue;
      bool covers = clause.accelerators.empty() || example.accelerators.empty();
      for (auto a : clause.accelerators) covers = covers || Allows(example.accelerators, a);
      if (!covers) continue;
      r.rofr_contract = static_cast<world::ContractIndex>(c);
      r.rofr_clause = static_cast<int32_t>(k);
      r.holder = contract.provider;
      r.window_closes = now + clause.response_window;
      break;
    }
  }
  if (r.rofr_contract == world::kNone) {
    GoToMarket(id, now);
    return;
  }
  // The terms the holder is asked to match: the best offer of anyone else now.
  r.market_offer = BestOffer(r, r.holder, world::kNone, OfferTerms{}, now, nullptr);
  r.market_gpus = r.market_offer >= 0 ? OfferQuantity(r, r.market_offer, now) : 0;
  Emit({now, EventType::kRofrOffered, id, world::kNone, r.gpus, r.window_closes.unix_seconds(),
        r.rofr_contract});
  // The holder answers with cmd::RofrAnswered; an answer at the instant the
  // window closes is too late: the window is [offered, closes), like every
  // other interval in polycloud.
  if (timer_ != nullptr) timer_->AtTime(r.window_closes, WakeKind::kRofrWindowCloses, id);
}

int64_t Scheduler::OfferQuantity(const CapacityRequest& r, int32_t offer, Time now) const {
  const world::Offer& o = world_.procurement.offers[offer];
  const int64_t node = std::max<int64_t>(1, world_.pools[o.pool].gpus_per_node);
  const int64_t asked = (r.gpus + node - 1) / node * node;
  const int64_t left = (o.max_gpus - offer_sold_[offer]) / node * node;
  const int64_t room = PowerRoomGpus(o.pool, now + o.lead_time, now + o.lead_time + r.duration);
  return std::max<int64_t>(0, std::min({asked, left, room / node * node}));
}

int64_t Scheduler::PowerRoomGpus(world::PoolIndex pool, Time from, Time until) const {
  const world::SiteIndex s = world_.pools[pool].site;
  const world::Site& site = world_.sites[s];
  if (!site.power_limited) return std::numeric_limits<int64_t>::max();
  // The same rule as validation (world/power.h): everything installed at the
  // site fits at full board power, at every instant of the term. Awards at
  // the site held or due during the term count whole.
  std::vector<Time> instants = {from};
  for (const auto& pt : site.power.points()) {
    if (pt.at > from && pt.at < until) instants.push_back(pt.at);
  }
  __int128 awarded = 0;
  for (size_t p = 0; p < world_.pools.size(); ++p) {
    if (world_.pools[p].site != s) continue;
    for (const auto& pt : world_.pools[p].gpus.points()) {
      if (pt.at > from && pt.at < until) instants.push_back(pt.at);
    }
  }
  for (const CapacityRequest& q : requests_) {
    if (q.pool == world::kNone || world_.pools[q.pool].site != s) continue;
    if (q.status != CapacityRequest::Status::kAwarded &&
        q.status != CapacityRequest::Status::kArrived) {
      continue;
    }
    if (q.ends <= from || q.arrives >= until) continue;
    awarded += static_cast<__int128>(q.awarded_gpus) * fleet_.info(q.pool).power_per_gpu_milli;
  }
  __int128 room = std::numeric_limits<int64_t>::max();
  for (Time t : instants) {
    const __int128 limit = static_cast<__int128>(site.power.At(t).watts()) * 1000;
    __int128 installed = 0;
    for (size_t p = 0; p < world_.pools.size(); ++p) {
      if (world_.pools[p].site != s) continue;
      installed += static_cast<__int128>(world_.pools[p].gpus.At(t)) *
                   fleet_.info(static_cast<world::PoolIndex>(p)).power_per_gpu_milli;
    }
    room = std::min(room, limit - installed - awarded);
  }
  const int64_t per_gpu = fleet_.info(pool).power_per_gpu_milli;
  if (room <= 0 || per_gpu <= 0) return room <= 0 ? 0 : std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(std::min<__int128>(room / per_gpu, world::kMaxGpus));
}

std::string Scheduler::OfferRejection(const CapacityRequest& r, int32_t offer,
                                      const OfferTerms& terms, Time now) const {
  const world::Job& example = job_spec(shape_example_[r.shape]);
  const world::Offer& o = world_.procurement.offers[offer];
  if (!Allows(example.accelerators, o.accelerator)) {
    return "offer " + o.id + " sells " + world_.accelerators[o.accelerator].name +
           ", which the work cannot use";
  }
  const world::Pool& pool = world_.pools[o.pool];
  const int64_t gpus = OfferQuantity(r, offer, now);
  const int64_t node = std::max<int64_t>(1, pool.gpus_per_node);
  const int64_t gang = (r.largest_gang + node - 1) / node * node;
  if (r.largest_gang > world::EffectiveMaxGang(pool)) {
    return "offer " + o.id + " cannot run a gang of " + std::to_string(r.largest_gang) +
           " GPUs in one fabric";
  }
  if (gpus < gang || gpus < terms.min_gpus) {
    const int64_t room = PowerRoomGpus(o.pool, now + o.lead_time, now + o.lead_time + r.duration);
    if (room < std::max(gang, terms.min_gpus) && room < o.max_gpus - offer_sold_[offer]) {
      return "offer " + o.id + ": site " + world_.sites[pool.site].id + " has power for " +
             std::to_string(room) + " more GPUs at full board power over the term, " +
             std::to_string(std::max(gang, terms.min_gpus)) + " needed";
    }
    return "offer " + o.id + " has " + std::to_string(o.max_gpus - offer_sold_[offer]) +
           " GPUs left, " + std::to_string(std::max(gang, terms.min_gpus)) + " needed";
  }
  if (!rules_
           .Check(example.workload_class, example.model_family, o.provider, now + o.lead_time,
                  no_outage_)
           .allowed) {
    return "class " + example.workload_class + " may not run at " +
           world_.providers[o.provider].id + " when the capacity would arrive";
  }
  if (terms.max_lead.seconds() >= 0 && o.lead_time > terms.max_lead) {
    return "offer " + o.id + " arrives in " + FormatDuration(o.lead_time) + ", the market's in " +
           FormatDuration(terms.max_lead);
  }
  if (terms.max_ref_price.micros() >= 0 && RefPrice(offer) > terms.max_ref_price.micros()) {
    return "offer " + o.id + " costs " + FormatMoneyShort(Money::FromMicros(RefPrice(offer))) +
           "/ref-GPU-h, the market " + FormatMoneyShort(terms.max_ref_price);
  }
  return {};
}

int64_t Scheduler::RefPrice(int32_t offer) const {
  const world::Offer& o = world_.procurement.offers[offer];
  return MulDivRound(o.price_per_gpu_hour.micros(), 1000,
                     world_.accelerators[o.accelerator].speed_milli);
}

int32_t Scheduler::BestOffer(const CapacityRequest& r, world::ProviderIndex exclude,
                             world::ProviderIndex only, const OfferTerms& terms, Time now,
                             std::string* why) const {
  const auto& offers = world_.procurement.offers;
  int32_t best = -1;
  int64_t best_price = 0;
  for (size_t i = 0; i < offers.size(); ++i) {
    const world::Offer& o = offers[i];
    if (o.provider == exclude) continue;
    if (only != world::kNone && o.provider != only) continue;
    const int32_t offer = static_cast<int32_t>(i);
    // An offer of a type the work cannot use is not a candidate at all.
    const world::Job& example = job_spec(shape_example_[r.shape]);
    if (!Allows(example.accelerators, o.accelerator)) continue;
    const std::string rejected = OfferRejection(r, offer, terms, now);
    if (!rejected.empty()) {
      if (why != nullptr && why->empty()) *why = rejected;
      continue;
    }
    const int64_t ref_price = RefPrice(offer);
    if (best < 0 || ref_price < best_price ||
        (ref_price == best_price && o.lead_time < offers[best].lead_time)) {
      best = offer;
      best_price = ref_price;
    }
  }
  if (best < 0 && why != nullptr && why->empty()) *why = "no offer for this capacity class";
  return best;
}

Scheduler::OfferTerms Scheduler::MarketTerms(const CapacityRequest& r) const {
  // The holder matches when it can supply as many GPUs as the market offered,
  // at or under the market's price per reference GPU-hour and no later.
  OfferTerms terms;
  if (r.market_offer >= 0) {
    terms.max_ref_price = Money::FromMicros(RefPrice(r.market_offer));
    terms.max_lead = world_.procurement.offers[r.market_offer].lead_time;
    terms.min_gpus = r.market_gpus;
  }
  return terms;
}

int32_t Scheduler::HolderOffer(int32_t request, Time now, std::string* why) const {
  const CapacityRequest& r = requests_[request];
  return BestOffer(r, world::kNone, r.holder, MarketTerms(r), now, why);
}

void Scheduler::AnswerRofr(int32_t id, int32_t offer, const std::string& reason, Time now) {
  CapacityRequest& r = requests_[id];
  r.answered = now;
  if (offer >= 0) {
    r.answer = CapacityRequest::Answer::kMatched;
    Emit({now, EventType::kRofrMatched, id, world_.procurement.offers[offer].pool, r.gpus, 0,
          r.rofr_contract});
    Award(id, offer, true, now);
    return;
  }
  r.answer = CapacityRequest::Answer::kDeclined;
  r.decline_reason = reason;
  Emit({now, EventType::kRofrDeclined, id, world::kNone, r.gpus, 0, r.rofr_contract});
  GoToMarket(id, now);
}

void Scheduler::GoToMarket(int32_t id, Time now) {
  CapacityRequest& r = requests_[id];
  // After a refusal (declined or expired) the holder is out of this round.
  const world::ProviderIndex exclude =
      r.answer == CapacityRequest::Answer::kNone ? world::kNone : r.holder;
  const int32_t offer = BestOffer(r, exclude, world::kNone, OfferTerms{}, now, nullptr);
  if (offer < 0) {
    r.status = CapacityRequest::Status::kUnavailable;
    SettleClass(r, now);
    Emit({now, EventType::kCapacityUnavailable, id, world::kNone, r.gpus, 0, 0});
    return;
  }
  Award(id, offer, false, now);
}

void Scheduler::Award(int32_t id, int32_t offer_index, bool via_rofr, Time now) {
  CapacityRequest& r = requests_[id];
  const world::Offer& o = world_.procurement.offers[offer_index];
  r.status = CapacityRequest::Status::kAwarded;
  r.offer = offer_index;
  r.pool = o.pool;
  r.price_per_gpu_hour = o.price_per_gpu_hour;
  // All asked, or what the offer has left, or what the site's power holds.
  r.awarded_gpus = OfferQuantity(r, offer_index, now);
  r.via_rofr = via_rofr;
  r.awarded = now;
  r.arrives = now + o.lead_time;
  // A site with a build rate builds the awards' power one after another: an
  // award's power at full board draw takes power ÷ rate to build, from the
  // award or the end of the site's previous build, whichever is later; the
  // capacity arrives when both its lead time and its build are done.
  const world::SiteIndex site = world_.pools[o.pool].site;
  const Power rate = world_.sites[site].build_rate_per_week;
  if (rate > Power() && r.awarded_gpus > 0) {
    const __int128 need_milli =
        static_cast<__int128>(r.awarded_gpus) * fleet_.info(o.pool).power_per_gpu_milli;
    const __int128 week_milli = static_cast<__int128>(rate.watts()) * 1000;
    const int64_t build_s =
        static_cast<int64_t>((need_milli * 604'800 + week_milli - 1) / week_milli);
    const Time ready = std::max(now, site_build_free_[site]) + Duration::Seconds(build_s);
    site_build_free_[site] = ready;
    r.arrives = std::max(r.arrives, ready);
  }
  r.ends = r.arrives + r.duration;
  r.account =
      ledger_.AddAward(o.pool, o.price_per_gpu_hour, o.contract, r.awarded_gpus, r.arrives, r.ends);
  offer_sold_[offer_index] += r.awarded_gpus;
  // The provider delivers it (cmd::CapacityDelivered), expected at r.arrives.
  Emit({now, EventType::kCapacityAwarded, id, o.pool, r.awarded_gpus, o.price_per_gpu_hour.micros(),
        via_rofr ? 1 : 0});
}

void Scheduler::SettleClass(const CapacityRequest& r, Time now) {
  ClassState& cs = classes_[{r.shape, r.gang_bucket}];
  cs.outstanding = false;
  cs.next_allowed = now + world_.procurement.unmet_after;
}

void Scheduler::CapacityArrives(int32_t id, Time now) {
  CapacityRequest& r = requests_[id];
  r.status = CapacityRequest::Status::kArrived;
  r.arrives = now;
  Emit({now, EventType::kCapacityArrived, id, r.pool, r.awarded_gpus, 0, 0});
  procured_[r.pool] += r.awarded_gpus;
  PoolInstalledChanged(r.pool, now);
  ledger_.SetBillable(r.account, r.awarded_gpus, now);
  SettleClass(r, now);  // it may ask again once the new capacity had time to absorb it
  if (timer_ != nullptr) timer_->AtTime(r.ends, WakeKind::kCapacityEnds, id);
}

void Scheduler::CapacityEnds(int32_t id, Time now) {
  CapacityRequest& r = requests_[id];
  if (r.status != CapacityRequest::Status::kArrived) return;
  r.status = CapacityRequest::Status::kEnded;
  Emit({now, EventType::kCapacityReleased, id, r.pool, r.awarded_gpus, 0, 0});
  procured_[r.pool] -= r.awarded_gpus;
  PoolInstalledChanged(r.pool, now);
  ledger_.SetBillable(r.account, 0, now);
}

}  // namespace polycloud::scheduler
