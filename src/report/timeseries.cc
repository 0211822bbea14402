#include "polycloud/report/timeseries.h"

#include <algorithm>
#include <limits>

#include "polycloud/base/parse.h"
#include "polycloud/report/report.h"
#include "render.h"

namespace polycloud::report {
namespace {

using scheduler::EventType;

constexpr int64_t kRoundWidths[] = {
    60,    300,   600,    900,    1800,    3600,    2 * 3600, 3 * 3600, 6 * 3600,
    43200, 86400, 172800, 604800, 1209600, 2592000, 7776000,  31536000,
};

// Power drawn over the limit at one instant, thousandths (0 without a limit).
int64_t ShareOfLimit(const placement::SiteState& s) {
  if (!s.limited || s.capacity.watts() <= 0) return 0;
  return MulDivRound(s.used.watts(), 1000, s.capacity.watts());
}

int64_t Clamp(__int128 v) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  return v > kMax ? kMax : v < -kMax ? -kMax : static_cast<int64_t>(v);
}

}  // namespace

int64_t TimeSeries::BucketSeconds(int32_t i) const {
  const Time from = BucketStart(i);
  const Time to = std::min(from + bucket, end);
  return std::max<int64_t>(0, (to - from).seconds());
}

Duration BucketWidth(Duration span) {
  const int64_t s = std::max<int64_t>(1, span.seconds());
  for (int64_t w : kRoundWidths) {
    if ((s + w - 1) / w <= kMaxBuckets) return Duration::Seconds(w);
  }
  // Longer than 800 years: whole days.
  const int64_t days = (s / kMaxBuckets + 86399) / 86400 + 1;
  return Duration::Days(days);
}

void TimeSeriesRecorder::Level::Set(int64_t v, Time at) {
  area += static_cast<__int128>(value) * (at - since).seconds();
  since = at;
  value = v;
  peak = std::max(peak, v);
  low = std::min(low, v);
}

void TimeSeriesRecorder::Level::Close(Time boundary) {
  area += static_cast<__int128>(value) * (boundary - since).seconds();
  out.area.push_back(Clamp(area));
  out.peak.push_back(peak);
  out.low.push_back(low);
  area = 0;
  since = boundary;
  peak = low = value;
}

TimeSeriesRecorder::TimeSeriesRecorder(const world::World& world,
                                       const scheduler::Scheduler& scheduler)
    : world_(world), sched_(scheduler) {
  ts_.end = world.end;
  ts_.bucket = BucketWidth(world.end - world.start);
  Init(world.start);
}

TimeSeriesRecorder::TimeSeriesRecorder(const world::World& world,
                                       const scheduler::Scheduler& scheduler, LiveWindow window)
    : world_(world), sched_(scheduler), live_(true) {
  POLYCLOUD_CHECK(window.bucket.seconds() > 0);  // a live window's buckets need a width
  ts_.end = Time::Max();
  ts_.bucket = window.bucket;
  Init(window.start);
}

