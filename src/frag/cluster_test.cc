#include "polycloud/frag/cluster.h"

#include <gtest/gtest.h>

#include "src/frag/test_util.h"

namespace polycloud::frag {
namespace {

TEST(ClusterTest, SharingPodsStackOnOneGpuUpTo1000Milli) {
  Cluster c = MakeCluster({Node("n0", 0, 1)});
  const Pod half = GpuPod(1, 500);
  for (int i = 0; i < 2; ++i) {
    auto gpus = c.FitOnNode(0, half);
    ASSERT_TRUE(gpus.has_value());
    EXPECT_EQ(gpus->index[0], 0);
    c.Place(0, half, *gpus);
  }
  EXPECT_EQ(c.GpuFree(0, 0), 0);
  EXPECT_FALSE(c.FitOnNode(0, GpuPod(1, 1)).has_value());
  EXPECT_EQ(c.AllocatedGpuMilli(), 1000);
}

TEST(ClusterTest, SharingPodTakesTheFittingGpuWithLeastFreeShare) {
  Cluster c = MakeCluster({Node("n0", 0, 3)});
  c.Place(0, GpuPod(1, 300), GpuChoice{{1}, 1});  // GPU 1: 700 free
  c.Place(0, GpuPod(1, 800), GpuChoice{{2}, 1});  // GPU 2: 200 free
  auto gpus = c.FitOnNode(0, GpuPod(1, 500));
  ASSERT_TRUE(gpus.has_value());
  EXPECT_EQ(gpus->index[0], 1);  // 700 free holds 500; 200 does not; 1000 is larger
}

TEST(ClusterTest, MultiGpuPodTakesWholeFreeGpusOfOneNode) {
  Cluster c = MakeCluster({Node("n0", 0, 4), Node("n1", 0, 2)});
  c.Place(0, GpuPod(1, 100), GpuChoice{{0}, 1});  // node 0: three GPUs wholly free
  EXPECT_FALSE(c.FitOnNode(0, GpuPod(4, 1000)).has_value());
  auto three = c.FitOnNode(0, GpuPod(3, 1000));
  ASSERT_TRUE(three.has_value());
  EXPECT_EQ(three->count, 3);
  EXPECT_EQ(three->index[0], 1);
  EXPECT_EQ(three->index[2], 3);
  // Two nodes' free GPUs together never hold a pod: node 1 has only two.
  EXPECT_FALSE(c.FitOnNode(1, GpuPod(3, 1000)).has_value());
}

TEST(ClusterTest, CpuAndMemoryMustFit) {
  Cluster c = MakeCluster({Node("n0", 0, 8, /*cpu=*/4000, /*memory=*/2048)});
  EXPECT_TRUE(c.FitOnNode(0, GpuPod(1, 1000, 4000, 2048)).has_value());
  EXPECT_FALSE(c.FitOnNode(0, GpuPod(1, 1000, 4001, 1)).has_value());
  EXPECT_FALSE(c.FitOnNode(0, GpuPod(1, 1000, 1, 2049)).has_value());
  EXPECT_TRUE(c.FitOnNode(0, CpuPod(4000, 2048)).has_value());
  EXPECT_FALSE(c.FitOnNode(0, CpuPod(4001)).has_value());
}

TEST(ClusterTest, GpuSpecRestrictsModels) {
  Cluster c = MakeCluster({Node("g2", 0, 8), Node("t4", 1, 2)}, {"G2", "T4"});
  Pod t4_only = GpuPod(1, 1000);
  t4_only.models = ModelMask{1} << c.ModelId("T4");
  EXPECT_FALSE(c.FitOnNode(0, t4_only).has_value());
  EXPECT_TRUE(c.FitOnNode(1, t4_only).has_value());
  Pod none = GpuPod(1, 1000);
  none.models = 0;  // a gpu_spec naming only models the cluster lacks
  EXPECT_FALSE(c.FitOnNode(0, none).has_value());
}

TEST(ClusterTest, CpuOnlyPodsFitCpuNodesAndGpuPodsDoNot) {
  Cluster c = MakeCluster({Node("cpu", -1, 0)});
  EXPECT_TRUE(c.FitOnNode(0, CpuPod(1000)).has_value());
  EXPECT_FALSE(c.FitOnNode(0, GpuPod(1, 100)).has_value());
  EXPECT_EQ(c.TotalGpuMilli(), 0);
}

TEST(ClusterTest, NodesInEqualStatesShareAClass) {
  Cluster c = MakeCluster({Node("a", 0, 2), Node("b", 0, 2), Node("c", 0, 2)});
  EXPECT_EQ(c.ClassOf(0), c.ClassOf(1));
  c.Place(0, GpuPod(1, 300), GpuChoice{{0}, 1});
  c.Place(1, GpuPod(1, 300), GpuChoice{{1}, 1});  // the other GPU: the same multiset
  EXPECT_EQ(c.ClassOf(0), c.ClassOf(1));
  EXPECT_NE(c.ClassOf(0), c.ClassOf(2));
  EXPECT_EQ(c.ClassState(c.ClassOf(0)).gpu_free_sorted[0], 1000);
  EXPECT_EQ(c.ClassState(c.ClassOf(0)).gpu_free_sorted[1], 700);
}

TEST(ClusterTest, RefusesNodesBeyondTheLimits) {
  auto too_many = Cluster::Create({"G2"}, {Node("big", 0, kMaxGpusPerNode + 1)});
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(too_many.status().message().find("big"), std::string::npos);
  auto no_model = Cluster::Create({}, {NodeSpec{"x", -1, 2, 1000, 1000}});
  EXPECT_FALSE(no_model.ok());
}

TEST(ClusterTest, PodsFromTraceMapsSpecsAndRefusesSharedMultiGpuPods) {
  Cluster c = MakeCluster({Node("g2", 0, 8), Node("t4", 1, 2)}, {"G2", "T4"});
  traces::AlibabaPodTrace trace;
  traces::AlibabaPod p;
  p.cpu_milli = 1000;
  p.memory_mib = 10;
  p.num_gpu = 1;
  p.gpu_milli = 250;
  p.gpu_spec = {"T4", "P100"};
  trace.pods.push_back(p);
  auto pods = PodsFromTrace(trace, c);
  ASSERT_TRUE(pods.ok());
  EXPECT_EQ((*pods)[0].models, ModelMask{1} << 1);
  EXPECT_TRUE((*pods)[0].IsSharing());
  trace.pods[0].num_gpu = 2;
  trace.pods[0].line = 7;
  auto bad = PodsFromTrace(trace, c, "pods.csv");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("pods.csv:7: column 'gpu_milli'"), std::string::npos)
      << bad.status().message();
}

}  // namespace
}  // namespace polycloud::frag
