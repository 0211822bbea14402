#include "polycloud/frag/policy.h"

#include <gtest/gtest.h>

#include <set>

#include "src/frag/test_util.h"

namespace polycloud::frag {
namespace {

int Choose(Policy policy, const Cluster& c, const Pod& pod, uint64_t seed = 1,
           const TaskMix* mix = nullptr) {
  NodeChooser chooser(policy, mix);
  Rng rng(seed);
  auto p = chooser.Choose(c, pod, rng);
  return p ? p->node : -1;
}

// Node 0 empty, node 1 with one of its GPUs half used.
Cluster EmptyAndHalfUsed() {
  Cluster c = MakeCluster({Node("empty", 0, 2), Node("used", 0, 2)});
  c.Place(1, GpuPod(1, 500), GpuChoice{{0}, 1});
  return c;
}

TEST(PolicyTest, ParsesNamesAndRefusesOthers) {
  for (Policy p : PaperPolicies()) EXPECT_EQ(*ParsePolicy(PolicyName(p)), p);
  EXPECT_EQ(*ParsePolicy("spread"), Policy::kSpread);
  auto bad = ParsePolicy("worstfit");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("fgd"), std::string::npos);
}

TEST(PolicyTest, BestFitTakesTheFullerNode) {
  EXPECT_EQ(Choose(Policy::kBestFit, EmptyAndHalfUsed(), GpuPod(1, 1000)), 1);
}

TEST(PolicyTest, SpreadTakesTheEmptierNode) {
  EXPECT_EQ(Choose(Policy::kSpread, EmptyAndHalfUsed(), GpuPod(1, 1000)), 0);
}

TEST(PolicyTest, DotProdTakesTheNodeWithTheSmallerProduct) {
  Cluster c = MakeCluster({Node("empty", 0, 8), Node("busy", 0, 8)});
  for (int g = 0; g < 6; ++g) c.Place(1, GpuPod(1, 1000), GpuChoice{{static_cast<int8_t>(g)}, 1});
  // (free CPU, free GPU) . (8 cores, 2 GPUs): 85 for the empty node, 95 for the busy one.
  NodeChooser chooser(Policy::kDotProd, nullptr);
  EXPECT_EQ(chooser.Score(c.ClassState(c.ClassOf(0)), GpuPod(2, 1000, 8000)), 85);
  EXPECT_EQ(chooser.Score(c.ClassState(c.ClassOf(1)), GpuPod(2, 1000, 8000)), 95);
  EXPECT_EQ(Choose(Policy::kDotProd, c, GpuPod(2, 1000, 8000)), 1);
}

TEST(PolicyTest, PackingSharesAUsedGpuBeforeAFreeOne) {
  Cluster c = MakeCluster({Node("empty", 0, 2), Node("free-gpu", 0, 2), Node("shared", 0, 2)});
  c.Place(1, GpuPod(1, 1000), GpuChoice{{0}, 1});  // node 1: one whole GPU used, one free
  c.Place(2, GpuPod(1, 400), GpuChoice{{0}, 1});   // node 2: a GPU with 600 free
  NodeChooser chooser(Policy::kPacking, nullptr);
  EXPECT_GT(chooser.Score(c.ClassState(c.ClassOf(2)), GpuPod(1, 500)),
            chooser.Score(c.ClassState(c.ClassOf(1)), GpuPod(1, 500)));
  EXPECT_GT(chooser.Score(c.ClassState(c.ClassOf(1)), GpuPod(1, 500)),
            chooser.Score(c.ClassState(c.ClassOf(0)), GpuPod(1, 500)));
  EXPECT_EQ(Choose(Policy::kPacking, c, GpuPod(1, 500)), 2);
  // A whole-GPU pod: a used node's free GPU before the empty node.
  EXPECT_NE(Choose(Policy::kPacking, c, GpuPod(1, 1000)), 0);
}

TEST(PolicyTest, ClusteringPrefersNodesRunningTheSameKind) {
  Cluster c = MakeCluster({Node("empty", 0, 8), Node("sharing", 0, 8), Node("whole", 0, 8)});
  c.Place(1, GpuPod(1, 200), GpuChoice{{0}, 1});
  c.Place(2, GpuPod(2, 1000), GpuChoice{{0, 1}, 2});
  EXPECT_EQ(Choose(Policy::kClustering, c, GpuPod(1, 300)), 1);
  EXPECT_EQ(Choose(Policy::kClustering, c, GpuPod(2, 1000)), 2);
  // A kind no node runs: an idle node scores above one running other kinds.
  EXPECT_EQ(Choose(Policy::kClustering, c, GpuPod(4, 1000)), 0);
}

TEST(PolicyTest, FgdTakesTheNodeAndGpuWhoseFragmentationGrowsLeast) {
  // The workload is whole-GPU tasks: half a GPU left alone is fragment.
  TaskMix mix;
  mix.types = {TaskType{1000, 1, 1000, kAnyModel, 1}};
  mix.total_weight = 1;
  const Cluster c = EmptyAndHalfUsed();
  NodeChooser chooser(Policy::kFgd, &mix);
  Rng rng(7);
  auto p = chooser.Choose(c, GpuPod(1, 500), rng);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->node, 1);           // filling the half-used GPU removes 500 of fragment
  EXPECT_EQ(p->gpus.index[0], 0);  // that GPU, not the free one
  // The artifact's score: int(100 x sigmoid(decrease / 1000)).
  EXPECT_EQ(chooser.Score(c.ClassState(c.ClassOf(1)), GpuPod(1, 500)), 62);  // sigmoid(0.5)
  EXPECT_EQ(chooser.Score(c.ClassState(c.ClassOf(0)), GpuPod(1, 500)), 37);  // sigmoid(-0.5)
  NodeChooser exact(Policy::kFgdExact, &mix);
  EXPECT_EQ(exact.Score(c.ClassState(c.ClassOf(1)), GpuPod(1, 500)), 500);
  EXPECT_EQ(exact.Score(c.ClassState(c.ClassOf(0)), GpuPod(1, 500)), -500);
}