void TimeSeriesRecorder::Init(Time start) {
  const world::World& world = world_;
  ts_.start = start;
  now_ = start;
  bucket_end_ = std::min(start + ts_.bucket, ts_.end);
  const placement::FleetState& fleet = sched_.fleet();

  // Providers: the sums of their pools.
  ts_.providers.resize(world.providers.size());
  std::vector<int64_t> installed(world.providers.size()), usable(world.providers.size()),
      used(world.providers.size());
  pools_.resize(world.pools.size());
  for (size_t p = 0; p < world.pools.size(); ++p) {
    const placement::PoolState& s = fleet.pool(static_cast<world::PoolIndex>(p));
    pools_[p] = PoolTrack{s.installed, s.capacity, s.used, -1};
    installed[world.pools[p].provider] += s.installed;
    usable[world.pools[p].provider] += s.capacity;
    used[world.pools[p].provider] += s.used;
  }
  for (size_t p = 0; p < world.providers.size(); ++p) {
    ts_.providers[p].id = world.providers[p].id;
    provider_levels_.push_back(NewLevel(installed[p]));
    provider_levels_.push_back(NewLevel(usable[p]));
    provider_levels_.push_back(NewLevel(used[p]));
  }

  // Pools: the largest at their peak.
  std::vector<int32_t> order(world.pools.size());
  for (size_t p = 0; p < order.size(); ++p) order[p] = static_cast<int32_t>(p);
  std::vector<int64_t> peak(world.pools.size());
  for (size_t p = 0; p < world.pools.size(); ++p) peak[p] = world.pools[p].gpus.Max();
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return peak[a] > peak[b]; });
  order.resize(std::min<size_t>(order.size(), kMaxPools));
  std::sort(order.begin(), order.end());  // scenario order in the report
  ts_.pools_total = static_cast<int32_t>(world.pools.size());
  for (int32_t p : order) {
    const world::Pool& pool = world.pools[p];
    FleetSeries f;
    f.id = pool.id;
    f.provider = world.providers[pool.provider].id;
    f.site = world.sites[pool.site].id;
    f.accelerator = world.accelerators[pool.accelerator].name;
    ts_.pools.push_back(std::move(f));
    pools_[p].level = NewLevel(pools_[p].installed);
    NewLevel(pools_[p].usable);
    NewLevel(pools_[p].used);
  }

  // Sites: limited ones nearest their limit first (the most each could draw
  // over its lowest limit), then the largest unlimited ones.
  const size_t sites = world.sites.size();
  std::vector<int64_t> could_draw(sites, 0), lowest_limit(sites, 0);
  for (size_t p = 0; p < world.pools.size(); ++p) {
    const Power w = fleet.FullPowerOf(static_cast<world::PoolIndex>(p), peak[p]);
    could_draw[world.pools[p].site] += w.watts();
  }
  for (size_t s = 0; s < sites; ++s) {
    int64_t low = std::numeric_limits<int64_t>::max();
    for (const auto& pt : world.sites[s].power.points()) low = std::min(low, pt.value.watts());
    lowest_limit[s] = std::max<int64_t>(1, low);
  }
  std::vector<int32_t> site_order(sites);
  for (size_t s = 0; s < sites; ++s) site_order[s] = static_cast<int32_t>(s);
  std::stable_sort(site_order.begin(), site_order.end(), [&](int32_t a, int32_t b) {
    const bool la = world.sites[a].power_limited, lb = world.sites[b].power_limited;
    if (la != lb) return la;
    if (!la) return could_draw[a] > could_draw[b];
    // could_draw[a] / lowest_limit[a] > could_draw[b] / lowest_limit[b], exactly.
    return static_cast<__int128>(could_draw[a]) * lowest_limit[b] >
           static_cast<__int128>(could_draw[b]) * lowest_limit[a];
  });
  site_order.resize(std::min<size_t>(sites, kMaxSites));
  std::sort(site_order.begin(), site_order.end());
  site_choice_.assign(sites, -1);
  ts_.sites_total = static_cast<int32_t>(sites);
  for (int32_t s : site_order) {
    const world::Site& site = world.sites[s];
    site_choice_[s] = static_cast<int32_t>(ts_.sites.size());
    SitePowerSeries p;
    p.id = site.id;
    p.provider = world.providers[site.provider].id;
    p.limited = site.power_limited;
    ts_.sites.push_back(std::move(p));
    site_levels_.push_back(NewLevel(fleet.site(s).used.watts()));
    site_levels_.push_back(NewLevel(fleet.site(s).capacity.watts()));
    site_levels_.push_back(NewLevel(ShareOfLimit(fleet.site(s))));
    pending_share_.push_back(-1);
  }

  // Services: demand from the world's schedule, replicas from the scheduler.
  const size_t services = std::min<size_t>(world.services.size(), kMaxServices);
  services_.resize(services);
  for (size_t s = 0; s < services; ++s) {
    const world::Service& svc = world.services[s];
    ServiceTrack& t = services_[s];
    ServiceSeries out;
    out.id = svc.id;
    ts_.services.push_back(std::move(out));
    t.demand = svc.demand_tokens_per_s.At(start);
    const auto& points = svc.demand_tokens_per_s.points();
    while (t.next_point < points.size() && points[t.next_point].at <= start) ++t.next_point;
    t.capacity = sched_.services()[s].capacity;
    t.demand_level = NewLevel(t.demand);
    t.served_level = NewLevel(std::min(t.capacity, t.demand));
    t.provider_level.assign(world.providers.size(), -1);
    const std::vector<int32_t>& per_provider = sched_.services()[s].per_provider;
    for (size_t p = 0; p < per_provider.size() && p < t.provider_level.size(); ++p) {
      if (per_provider[p] > 0) t.provider_level[p] = NewLevel(per_provider[p]);
    }
  }

  // Classes in order of first appearance among the world's jobs (via their
  // shapes, which the scheduler numbered in that order).
  for (size_t j = 0; j < world.jobs.size(); ++j) ClassOf(static_cast<world::JobIndex>(j));
}

