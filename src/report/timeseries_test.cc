// The report's time series and listed workloads: they add up to the
// scheduler's own integrals, they change no decision, and they stay small.
#include "polycloud/report/timeseries.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "polycloud/report/report.h"
#include "polycloud/report/workloads.h"
#include "polycloud/sim/simulator.h"
#include "tests/testing/scenario_fixture.h"

namespace polycloud::report {
namespace {

using testing::LoadWorld;
using testing::ReadTestFile;

// A scenario file of the source tree, and the options its `scheduler:` gives.
struct Loaded {
  world::World world;
  sim::Options options;
};

Loaded LoadFile(const std::string& relative) {
  const std::string path = std::string(POLYCLOUD_SOURCE_DIR) + "/" + relative;
  auto s = io::LoadScenarioFile(path, {});
  if (!s.ok()) {
    ADD_FAILURE() << s.status().message();
    return {};
  }
  Loaded out{std::move(s->world), {}};
  EXPECT_TRUE(scheduler::SetPolicy(s->options.policy, &out.options.scheduler).ok());
  return out;
}

int64_t Sum(const std::vector<int64_t>& v) {
  int64_t s = 0;
  for (int64_t x : v) s += x;
  return s;
}

// A run with both recorders attached, and what they recorded.
struct Recorded {
  std::unique_ptr<sim::Simulator> sim;
  TimeSeries series;
  Workloads listed;
  std::string events;  // the event log
  sim::RunStats stats;
};

Recorded RunRecorded(const world::World& w, bool record = true, const sim::Options& options = {}) {
  Recorded r;
  r.sim = std::make_unique<sim::Simulator>(w, options);
  std::ostringstream log;
  sim::EventLogWriter writer(r.sim->scheduler(), w, log);
  r.sim->AddObserver(&writer);
  std::unique_ptr<TimeSeriesRecorder> series;
  std::unique_ptr<WorkloadRecorder> listed;
  if (record) {
    series = std::make_unique<TimeSeriesRecorder>(w, r.sim->scheduler());
    listed = std::make_unique<WorkloadRecorder>(w, r.sim->scheduler());
    r.sim->AddObserver(series.get());
    r.sim->AddObserver(listed.get());
  }
  r.stats = r.sim->Run();
  if (record) {
    r.series = series->Finish(r.stats.end);
    r.listed = listed->Finish(r.stats.end);
  }
  r.events = log.str();
  return r;
}

// Every level's buckets add up to the scheduler's exact integrals.
void ExpectIntegralsMatch(const world::World& w, const Recorded& r) {
  const scheduler::Scheduler& sched = r.sim->scheduler();
  const TimeSeries& ts = r.series;
  ASSERT_GT(ts.buckets, 0);
  int64_t covered = 0;
  for (int32_t i = 0; i < ts.buckets; ++i) covered += ts.BucketSeconds(i);
  EXPECT_EQ(covered, (ts.end - ts.start).seconds());

  std::map<std::string, std::pair<int64_t, int64_t>> provider;  // used, usable GPU-seconds
  for (size_t p = 0; p < w.pools.size(); ++p) {
    const placement::PoolState& s = sched.fleet().pool(static_cast<world::PoolIndex>(p));
    auto& [used, usable] = provider[w.providers[w.pools[p].provider].id];
    used += s.used_gpu_seconds;
    usable += s.capacity_gpu_seconds;
    for (const FleetSeries& f : ts.pools) {
      if (f.id != w.pools[p].id) continue;
      EXPECT_EQ(Sum(f.used.area), s.used_gpu_seconds) << f.id;
      EXPECT_EQ(Sum(f.usable.area), s.capacity_gpu_seconds) << f.id;
      EXPECT_EQ(Sum(f.installed.area), s.installed_gpu_seconds) << f.id;
    }
  }
  for (const FleetSeries& f : ts.providers) {
    ASSERT_EQ(f.used.area.size(), static_cast<size_t>(ts.buckets));
    EXPECT_EQ(Sum(f.used.area), provider[f.id].first) << f.id;
    EXPECT_EQ(Sum(f.usable.area), provider[f.id].second) << f.id;
  }
  for (const SitePowerSeries& s : ts.sites) {
    const world::SiteIndex site = w.FindSite(s.id);
    EXPECT_EQ(*std::max_element(s.drawn.peak.begin(), s.drawn.peak.end()),
              sched.fleet().site(site).peak.watts())
        << s.id;
    // As each instant ends, a site draws no more than its limit.
    if (s.limited) {
      EXPECT_LE(*std::max_element(s.share_of_limit.peak.begin(), s.share_of_limit.peak.end()), 1000)
          << s.id;
    }
  }
  for (size_t k = 0; k < ts.services.size(); ++k) {
    const scheduler::ServiceState& st = sched.services()[k];
    EXPECT_EQ(Sum(ts.services[k].demand.area), st.demand_token_seconds) << ts.services[k].id;
    EXPECT_EQ(Sum(ts.services[k].served.area), st.served_token_seconds) << ts.services[k].id;
  }
  // First starts per class, and their waits bounded by the longest.
  std::map<std::string, int64_t> started, longest;
  for (size_t j = 0; j < w.jobs.size(); ++j) {
    const scheduler::JobState& s = sched.jobs()[j];
    if (s.first_start == Time::Min()) continue;
    ++started[w.jobs[j].workload_class];
    longest[w.jobs[j].workload_class] =
        std::max(longest[w.jobs[j].workload_class], (s.first_start - w.jobs[j].arrival).seconds());
  }
  for (const ClassSeries& c : ts.classes) {
    EXPECT_EQ(Sum(c.started), started[c.name]) << c.name;
    // A bucket's p99 is at most the longest wait (the longest itself in a
    // bucket of at most 100 starts).
    EXPECT_LE(*std::max_element(c.wait_p99.begin(), c.wait_p99.end()), longest[c.name]) << c.name;
    EXPECT_EQ(c.queued.low.size(), static_cast<size_t>(ts.buckets));
    EXPECT_GE(*std::min_element(c.queued.low.begin(), c.queued.low.end()), 0) << c.name;
  }
}

class GoldenTimeSeriesTest : public ::testing::TestWithParam<const char*> {};

TEST_P(GoldenTimeSeriesTest, BucketsAddUpToTheSchedulersIntegrals) {
  const Loaded s = LoadFile(std::string("tests/scenarios/") + GetParam() + ".yaml");
  ExpectIntegralsMatch(s.world, RunRecorded(s.world, true, s.options));
}

TEST_P(GoldenTimeSeriesTest, RecordingChangesNoDecision) {
  const Loaded s = LoadFile(std::string("tests/scenarios/") + GetParam() + ".yaml");
  const std::string with = RunRecorded(s.world, true, s.options).events;
  EXPECT_EQ(with, RunRecorded(s.world, false, s.options).events);
  // And the golden file is what the run writes with them attached.
  EXPECT_EQ(with, ReadTestFile(std::string(POLYCLOUD_SOURCE_DIR) + "/tests/scenarios/" +
                               GetParam() + ".events"));
}

TEST_P(GoldenTimeSeriesTest, SmallWorldsListEveryJobWithItsWholeTimeline) {
  const Loaded s = LoadFile(std::string("tests/scenarios/") + GetParam() + ".yaml");
  const world::World& w = s.world;
  const Recorded r = RunRecorded(w, true, s.options);
  ASSERT_EQ(r.listed.jobs.size(), w.jobs.size());
  EXPECT_EQ(r.listed.selection, "every job");
  for (const ListedJob& job : r.listed.jobs) {
    // The job's lines of the event log, in order, are its timeline.
    std::vector<std::string> expected;
    std::istringstream log(r.events);
    for (std::string line; std::getline(log, line);) {
      std::istringstream fields(line);
      std::string at, event, id;
      fields >> at >> event >> id;
      if (id == job.id && event.rfind("job-", 0) == 0) expected.push_back(at + " " + event);
    }
    std::vector<std::string> got;
    for (const TimelineEntry& e : job.timeline) got.push_back(FormatTimeFull(e.at) + " " + e.event);
    EXPECT_EQ(got, expected) << job.id;
  }
  ASSERT_EQ(r.listed.services.size(), w.services.size());
}

INSTANTIATE_TEST_SUITE_P(Goldens, GoldenTimeSeriesTest,
                         ::testing::Values("failover", "ramps_and_contracts", "rofr"));

TEST(TimeSeriesTest, TheFlagshipExampleAddsUpAndStaysSmall) {
  Loaded s = LoadFile("examples/openai-2025.yaml");
  const world::World& w = s.world;
  // Through the Azure outage of March 2026 (its failovers) and no further:
  // the whole run takes half a minute under ASan. A run cut short ends its
  // last bucket there.
  s.options.stop_at = testing::T("2026-04-01T06:00:00Z");
  const Recorded r = RunRecorded(w, true, s.options);
  EXPECT_EQ(r.series.end, *s.options.stop_at);
  ExpectIntegralsMatch(w, r);
  EXPECT_LE(r.series.buckets, kMaxBuckets);
  // The listed workloads stay bounded on 120,000 jobs.
  EXPECT_LE(r.listed.jobs.size(),
            static_cast<size_t>(WorkloadRecorder::kSample + WorkloadRecorder::kLargest +
                                WorkloadRecorder::kLongestWaits + WorkloadRecorder::kDisrupted));
}

TEST(TimeSeriesTest, BucketWidthsAreRoundAndFewEnough) {
  EXPECT_EQ(BucketWidth(Duration::Days(365)).seconds(), 43200);  // 730 half-days
  EXPECT_EQ(BucketWidth(Duration::Days(607)).seconds(), 86400);
  EXPECT_EQ(BucketWidth(Duration::Days(3)).seconds(), 600);
  EXPECT_EQ(BucketWidth(Duration::Seconds(10)).seconds(), 60);
  for (int64_t days : {1, 30, 365, 3650, 36500, 400000}) {
    const Duration w = BucketWidth(Duration::Days(days));
    EXPECT_LE((days * 86400 + w.seconds() - 1) / w.seconds(), kMaxBuckets) << days;
  }
}

// 3,000 jobs on 16 GPUs: most wait. The recorder lists a bounded set, and it
// holds the longest waits of the run.
constexpr const char* kBusy = R"(
name: busy
start: 2026-01-01
end: 2026-01-20
providers: [{id: p}]
sites: [{id: s, provider: p}]
pools:
  - {id: h100, site: s, accelerator: H100, pricing: on-demand, gpus: 16, price_per_gpu_hour: 2}
job_streams:
  - {id: dev, count: 3000, from: 2026-01-01, until: 2026-01-05, gpus: [1, 2, 4, 8], duration: {min: 10m, max: 4h}}
)";

TEST(WorkloadRecorderTest, BigWorldsListASampleAndTheLongestWaits) {
  const world::World w = LoadWorld(kBusy);
  const Recorded r = RunRecorded(w);
  const auto& jobs = r.sim->scheduler().jobs();
  ASSERT_GT(r.listed.jobs.size(), static_cast<size_t>(WorkloadRecorder::kSample));
  EXPECT_LE(r.listed.jobs.size(),
            static_cast<size_t>(WorkloadRecorder::kSample + WorkloadRecorder::kLargest +
                                WorkloadRecorder::kLongestWaits + WorkloadRecorder::kDisrupted));
  EXPECT_EQ(r.listed.jobs_total, 3000);
  std::vector<std::pair<int64_t, int32_t>> waits;
  for (size_t j = 0; j < w.jobs.size(); ++j) {
    if (jobs[j].first_start == Time::Min()) continue;
    waits.push_back(
        {(jobs[j].first_start - w.jobs[j].arrival).seconds(), -static_cast<int32_t>(j)});
  }
  std::sort(waits.rbegin(), waits.rend());
  std::set<std::string> listed;
  for (const ListedJob& job : r.listed.jobs) listed.insert(job.id);
  for (int32_t i = 0; i < WorkloadRecorder::kLongestWaits; ++i)
    EXPECT_TRUE(listed.count(w.jobs[-waits[i].second].id)) << "wait #" << i;
  // A job chosen mid-run has its whole timeline: its arrival comes first.
  for (const ListedJob& job : r.listed.jobs) {
    ASSERT_FALSE(job.timeline.empty()) << job.id;
    EXPECT_EQ(job.timeline.front().event, "job-arrived") << job.id;
    EXPECT_EQ(job.timeline.front().at, job.arrival) << job.id;
  }
}

TEST(WorkloadRecorderTest, QueuedJobsSayWhyTheyWait) {
  std::string yaml = kBusy;
  yaml.replace(yaml.find("end: 2026-01-20"), 15, "end: 2026-01-02");  // the queue never drains
  const world::World w = LoadWorld(yaml);
  Recorded r = RunRecorded(w);
  ExplainWaiting(r.listed, r.sim->scheduler_for_explain(), r.stats.end, 5);
  int explained = 0;
  for (const ListedJob& job : r.listed.jobs) {
    if (job.status != "queued") {
      EXPECT_TRUE(job.why_waiting.empty());
      continue;
    }
    if (job.why_waiting.empty()) continue;
    ++explained;
    EXPECT_NE(job.why_waiting.find(job.id), std::string::npos);
  }
  EXPECT_EQ(explained, 5);
}

// The live broker's recording (LiveWindow): the latest kMaxBuckets, each
// exact, and a snapshot leaves the recording as it was.
TEST(TimeSeriesTest, ALiveWindowKeepsTheLatestBucketsExactly) {
  const Loaded s = LoadFile("tests/scenarios/failover.yaml");
  const world::World& w = s.world;
  sim::Simulator sim(w, s.options);
  TimeSeriesRecorder whole(w, sim.scheduler());
  TimeSeriesRecorder live(w, sim.scheduler(), LiveWindow{w.start, Duration::Seconds(60)});
  sim.AddObserver(&whole);
  sim.AddObserver(&live);
  const sim::RunStats stats = sim.Run();
  const TimeSeries a = whole.Finish(stats.end);
  const TimeSeries b = live.Snapshot(stats.end);
  const TimeSeries again = live.Snapshot(stats.end);
  ASSERT_EQ(a.bucket.seconds(), 600);
  ASSERT_EQ(b.buckets, kMaxBuckets);  // three days of minutes: the last 800 kept
  EXPECT_EQ(b.end, stats.end);
  EXPECT_EQ(b.start, stats.end - Duration::Seconds(60 * kMaxBuckets));
  ASSERT_EQ((b.start - a.start).seconds() % 600, 0);
  const int32_t first = static_cast<int32_t>((b.start - a.start).seconds() / 600);
  ASSERT_EQ(a.providers.size(), b.providers.size());
  ASSERT_EQ(a.classes.size(), b.classes.size());
  for (size_t p = 0; p < a.providers.size(); ++p) {
    EXPECT_EQ(again.providers[p].used.area, b.providers[p].used.area);
    for (const auto member : {&FleetSeries::installed, &FleetSeries::usable, &FleetSeries::used}) {
      const LevelSeries& coarse = a.providers[p].*member;
      const LevelSeries& fine = b.providers[p].*member;
      ASSERT_EQ(fine.area.size(), static_cast<size_t>(kMaxBuckets));
      for (int32_t i = first; i < a.buckets; ++i) {
        int64_t area = 0, peak = 0;
        for (int32_t k = 0; k < 10; ++k) {
          area += fine.area[(i - first) * 10 + k];
          peak = std::max(peak, fine.peak[(i - first) * 10 + k]);
        }
        EXPECT_EQ(area, coarse.area[i]) << a.providers[p].id << " bucket " << i;
        EXPECT_EQ(peak, coarse.peak[i]) << a.providers[p].id << " bucket " << i;
      }
    }
  }
  for (size_t c = 0; c < a.classes.size(); ++c) {
    int64_t fine = 0, coarse = 0;
    for (int64_t n : b.classes[c].started) fine += n;
    for (int32_t i = first; i < a.buckets; ++i) coarse += a.classes[c].started[i];
    EXPECT_EQ(fine, coarse) << a.classes[c].name;
  }
}

TEST(TimeSeriesJsonTest, EverySeriesHasOneValuePerBucket) {
  const Loaded s = LoadFile("tests/scenarios/failover.yaml");
  const world::World& w = s.world;
  Recorded r = RunRecorded(w, true, s.options);
  Report report = Build(w, r.sim->scheduler(), sim::Audit(w), r.stats, "priority");
  report.timeseries = r.series;
  report.workloads = r.listed;
  std::ostringstream out;
  WriteJson(report, out);
  const auto j = nlohmann::json::parse(out.str());
  const auto& ts = j.at("timeseries");
  const size_t n = ts.at("buckets").get<size_t>();
  EXPECT_EQ(ts.at("bucket_seconds").get<int64_t>(), 600);
  for (const auto& p : ts.at("providers")) {
    for (const char* k : {"installed_gpus", "usable_gpus", "used_gpus"})
      EXPECT_EQ(p.at(k).size(), n);
  }
  for (const auto& s : ts.at("sites").at("series")) EXPECT_EQ(s.at("drawn_peak_watts").size(), n);
  for (const auto& c : ts.at("classes")) EXPECT_EQ(c.at("wait_p99_s").size(), n);
  for (const auto& s : ts.at("services")) {
    EXPECT_EQ(s.at("demand_tokens_per_s").size(), n);
    for (const auto& [provider, v] : s.at("replicas_by_provider").items()) EXPECT_EQ(v.size(), n);
  }
  EXPECT_EQ(j.at("workloads").at("jobs").size(), w.jobs.size());
  // The contracts' days add up to their spend in the run.
  for (const auto& c : j.at("contracts")) {
    const auto& micros = c.at("cumulative_spend_by_day").at("micros");
    EXPECT_EQ(micros.back().get<int64_t>(), c.at("spent").at("micros").get<int64_t>());
  }
  // Arrays of numbers stay on one line.
  EXPECT_NE(out.str().find("\"used_gpus\": ["), std::string::npos);
}

}  // namespace
}  // namespace polycloud::report
