// Replays of the shipped public traces (../shared/data; skipped when absent)
// and of small hand-written files for the bad-row policy.
#include "polycloud/replay/replay.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace polycloud::replay {
namespace {

std::string DataDir() { return POLYCLOUD_SHARED_DATA_DIR; }

#define SKIP_WITHOUT(path)                                                            \
  if (!std::filesystem::exists(path)) {                                               \
    GTEST_SKIP() << (path) << " is absent: the shipped data lives in ../shared/data"; \
  }

TEST(DelayStatsTest, UsesNearestRankPercentilesAndAnExactMean) {
  std::vector<int64_t> v;
  for (int64_t i = 100; i >= 1; --i) v.push_back(i);
  DelayStats s = ComputeDelayStats(v);
  EXPECT_EQ(s.count, 100);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
  EXPECT_EQ(s.p50, 50);
  EXPECT_EQ(s.p90, 90);
  EXPECT_EQ(s.p99, 99);
  EXPECT_EQ(s.max, 100);
  std::vector<int64_t> empty;
  EXPECT_EQ(ComputeDelayStats(empty).count, 0);
}

PhillyReplayOptions SmallCluster(scheduler::Policy policy) {
  PhillyReplayOptions o;
  o.trace_path = DataDir() + "/philly/philly.csv.gz";
  o.policy = policy;
  o.only = {"2869ce"};  // 422 jobs on 16 nodes: fast in a Debug build
  return o;
}

TEST(PhillyReplayTest, ReplaysOneVirtualClusterOnItsOwnNodesUnderEachPolicy) {
  SKIP_WITHOUT(DataDir() + "/philly/philly.csv.gz");
  double mean_jct[3];
  int i = 0;
  for (scheduler::Policy p :
       {scheduler::Policy::kFifo, scheduler::Policy::kSjf, scheduler::Policy::kSrtf}) {
    auto r = ReplayPhilly(SmallCluster(p));
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_EQ(r->clusters.size(), 1u);
    const VirtualClusterResult& c = r->clusters[0];
    EXPECT_EQ(c.id, "2869ce");
    EXPECT_EQ(c.gpus, 128);
    EXPECT_EQ(c.jobs, 422);
    EXPECT_EQ(c.unfinished, 0);
    EXPECT_EQ(c.completion.count, 422);
    EXPECT_LE(c.queueing.p50, c.queueing.p90);
    EXPECT_LE(c.completion.p90, c.completion.p99);
    EXPECT_EQ(r->overall.jobs, 422);
    // The four clusters without a node count are reported, not replayed.
    EXPECT_EQ(r->missing_cluster_jobs, 18);
    EXPECT_EQ(r->missing_clusters.size(), 4u);
    EXPECT_EQ(r->oversized_jobs, 0);
    if (p != scheduler::Policy::kSrtf) {
      EXPECT_EQ(c.preemptions, 0);
    }
    mean_jct[i++] = c.completion.mean;
  }
  // Shortest-first policies do not lengthen the average job on this cluster.
  EXPECT_LE(mean_jct[1], mean_jct[0]);
  EXPECT_LE(mean_jct[2], mean_jct[1]);
}

TEST(PhillyReplayTest, CompressedArrivalsQueueLongerWithTheSameJobs) {
  SKIP_WITHOUT(DataDir() + "/philly/philly.csv.gz");
  PhillyReplayOptions o = SmallCluster(scheduler::Policy::kFifo);
  auto as_recorded = ReplayPhilly(o);
  o.compress = 4;
  auto busier = ReplayPhilly(o);
  ASSERT_TRUE(as_recorded.ok() && busier.ok());
  const VirtualClusterResult &a = as_recorded->clusters[0], &b = busier->clusters[0];
  EXPECT_EQ(a.jobs, b.jobs);
  EXPECT_EQ(b.unfinished, 0);
  EXPECT_GT(b.queueing.mean, a.queueing.mean);
  // Compressing by 1 is the recorded trace.
  o.compress = 1;
  auto same = ReplayPhilly(o);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->clusters[0].completion.mean, a.completion.mean);
}

TEST(PhillyReplayTest, WritesPerClusterAndOverallFiguresAsJson) {
  SKIP_WITHOUT(DataDir() + "/philly/philly.csv.gz");
  auto r = ReplayPhilly(SmallCluster(scheduler::Policy::kFifo));
  ASSERT_TRUE(r.ok()) << r.status().message();
  std::ostringstream json, text;
  WriteJson(*r, json);
  WriteText(*r, text);
  EXPECT_NE(json.str().find("\"virtual_clusters\""), std::string::npos);
  EXPECT_NE(json.str().find("\"queueing_delay_s\""), std::string::npos);
  EXPECT_NE(json.str().find("\"missing_cluster_jobs\": 18"), std::string::npos);
  EXPECT_NE(text.str().find("2869ce"), std::string::npos);
  EXPECT_NE(text.str().find("overall"), std::string::npos);
}