int32_t TimeSeriesRecorder::NewLevel(int64_t value) {
  Level l;
  l.value = value;
  l.since = ts_.BucketStart(ts_.buckets);
  l.peak = l.low = value;
  // A level that appears mid-run was 0 in the buckets already closed.
  l.out.area.assign(ts_.buckets, 0);
  l.out.peak.assign(ts_.buckets, 0);
  l.out.low.assign(ts_.buckets, 0);
  levels_.push_back(std::move(l));
  return static_cast<int32_t>(levels_.size() - 1);
}

int32_t TimeSeriesRecorder::ClassOf(world::JobIndex job) {
  const int32_t shape = sched_.JobShape(job);
  if (static_cast<size_t>(shape) >= shape_class_.size()) shape_class_.resize(shape + 1, -1);
  int32_t& c = shape_class_[shape];
  if (c >= 0) return c;
  const std::string& name = sched_.job_spec(sched_.ShapeExample(shape)).workload_class;
  const std::string label =
      static_cast<int32_t>(ts_.classes.size()) < kMaxClasses ? name : std::string("other");
  for (size_t k = 0; k < ts_.classes.size(); ++k) {
    if (ts_.classes[k].name == name || ts_.classes[k].name == label) {
      c = static_cast<int32_t>(k);
      return c;
    }
  }
  ClassSeries series;
  series.name = label;
  series.started.assign(ts_.buckets, 0);
  series.wait_p50.assign(ts_.buckets, -1);
  series.wait_p90.assign(ts_.buckets, -1);
  series.wait_p99.assign(ts_.buckets, -1);
  ts_.classes.push_back(std::move(series));
  class_levels_.push_back(NewLevel(0));
  bucket_waits_.emplace_back();
  c = static_cast<int32_t>(ts_.classes.size() - 1);
  return c;
}

void TimeSeriesRecorder::FlushShares() {
  for (int32_t k : pending_sites_) {
    SetLevel(site_levels_[3 * k + 2], pending_share_[k], now_);
    pending_share_[k] = -1;
  }
  pending_sites_.clear();
}

void TimeSeriesRecorder::OnEvent(const scheduler::Event& e) {
  if (e.at > now_) {
    FlushShares();
    AdvanceTo(e.at);
    now_ = e.at;
  }
  auto queue = [&](int32_t job, int64_t delta) {
    const int32_t level = class_levels_[ClassOf(job)];
    SetLevel(level, levels_[level].value + delta, e.at);
  };
  switch (e.type) {
    case EventType::kJobArrived:
      queue(e.subject, +1);
      break;
    case EventType::kJobStarted: {
      RefreshPool(e.pool);
      queue(e.subject, -1);
      if (sched_.jobs()[e.subject].starts == 1) {
        const int32_t c = ClassOf(e.subject);
        bucket_waits_[c].push_back((e.at - sched_.job_spec(e.subject).arrival).seconds());
      }
      break;
    }
    case EventType::kJobPreempted:
    case EventType::kJobInterrupted:
    case EventType::kDispatchFailed:
      RefreshPool(e.pool);
      queue(e.subject, +1);
      break;
    case EventType::kJobCancelled:
      if (e.pool != world::kNone) {
        RefreshPool(e.pool);
      } else if (sched_.jobs()[e.subject].queued_since != Time::Min()) {
        queue(e.subject, -1);  // it was waiting (it had arrived and was not running)
      }
      break;
    case EventType::kJobFinished:
    case EventType::kCapacityArrived:
    case EventType::kCapacityReleased:
      RefreshPool(e.pool);
      break;
    case EventType::kPoolCapacity:
      RefreshPool(e.subject);
      break;
    case EventType::kReplicaStarted:
    case EventType::kReplicaStopped:
    case EventType::kReplicaLost:
      RefreshPool(e.pool);
      RefreshService(e.subject);
      break;
    case EventType::kSitePower:
      RefreshSite(e.subject);
      break;
    case EventType::kContractsChanged:
      ContractsChanging();
      break;
    default:
      break;
  }
}