TEST(PolicyTest, FirstTieBreakTakesTheFirstNodeInVisitOrder) {
  Cluster c = MakeCluster({Node("a", 0, 8), Node("b", 0, 8), Node("c", 0, 8)});
  NodeChooser chooser(Policy::kBestFit, nullptr, TieBreak::kFirst);
  chooser.SetNodeOrder({2, 0, 1});
  Rng rng(1);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(chooser.Choose(c, GpuPod(1, 1000), rng)->node, 2);
  // The random policy still draws.
  NodeChooser random(Policy::kRandom, nullptr, TieBreak::kFirst);
  std::set<int> seen;
  for (int i = 0; i < 32; ++i) seen.insert(random.Choose(c, GpuPod(1, 1000), rng)->node);
  EXPECT_EQ(seen.size(), 3u);
}

TEST(PolicyTest, RandomSpreadsOverFittingNodesOnly) {
  Cluster c = MakeCluster({Node("a", 0, 1), Node("b", 0, 1), Node("full", 0, 1)});
  c.Place(2, GpuPod(1, 1000), GpuChoice{{0}, 1});
  std::set<int> seen;
  for (uint64_t seed = 0; seed < 64; ++seed)
    seen.insert(Choose(Policy::kRandom, c, GpuPod(1, 500), seed));
  EXPECT_EQ(seen, (std::set<int>{0, 1}));
}

TEST(PolicyTest, TiesAreBrokenBySeedDeterministically) {
  Cluster c = MakeCluster({Node("a", 0, 8), Node("b", 0, 8), Node("c", 0, 8), Node("d", 0, 8)});
  for (Policy p : PaperPolicies()) {
    TaskMix mix = BuildTaskMix({GpuPod(1, 1000)});
    EXPECT_EQ(Choose(p, c, GpuPod(1, 1000), 99, &mix), Choose(p, c, GpuPod(1, 1000), 99, &mix))
        << PolicyName(p);
  }
}

TEST(PolicyTest, NoFittingNodeGivesNothing) {
  const Cluster c = EmptyAndHalfUsed();
  EXPECT_EQ(Choose(Policy::kBestFit, c, GpuPod(3, 1000)), -1);
  EXPECT_EQ(Choose(Policy::kBestFit, c, CpuPod(1 << 30)), -1);
}

}  // namespace
}  // namespace polycloud::frag
