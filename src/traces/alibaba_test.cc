#include "polycloud/traces/alibaba.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "test_util.h"

namespace polycloud::traces {
namespace {

using testing::SharedData;

constexpr std::string_view kPodHeader =
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
    "deletion_time,scheduled_time\n";

NodeFleetOptions OpenBFleet() {
  NodeFleetOptions options;
  options.provider_id = "alibaba";
  options.site_id = "openb";
  return options;
}

Result<AlibabaPodTrace> ReadPods(std::string_view text, const AlibabaPodOptions& options = {}) {
  return ReadAlibabaPods(TraceInput::Memory(text, "pods.csv"), options);
}

TEST(AlibabaPodReaderTest, MapsPodFieldsAndKeepsRecordedTimes) {
  std::string text = std::string(kPodHeader) +
                     "openb-pod-0017,88000,327680,8,1000,,Burstable,Succeeded,9437497,10769854,"
                     "9437500\n";
  AlibabaPodOptions options;
  options.trace_start = Time::FromUnixSeconds(1'000'000);
  Result<AlibabaPodTrace> trace = ReadPods(text, options);
  ASSERT_TRUE(trace.ok()) << trace.status().message();
  ASSERT_EQ(trace->pods.size(), 1u);
  const AlibabaPod& pod = trace->pods[0];
  EXPECT_EQ(pod.job.id, "openb-pod-0017");
  EXPECT_EQ(pod.job.gpus, 8);
  EXPECT_EQ(pod.job.gpu_milli, 0);  // whole GPUs
  EXPECT_EQ(pod.job.cpu_milli, 88000);
  EXPECT_EQ(pod.job.arrival, Time::FromUnixSeconds(1'000'000 + 9'437'497));
  EXPECT_EQ(pod.job.workload_class, "Burstable");
  EXPECT_FALSE(pod.job.preemptible);
  EXPECT_EQ(pod.phase, PodPhase::kSucceeded);
  EXPECT_EQ(pod.cpu_milli, 88000);
  EXPECT_EQ(pod.memory_mib, 327680);
  EXPECT_EQ(pod.RecordedQueueingDelay()->seconds(), 3);
  EXPECT_EQ(pod.RecordedRunTime()->seconds(), 10'769'854 - 9'437'500);
  EXPECT_FALSE(pod.run_time_censored);
  // Run time x 8 GPUs on the reference G2 (-> V100, speed 150/1000):
  // 1,332,354 s x 8 x 0.15 = 1,598,824.8, rounded to the nearest GPU-second.
  EXPECT_EQ(pod.job.work_gpu_seconds, 1'598'825);
}

TEST(AlibabaPodReaderTest, SharingPodAsksForItsShareOfOneGpuWithItsCpuAndMemory) {
  std::string text = std::string(kPodHeader) +
                     "openb-pod-0022,4000,15258,1,220,,BE,Running,9679175,9973826,9679175\n";
  Result<AlibabaPodTrace> trace = ReadPods(text);
  ASSERT_TRUE(trace.ok());
  const AlibabaPod& pod = trace->pods[0];
  EXPECT_EQ(pod.job.gpus, 1);
  EXPECT_EQ(pod.gpu_milli, 220);
  EXPECT_EQ(pod.job.gpu_milli, 220);  // runs only in a pool with GPU sharing
  EXPECT_EQ(pod.job.cpu_milli, 4000);
  EXPECT_EQ(pod.job.memory_mib, 15258);
  EXPECT_TRUE(pod.job.preemptible);    // BE = best effort
  EXPECT_TRUE(pod.run_time_censored);  // still Running when the trace ended
}

TEST(AlibabaPodReaderTest, PendingPodHasNoRunTimeAndNoWork) {
  std::string text = std::string(kPodHeader) +
                     "openb-pod-0061,11908,47104,1,1000,,BE,Pending,10001278,10001403,\n";
  Result<AlibabaPodTrace> trace = ReadPods(text);
  ASSERT_TRUE(trace.ok());
  const AlibabaPod& pod = trace->pods[0];
  EXPECT_FALSE(pod.scheduled_time.has_value());
  EXPECT_FALSE(pod.RecordedRunTime().has_value());
  EXPECT_FALSE(pod.RecordedQueueingDelay().has_value());
  EXPECT_EQ(pod.job.work_gpu_seconds, 0);
}

TEST(AlibabaPodReaderTest, GpuSpecBecomesAllowedAccelerators) {
  std::string text = std::string(kPodHeader) +
                     "openb-pod-0035,16000,32768,1,1000,V100M16|V100M32,LS,Running,9967058,"
                     "9968575,9967063\n";
  AlibabaPodOptions options;
  ASSERT_TRUE(options.accelerators.KeepDistinct("V100M16").ok());
  ASSERT_TRUE(options.accelerators.KeepDistinct("V100M32").ok());
  Result<AlibabaPodTrace> trace = ReadPods(text, options);
  ASSERT_TRUE(trace.ok()) << trace.status().message();
  const AlibabaPod& pod = trace->pods[0];
  EXPECT_EQ(pod.gpu_spec, (std::vector<std::string>{"V100M16", "V100M32"}));
  ASSERT_EQ(pod.job.accelerators.size(), 2u);
  EXPECT_EQ(trace->accelerators[pod.job.accelerators[0]].name, "V100M16");
  EXPECT_EQ(trace->accelerators[pod.job.accelerators[1]].name, "V100M32");

  // Without KeepDistinct both collapse onto the built-in V100.
  trace = ReadPods(text);
  ASSERT_TRUE(trace.ok());
  ASSERT_EQ(trace->pods[0].job.accelerators.size(), 1u);
  EXPECT_EQ(trace->accelerators[trace->pods[0].job.accelerators[0]].name, "V100");
}

TEST(AlibabaPodReaderTest, UnknownGpuSpecModelIsABadRow) {
  std::string text = std::string(kPodHeader) + "p,1000,1024,1,1000,X9|T4,LS,Running,0,10,0\n";
  Result<AlibabaPodTrace> trace = ReadPods(text);
  ASSERT_FALSE(trace.ok());
  EXPECT_EQ(trace.status().message(),
            "pods.csv:2: column 'gpu_spec': unknown GPU model \"X9\" (not in the accelerator "
            "table or its aliases; add it to the table)");
}

TEST(AlibabaPodReaderTest, CpuOnlyPodsAreFilteredUnlessKept) {
  std::string text = std::string(kPodHeader) +
                     "cpu,3152,5600,0,0,,BE,Failed,100,200,100\n"
                     "gpu,3152,5600,1,1000,,BE,Failed,100,200,100\n";
  Result<AlibabaPodTrace> trace = ReadPods(text);
  ASSERT_TRUE(trace.ok());
  EXPECT_EQ(trace->pods.size(), 1u);
  EXPECT_EQ(trace->stats.filtered, 1);
  AlibabaPodOptions options;
  options.keep_cpu_only = true;
  trace = ReadPods(text, options);
  ASSERT_TRUE(trace.ok());
  ASSERT_EQ(trace->pods.size(), 2u);
  EXPECT_EQ(trace->pods[0].job.gpus, 0);
}

TEST(AlibabaPodReaderTest, RejectsTimesOutOfOrderAndUnknownPhases) {
  Result<AlibabaPodTrace> trace =
      ReadPods(std::string(kPodHeader) + "p,1000,1024,1,1000,,LS,Running,100,200,90\n");
  ASSERT_FALSE(trace.ok());
  EXPECT_EQ(trace.status().message(),
            "pods.csv:2: column 'scheduled_time': expected a time at or after creation_time "
            "100, found 90");
  trace = ReadPods(std::string(kPodHeader) + "p,1000,1024,1,1000,,LS,Running,100,150,160\n");
  ASSERT_FALSE(trace.ok());
  EXPECT_EQ(trace.status().message(),
            "pods.csv:2: column 'deletion_time': expected a time at or after scheduled_time 160, "
            "found 150");
  trace = ReadPods(std::string(kPodHeader) + "p,1000,1024,1,1000,,LS,Sleeping,100,150,100\n");
  ASSERT_FALSE(trace.ok());
  EXPECT_EQ(trace.status().message(),
            "pods.csv:2: column 'pod_phase': expected Succeeded, Running, Pending or Failed, "
            "found \"Sleeping\"");
  trace = ReadPods(std::string(kPodHeader) + "p,1000,1024,1,1001,,LS,Running,100,150,100\n");
  ASSERT_FALSE(trace.ok());
  EXPECT_EQ(trace.status().message(),
            "pods.csv:2: column 'gpu_milli': expected an integer from 0 to 1000, found \"1001\"");
}

TEST(AlibabaPodReaderTest, ReadsTheSampledLayoutWithoutTimeColumns) {
  Result<AlibabaPodTrace> trace =
      ReadPods("name,cpu_milli,memory_mib,num_gpu,gpu_milli\nopenb-pod-0001,6000,12288,1,460\n");
  ASSERT_TRUE(trace.ok()) << trace.status().message();
  const AlibabaPod& pod = trace->pods[0];
  EXPECT_EQ(pod.gpu_milli, 460);
  EXPECT_EQ(pod.phase, PodPhase::kUnknown);
  EXPECT_FALSE(pod.creation_time.has_value());
  EXPECT_EQ(pod.job.arrival, Time::FromUnixSeconds(0));
  EXPECT_EQ(pod.job.work_gpu_seconds, 0);
}

TEST(AlibabaNodeReaderTest, ReadsNodesAndBuildsAPoolPerModelAndNodeSize) {
  Result<NodeList> nodes =
      ReadAlibabaGpuNodes(TraceInput::Memory("sn,cpu_milli,memory_mib,gpu,model\n"
                                             "n0,64000,262144,2,P100\n"
                                             "n1,96000,393216,8,G2\n"
                                             "n2,96000,393216,8,G2\n"
                                             "n3,32000,262144,0,\n"
                                             "n4,96000,393216,4,T4\n",
                                             "nodes.csv"),
                          {});
  ASSERT_TRUE(nodes.ok()) << nodes.status().message();
  EXPECT_EQ(nodes->nodes.size(), 5u);
  EXPECT_EQ(nodes->TotalGpus(), 22);
  EXPECT_EQ(nodes->nodes[3].accelerator, world::kNone);

  Fleet fleet = BuildNodeFleet(*nodes, OpenBFleet());
  ASSERT_EQ(fleet.pools.size(), 3u);
  EXPECT_EQ(fleet.pools[0].id, "openb/P100x2");
  EXPECT_EQ(fleet.pools[1].id, "openb/G2x8");
  EXPECT_EQ(fleet.pools[1].gpus.Max(), 16);
  EXPECT_EQ(fleet.pools[1].gpus_per_node, 8);
  EXPECT_EQ(fleet.accelerators[fleet.pools[1].accelerator].name, "V100");
  EXPECT_EQ(fleet.pools[1].pricing, world::PricingKind::kReserved);
  EXPECT_FALSE(fleet.pools[1].gpu_sharing);
  EXPECT_EQ(fleet.pools[1].cpu_milli_per_node, 0);
}

TEST(AlibabaNodeReaderTest, MultiResourceFleetSplitsNodeSizesAndAllowsSharing) {
  Result<NodeList> nodes =
      ReadAlibabaGpuNodes(TraceInput::Memory("sn,cpu_milli,memory_mib,gpu,model\n"
                                             "n0,64000,262144,2,P100\n"
                                             "n1,96000,393216,8,G2\n"
                                             "n2,16000,122880,2,P100\n"
                                             "n3,96000,393216,8,G2\n",
                                             "nodes.csv"),
                          {});
  ASSERT_TRUE(nodes.ok()) << nodes.status().message();
  NodeFleetOptions where = OpenBFleet();
  where.multi_resource = true;
  Fleet fleet = BuildNodeFleet(*nodes, where);
  ASSERT_EQ(fleet.pools.size(), 3u);
  EXPECT_EQ(fleet.pools[0].id, "openb/P100x2-64c256g");
  EXPECT_EQ(fleet.pools[1].id, "openb/G2x8");  // one size: the id as without
  EXPECT_EQ(fleet.pools[2].id, "openb/P100x2-16c120g");
  EXPECT_EQ(fleet.pools[1].gpus.Max(), 16);
  for (const world::Pool& p : fleet.pools) EXPECT_TRUE(p.gpu_sharing);
  EXPECT_EQ(fleet.pools[2].cpu_milli_per_node, 16'000);
  EXPECT_EQ(fleet.pools[2].memory_mib_per_node, 122'880);
}

TEST(AlibabaNodeReaderTest, GpuNodeNeedsAKnownModelAndAUniqueName) {
  const std::string header = "sn,cpu_milli,memory_mib,gpu,model\n";
  Result<NodeList> nodes =
      ReadAlibabaGpuNodes(TraceInput::Memory(header + "n0,1,1,2,\n", "nodes.csv"), {});
  ASSERT_FALSE(nodes.ok());
  EXPECT_EQ(nodes.status().message(),
            "nodes.csv:2: column 'model': expected the GPU model of a node with GPUs, found \"\"");
  nodes = ReadAlibabaGpuNodes(TraceInput::Memory(header + "n0,1,1,2,Z1\n", "nodes.csv"), {});
  ASSERT_FALSE(nodes.ok());
  EXPECT_NE(nodes.status().message().find("unknown GPU model \"Z1\""), std::string::npos);
  nodes = ReadAlibabaGpuNodes(
      TraceInput::Memory(header + "n0,1,1,2,T4\nn0,1,1,2,T4\n", "nodes.csv"), {});
  ASSERT_FALSE(nodes.ok());
  EXPECT_EQ(nodes.status().message(),
            "nodes.csv:3: column 'sn': node \"n0\" is listed twice (first at line 2)");
}

TEST(AlibabaSpotNodeReaderTest, ReadsSpotNodeList) {
  Result<NodeList> nodes = ReadAlibabaSpotNodes(
      TraceInput::Memory("gpu_model,gpu_capacity_num,cpu_num,node_name\n"
                         "GPU-series-1,4,192,0\nA10,1,128,2\nA100-SXM4-80GB,8,128,3\n"),
      {});
  ASSERT_TRUE(nodes.ok()) << nodes.status().message();
  ASSERT_EQ(nodes->nodes.size(), 3u);
  EXPECT_EQ(nodes->nodes[0].cpu_milli, 192'000);
  EXPECT_EQ(nodes->nodes[2].model, "A100-SXM4-80GB");
  EXPECT_EQ(nodes->accelerators[nodes->nodes[2].accelerator].name, "A100");
  EXPECT_EQ(nodes->TotalGpus(), 13);
}

// --- The shipped traces (../shared/data/alibaba-*) ----------------------------

TEST(AlibabaSharedDataTest, ReadsTheDefaultPodList) {
  const std::string path = SharedData("alibaba-gpu-2023/openb_pod_list_default.csv");
  POLYCLOUD_SKIP_WITHOUT_SHARED_DATA(path);
  AlibabaPodOptions options;
  options.keep_cpu_only = true;
  Result<AlibabaPodTrace> trace = ReadAlibabaPods(TraceInput::File(path), options);
  ASSERT_TRUE(trace.ok()) << trace.status().message();
  EXPECT_EQ(trace->pods.size(), 8'152u);
  std::map<PodPhase, int64_t> phases;
  int64_t gpu_pods = 0, sharing = 0, censored = 0, gpus = 0;
  for (const AlibabaPod& pod : trace->pods) {
    ++phases[pod.phase];
    if (pod.num_gpu == 0) continue;
    ++gpu_pods;
    gpus += pod.num_gpu;
    sharing += pod.gpu_milli < 1000;
    censored += pod.run_time_censored;
  }
  EXPECT_EQ(phases[PodPhase::kRunning], 5'193);
  EXPECT_EQ(phases[PodPhase::kFailed], 1'870);
  EXPECT_EQ(phases[PodPhase::kPending], 897);
  EXPECT_EQ(phases[PodPhase::kSucceeded], 192);
  EXPECT_EQ(gpu_pods, 7'064);
  EXPECT_EQ(gpus, 7'433);
  EXPECT_EQ(sharing, 3'078);
  EXPECT_EQ(censored, 4'149);

  // By default CPU-only pods are left out and counted.
  trace = ReadAlibabaPods(TraceInput::File(path), {});
  ASSERT_TRUE(trace.ok());
  EXPECT_EQ(trace->pods.size(), 7'064u);
  EXPECT_EQ(trace->stats.filtered, 1'088);
  int64_t work = 0;
  for (const AlibabaPod& pod : trace->pods) work += pod.job.work_gpu_seconds;
  EXPECT_EQ(work, 32'190'761);
}

TEST(AlibabaSharedDataTest, ReadsTheSampledMultiGpuPodList) {
  const std::string path = SharedData("alibaba-gpu-2023/openb_pod_list_multigpu50.csv");
  POLYCLOUD_SKIP_WITHOUT_SHARED_DATA(path);
  Result<AlibabaPodTrace> trace = ReadAlibabaPods(TraceInput::File(path), {});
  ASSERT_TRUE(trace.ok()) << trace.status().message();
  EXPECT_EQ(trace->stats.records, 9'061);
  EXPECT_EQ(trace->pods.size(), 7'973u);
}

TEST(AlibabaSharedDataTest, GpuNodeListHas1213NodesAnd6212Gpus) {
  const std::string path = SharedData("alibaba-gpu-2023/openb_node_list_gpu_node.csv");
  POLYCLOUD_SKIP_WITHOUT_SHARED_DATA(path);
  Result<NodeList> nodes = ReadAlibabaGpuNodes(TraceInput::File(path), {});
  ASSERT_TRUE(nodes.ok()) << nodes.status().message();
  EXPECT_EQ(nodes->nodes.size(), 1'213u);
  EXPECT_EQ(nodes->TotalGpus(), 6'212);
  std::map<std::string, int64_t> models;
  for (const ClusterNode& node : nodes->nodes) ++models[node.model];
  EXPECT_EQ(models, (std::map<std::string, int64_t>{{"G2", 549},
                                                    {"T4", 404},
                                                    {"P100", 134},
                                                    {"V100M16", 55},
                                                    {"G3", 39},
                                                    {"V100M32", 30},
                                                    {"A10", 2}}));
  Fleet fleet = BuildNodeFleet(*nodes, OpenBFleet());
  int64_t pooled = 0;
  for (const world::Pool& pool : fleet.pools) pooled += pool.gpus.Max();
  EXPECT_EQ(pooled, 6'212);
  EXPECT_EQ(fleet.pools.size(), 12u);  // 7 models in 12 (model, node size) shapes

  const std::string all = SharedData("alibaba-gpu-2023/openb_node_list_all_node.csv");
  Result<NodeList> all_nodes = ReadAlibabaGpuNodes(TraceInput::File(all), {});
  ASSERT_TRUE(all_nodes.ok()) << all_nodes.status().message();
  EXPECT_EQ(all_nodes->nodes.size(), 1'523u);
  EXPECT_EQ(all_nodes->TotalGpus(), 6'212);
}

TEST(AlibabaSharedDataTest, SpotNodeListHas4278Nodes) {
  const std::string path = SharedData("alibaba-spot-gpu-2026/node_info_df.csv");
  POLYCLOUD_SKIP_WITHOUT_SHARED_DATA(path);
  Result<NodeList> nodes = ReadAlibabaSpotNodes(TraceInput::File(path), {});
  ASSERT_TRUE(nodes.ok()) << nodes.status().message();
  EXPECT_EQ(nodes->nodes.size(), 4'278u);
  EXPECT_EQ(nodes->TotalGpus(), 10'412);
  std::map<std::string, int64_t> models;
  for (const ClusterNode& node : nodes->nodes) ++models[node.model];
  EXPECT_EQ(models.size(), 6u);
  EXPECT_EQ(models["A10"], 2'494);
  EXPECT_EQ(models["A100-SXM4-80GB"], 432);
}

}  // namespace
}  // namespace polycloud::traces