// The scheduler reports a contract boundary before it applies it to the
// pools, and applying it reports nothing unless work is evicted: a pool whose
// contract starts or ends now gets the usable capacity FleetState will give
// it (none outside the contract; else installed, less cuts, unless down).
void TimeSeriesRecorder::ContractsChanging() {
  for (size_t p = 0; p < world_.pools.size(); ++p) {
    const world::Pool& pool = world_.pools[p];
    if (pool.contract == world::kNone) continue;
    const world::Contract& c = world_.contracts[pool.contract];
    const bool in_force = now_ >= c.start && now_ < c.end;
    const placement::PoolState& s = sched_.fleet().pool(static_cast<world::PoolIndex>(p));
    if (s.contract_in_force == in_force) continue;
    int64_t usable = 0;
    if (in_force && !s.down()) {
      usable = s.installed - MulDivRound(s.installed, std::min<int64_t>(s.cut_milli, 1000), 1000);
    }
    SetPool(static_cast<world::PoolIndex>(p), s.installed, usable, s.used);
  }
}

void TimeSeriesRecorder::RefreshPool(world::PoolIndex p) {
  if (p < 0 || static_cast<size_t>(p) >= pools_.size()) return;
  const placement::PoolState& s = sched_.fleet().pool(p);
  SetPool(p, s.installed, s.capacity, s.used);
  RefreshSite(world_.pools[p].site);
}

void TimeSeriesRecorder::SetPool(world::PoolIndex p, int64_t installed, int64_t usable,
                                 int64_t used) {
  PoolTrack& t = pools_[p];
  const world::ProviderIndex provider = world_.pools[p].provider;
  const int64_t now_values[3] = {installed, usable, used};
  int64_t* mine[3] = {&t.installed, &t.usable, &t.used};
  for (int k = 0; k < 3; ++k) {
    const int64_t delta = now_values[k] - *mine[k];
    if (delta == 0) continue;
    *mine[k] = now_values[k];
    const int32_t level = provider_levels_[provider * 3 + k];
    SetLevel(level, levels_[level].value + delta, now_);
    if (t.level >= 0) SetLevel(t.level + k, now_values[k], now_);
  }
}

void TimeSeriesRecorder::RefreshSite(world::SiteIndex s) {
  if (s < 0 || static_cast<size_t>(s) >= site_choice_.size()) return;
  const int32_t k = site_choice_[s];
  if (k < 0) return;
  const placement::SiteState& state = sched_.fleet().site(s);
  SetLevel(site_levels_[3 * k], state.used.watts(), now_);
  SetLevel(site_levels_[3 * k + 1], state.capacity.watts(), now_);
  // Within an instant a cut limit is applied before the work it evicts
  // leaves: the share is taken as the instant ends, not at each event.
  if (pending_share_[k] < 0) pending_sites_.push_back(k);
  pending_share_[k] = ShareOfLimit(state);
}

void TimeSeriesRecorder::RefreshService(world::ServiceIndex s) {
  if (s < 0 || static_cast<size_t>(s) >= services_.size()) return;
  ServiceTrack& t = services_[s];
  const scheduler::ServiceState& state = sched_.services()[s];
  for (size_t p = 0; p < state.per_provider.size() && p < t.provider_level.size(); ++p) {
    const int64_t n = state.per_provider[p];
    if (t.provider_level[p] < 0) {
      if (n == 0) continue;
      t.provider_level[p] = NewLevel(0);
    }
    SetLevel(t.provider_level[p], n, now_);
  }
  t.capacity = state.capacity;
  SetServed(t, now_);
}

void TimeSeriesRecorder::SetServed(ServiceTrack& t, Time at) {
  SetLevel(t.served_level, std::min(t.capacity, t.demand), at);
}

void TimeSeriesRecorder::StepDemand(Time t) {
  for (size_t s = 0; s < services_.size(); ++s) {
    ServiceTrack& track = services_[s];
    const auto& points = world_.services[s].demand_tokens_per_s.points();
    while (track.next_point < points.size() && points[track.next_point].at <= t) {
      const auto& pt = points[track.next_point++];
      track.demand = pt.value;
      SetLevel(track.demand_level, track.demand, pt.at);
      SetServed(track, pt.at);
    }
  }
}

void TimeSeriesRecorder::AdvanceTo(Time t) {
  while (bucket_end_ <= t && ts_.BucketStart(ts_.buckets) < ts_.end) {
    StepDemand(bucket_end_ - Duration::Seconds(1));
    CloseBucket();
  }
  StepDemand(std::min(t, ts_.end));
}