TEST(PhillyReplayTest, RejectsAnUnknownVirtualCluster) {
  SKIP_WITHOUT(DataDir() + "/philly/philly.csv.gz");
  PhillyReplayOptions o = SmallCluster(scheduler::Policy::kFifo);
  o.only = {"nope"};
  EXPECT_FALSE(ReplayPhilly(o).ok());
}

class BadRowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("polycloud-replay-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "vc_nodes.csv") << "vc,node num\nv1,1\n";
    std::ofstream(dir_ / "philly.csv") << "timestamp,duration,num_gpus,gpu_time,cluster\n"
                                          "2017-10-01 00:00:00,60,1,60,v1\n"
                                          "2017-10-01 00:00:10,60,0,0,v1\n"
                                          "2017-10-01 00:00:20,30,2,60,v1\n"
                                          "2017-10-01 00:00:30,30,16,480,v1\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  PhillyReplayOptions Options() const {
    PhillyReplayOptions o;
    o.trace_path = (dir_ / "philly.csv").string();
    return o;
  }
  std::filesystem::path dir_;
};

TEST_F(BadRowsTest, StopsAtTheFirstBadRowWithPathAndLine) {
  auto r = ReplayPhilly(Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(r.status().message().find("philly.csv:3: column 'num_gpus'"), std::string::npos)
      << r.status().message();
}

TEST_F(BadRowsTest, SkipsAndReportsBadRowsAndLeavesOutJobsLargerThanTheirCluster) {
  PhillyReplayOptions o = Options();
  o.read.skip_bad_rows = true;
  auto r = ReplayPhilly(o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->jobs_read.bad_rows, 1);
  ASSERT_EQ(r->jobs_read.bad_row_messages.size(), 1u);
  EXPECT_NE(r->jobs_read.bad_row_messages[0].find("philly.csv:3:"), std::string::npos);
  EXPECT_EQ(r->oversized_jobs, 1);  // 16 GPUs on a 1-node (8-GPU) cluster
  EXPECT_EQ(r->overall.jobs, 2);
  // FIFO on 8 GPUs: both fit at once; times as recorded.
  EXPECT_EQ(r->overall.completion.max, 60);
  EXPECT_EQ(r->overall.queueing.max, 0);
  std::ostringstream text, json;
  WriteText(*r, text);
  WriteJson(*r, json);
  EXPECT_NE(text.str().find("1 bad row skipped of 4"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("1 jobs larger than their virtual cluster"), std::string::npos);
  EXPECT_NE(json.str().find("\"bad_rows\": 1"), std::string::npos);
}

TEST(AlibabaFidelityTest, ReplaysThePodTraceOnItsOwnNodeListNextToTheRecordedFigures) {
  const std::string pods = DataDir() + "/alibaba-gpu-2023/openb_pod_list_default.csv";
  SKIP_WITHOUT(pods);
  FidelityOptions o;
  o.pods_path = pods;
  auto r = CheckAlibabaFidelity(o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->fleet_gpus, 6212);
  EXPECT_EQ(r->fleet_pools, 12);
  EXPECT_EQ(r->pods + r->never_scheduled + r->unplaceable, 7064);
  EXPECT_EQ(r->recorded_queueing.count, r->pods);
  EXPECT_EQ(r->simulated_queueing.count, r->pods);
  EXPECT_GT(r->sharing_pods, 0);
  EXPECT_EQ(r->unfinished, 0);
  EXPECT_FALSE(r->buckets.empty());
  // Same pods, same run times: the replay occupies what the trace recorded
  // (it can only start pods earlier, never later, on a near-empty fleet).
  EXPECT_GE(r->simulated_mean_utilisation_milli, r->recorded_mean_utilisation_milli);
  EXPECT_LE(r->simulated_queueing.p99, r->recorded_queueing.p99);
}

}  // namespace
}  // namespace polycloud::replay

namespace polycloud::replay {
namespace {

TEST(AddTraceToWorldTest, AddsPhillyJobsAndAnAlibabaNodeFleetToAWorld) {
  const std::string nodes = DataDir() + "/alibaba-gpu-2023/openb_node_list_gpu_node.csv";
  SKIP_WITHOUT(nodes);
  world::World w;
  w.accelerators = world::BuiltinAccelerators();
  w.BuildIndexes();
  auto spec = traces::ParseTraceSpec("alibaba-gpu:" + nodes);
  ASSERT_TRUE(spec.ok());
  auto stats = AddTraceToWorld(*spec, {}, w);
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  // 12 (model, GPUs per node) groups, three of them split by CPU or memory
  // per node now that pools know them (issue 16, sharing).
  EXPECT_EQ(w.pools.size(), 15u);
  EXPECT_NE(w.FindPool("alibaba/G2x8"), world::kNone);
  auto bad = traces::ParseTraceSpec("philly:" + DataDir() + "/philly/vc_nodes.csv");
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(AddTraceToWorld(*bad, {}, w).ok());  // sizes, not jobs
}

}  // namespace
}  // namespace polycloud::replay