void TimeSeriesRecorder::CloseBucket() {
  for (Level& l : levels_) l.Close(bucket_end_);
  if (sched_.fleet().has_nodes()) {
    size_t k = 0;
    for (size_t p = 0; p < pools_.size() && k < ts_.pools.size(); ++p) {
      if (pools_[p].level < 0) continue;
      ts_.pools[k++].stranded.push_back(
          sched_.fleet().StrandedGpus(static_cast<world::PoolIndex>(p)));
    }
  }
  for (size_t c = 0; c < ts_.classes.size(); ++c) {
    ClassSeries& series = ts_.classes[c];
    std::vector<int64_t>& waits = bucket_waits_[c];
    series.started.push_back(static_cast<int64_t>(waits.size()));
    if (waits.empty()) {
      series.wait_p50.push_back(-1);
      series.wait_p90.push_back(-1);
      series.wait_p99.push_back(-1);
    } else {
      const Percentiles p = ComputePercentiles(waits);
      series.wait_p50.push_back(p.p50);
      series.wait_p90.push_back(p.p90);
      series.wait_p99.push_back(p.p99);
      waits.clear();
    }
  }
  ++ts_.buckets;
  bucket_end_ = std::min(bucket_end_ + ts_.bucket, ts_.end);
  // Dropped in batches, so a long replay does not shift every series at each bucket.
  if (live_ && ts_.buckets >= 2 * kMaxBuckets) DropOldestBuckets(ts_.buckets - kMaxBuckets);
}

// A live window keeps the latest kMaxBuckets: older ones fall off the front.
void TimeSeriesRecorder::DropOldestBuckets(int32_t n) {
  auto drop = [n](auto& v) { v.erase(v.begin(), v.begin() + std::min<size_t>(n, v.size())); };
  for (Level& l : levels_) {
    drop(l.out.area);
    drop(l.out.peak);
    drop(l.out.low);
  }
  for (FleetSeries& f : ts_.pools) drop(f.stranded);
  for (ClassSeries& c : ts_.classes) {
    drop(c.started);
    drop(c.wait_p50);
    drop(c.wait_p90);
    drop(c.wait_p99);
  }
  ts_.start = ts_.start + ts_.bucket * n;
  ts_.buckets -= n;
}

TimeSeries TimeSeriesRecorder::Snapshot(Time now) const {
  TimeSeriesRecorder copy = *this;
  return copy.Finish(now);
}

TimeSeries TimeSeriesRecorder::Finish(Time end) {
  FlushShares();
  ts_.end = std::min(ts_.end, end);
  bucket_end_ = std::min(bucket_end_, ts_.end);
  AdvanceTo(ts_.end);
  if (live_ && ts_.buckets > kMaxBuckets) DropOldestBuckets(ts_.buckets - kMaxBuckets);
  TimeSeries out = std::move(ts_);
  for (size_t p = 0; p < out.providers.size(); ++p) {
    out.providers[p].installed = Take(provider_levels_[3 * p]);
    out.providers[p].usable = Take(provider_levels_[3 * p + 1]);
    out.providers[p].used = Take(provider_levels_[3 * p + 2]);
  }
  size_t k = 0;
  for (const PoolTrack& t : pools_) {
    if (t.level < 0) continue;
    out.pools[k].installed = Take(t.level);
    out.pools[k].usable = Take(t.level + 1);
    out.pools[k].used = Take(t.level + 2);
    ++k;
  }
  for (size_t s = 0; s < out.sites.size(); ++s) {
    out.sites[s].drawn = Take(site_levels_[3 * s]);
    out.sites[s].limit = Take(site_levels_[3 * s + 1]);
    out.sites[s].share_of_limit = Take(site_levels_[3 * s + 2]);
  }
  for (size_t s = 0; s < services_.size(); ++s) {
    ServiceSeries& series = out.services[s];
    series.demand = Take(services_[s].demand_level);
    series.served = Take(services_[s].served_level);
    for (size_t p = 0; p < services_[s].provider_level.size(); ++p) {
      if (services_[s].provider_level[p] < 0) continue;
      series.replicas_by_provider.emplace_back(world_.providers[p].id,
                                               Take(services_[s].provider_level[p]));
    }
  }
  for (size_t c = 0; c < out.classes.size(); ++c) out.classes[c].queued = Take(class_levels_[c]);
  levels_.clear();
  return out;
}

}  // namespace polycloud::report

namespace polycloud::report {
namespace {

// Round half up of a ÷ b for a >= 0, b > 0.
__int128 RoundDiv(__int128 a, int64_t b) { return (2 * a + b) / (2 * static_cast<__int128>(b)); }

// The mean of each bucket, to a tenth (an integer when it is whole).
Json Means(const TimeSeries& ts, const std::vector<int64_t>& area) {
  Json out = Json::array();
  for (size_t i = 0; i < area.size(); ++i) {
    const int64_t secs = ts.BucketSeconds(static_cast<int32_t>(i));
    const int64_t tenths =
        secs > 0 ? Clamp(RoundDiv(static_cast<__int128>(area[i]) * 10, secs)) : 0;
    if (tenths % 10 == 0) {
      out.push_back(tenths / 10);
    } else {
      out.push_back(static_cast<double>(tenths) / 10.0);
    }
  }
  return out;
}

// The mean of each bucket, rounded to a whole number.
Json WholeMeans(const TimeSeries& ts, const std::vector<int64_t>& area) {
  Json out = Json::array();
  for (size_t i = 0; i < area.size(); ++i) {
    const int64_t secs = ts.BucketSeconds(static_cast<int32_t>(i));
    out.push_back(secs > 0 ? Clamp(RoundDiv(area[i], secs)) : 0);
  }
  return out;
}

Json OrNull(const std::vector<int64_t>& v) {
  Json out = Json::array();
  for (int64_t x : v) out.push_back(x < 0 ? Json(nullptr) : Json(x));
  return out;
}

Json FleetJson(const TimeSeries& ts, const FleetSeries& f, bool pool) {
  Json x = {{"id", f.id}};
  if (pool) {
    x["provider"] = f.provider;
    x["site"] = f.site;
    x["accelerator"] = f.accelerator;
  }
  x["installed_gpus"] = Means(ts, f.installed.area);
  x["usable_gpus"] = Means(ts, f.usable.area);
  x["used_gpus"] = Means(ts, f.used.area);
  if (pool && !f.stranded.empty()) x["stranded_gpus"] = f.stranded;
  return x;
}

}  // namespace

Json TimeSeriesJson(const TimeSeries& ts) {
  Json j;
  j["start"] = FormatTimeFull(ts.start);
  j["end"] = FormatTimeFull(ts.end);
  j["bucket_seconds"] = ts.bucket.seconds();
  j["buckets"] = ts.buckets;
  Json& providers = j["providers"] = Json::array();
  for (const FleetSeries& f : ts.providers) providers.push_back(FleetJson(ts, f, false));
  Json pools = Json::array();
  for (const FleetSeries& f : ts.pools) pools.push_back(FleetJson(ts, f, true));
  j["pools"] = {{"shown", ts.pools.size()},
                {"total", ts.pools_total},
                {"chosen_by", "most GPUs at their peak"},
                {"series", std::move(pools)}};
  Json sites = Json::array();
  for (const SitePowerSeries& s : ts.sites) {
    Json x = {{"id", s.id}, {"provider", s.provider}, {"limited", s.limited}};
    x["drawn_peak_watts"] = s.drawn.peak;
    x["drawn_mean_watts"] = WholeMeans(ts, s.drawn.area);
    x["limit_watts"] = s.limited ? Json(s.limit.low) : Json(nullptr);
    Json share = Json::array();
    for (int64_t milli : s.share_of_limit.peak) share.push_back(milli / 1000.0);
    x["drawn_peak_share_of_limit"] = s.limited ? share : Json(nullptr);
    sites.push_back(std::move(x));
  }
  j["sites"] = {{"shown", ts.sites.size()},
                {"total", ts.sites_total},
                {"chosen_by", "power-limited sites nearest their limit, then the largest"},
                {"series", std::move(sites)}};
  Json& classes = j["classes"] = Json::array();
  for (const ClassSeries& c : ts.classes) {
    classes.push_back({{"class", c.name},
                       {"queued_mean", Means(ts, c.queued.area)},
                       {"queued_peak", c.queued.peak},
                       {"started", c.started},
                       {"wait_p50_s", OrNull(c.wait_p50)},
                       {"wait_p90_s", OrNull(c.wait_p90)},
                       {"wait_p99_s", OrNull(c.wait_p99)}});
  }
  Json& services = j["services"] = Json::array();
  for (const ServiceSeries& s : ts.services) {
    Json by_provider = Json::object();
    for (const auto& [provider, level] : s.replicas_by_provider)
      by_provider[provider] = Means(ts, level.area);
    services.push_back({{"id", s.id},
                        {"replicas_by_provider", std::move(by_provider)},
                        {"demand_tokens_per_s", WholeMeans(ts, s.demand.area)},
                        {"served_tokens_per_s", WholeMeans(ts, s.served.area)}});
  }
  return j;
}

}  // namespace polycloud::report
