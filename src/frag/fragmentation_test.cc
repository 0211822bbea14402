#include "polycloud/frag/fragmentation.h"

#include <gtest/gtest.h>

#include "src/frag/test_util.h"

namespace polycloud::frag {
namespace {

NodeState State(std::vector<int16_t> free_desc, int64_t cpu_free, int model = 0) {
  NodeState s;
  s.model = model;
  s.gpus = static_cast<int>(free_desc.size());
  s.cpu_free = cpu_free;
  s.memory_free = 1 << 20;
  for (size_t g = 0; g < free_desc.size(); ++g) s.gpu_free_sorted[g] = free_desc[g];
  return s;
}

TaskType Type(int num_gpu, int64_t gpu_milli, int64_t cpu_milli, int64_t weight) {
  return TaskType{cpu_milli, num_gpu, gpu_milli, kAnyModel, weight};
}

// A worked example of the paper's definition (section 3.2): a node of four
// GPUs with 1000, 600, 300 and 0 milli free and 8 cores free.
TEST(FragmentationTest, WorkedExampleFollowsThePaperDefinition) {
  const NodeState node = State({1000, 600, 300, 0}, 8000);
  // Runs (a GPU of >= 500 free, CPU fits): only the 300 below its share is lost.
  EXPECT_EQ(TaskFragmentation(node, Type(1, 500, 4000, 2)), 300);
  // Cannot run (one wholly free GPU, it asks two): all 1900 free is lost.
  EXPECT_EQ(TaskFragmentation(node, Type(2, 1000, 1000, 1)), 1900);
  // A CPU-only task uses none of the GPU: all of it counts.
  EXPECT_EQ(TaskFragmentation(node, Type(0, 0, 1000, 1)), 1900);
  // Lacks CPU (16 cores asked, 8 free): cannot run, all lost.
  EXPECT_EQ(TaskFragmentation(node, Type(1, 200, 16000, 1)), 1900);
  // A task of 1 x 200: every GPU but the empty one holds it; the 0 adds nothing.
  EXPECT_EQ(TaskFragmentation(node, Type(1, 200, 1000, 1)), 0);

  TaskMix mix;
  mix.types = {Type(1, 500, 4000, 2), Type(2, 1000, 1000, 1), Type(0, 0, 1000, 1),
               Type(1, 200, 16000, 1)};
  mix.total_weight = 5;
  // 2 x 300 + 1900 + 1900 + 1900 = 6300 pod-milli: 1260 milli-GPU of the
  // node's 1900 free is fragmented for this mix.
  EXPECT_EQ(NodeFragmentation(node, mix), 6300);
}

TEST(FragmentationTest, ModelsATaskDoesNotAllowAreAllFragment) {
  const NodeState node = State({1000, 1000}, 8000, /*model=*/1);
  TaskType t = Type(1, 1000, 1000, 1);
  t.models = ModelMask{1} << 0;  // model 0 only
  EXPECT_EQ(TaskFragmentation(node, t), 2000);
  t.models = ModelMask{1} << 1;
  EXPECT_EQ(TaskFragmentation(node, t), 0);
}

TEST(FragmentationTest, AFullNodeHasNoFragmentation) {
  EXPECT_EQ(TaskFragmentation(State({0, 0}, 0), Type(0, 0, 1000, 1)), 0);
}

TEST(FragmentationTest, TaskMixKeepsTheMostPopularTypesUpToTheCoverage) {
  std::vector<Pod> pods;
  for (int i = 0; i < 6; ++i) pods.push_back(GpuPod(1, 500));
  for (int i = 0; i < 3; ++i) pods.push_back(GpuPod(1, 1000));
  pods.push_back(CpuPod(2000));  // 1 of 10
  const TaskMix all = BuildTaskMix(pods, 100);
  EXPECT_EQ(all.types.size(), 3u);
  EXPECT_EQ(all.total_weight, 10);
  const TaskMix most = BuildTaskMix(pods, 90);  // 6 + 3 = 90 %: the CPU type is cut
  ASSERT_EQ(most.types.size(), 2u);
  EXPECT_EQ(most.types[0].gpu_milli, 500);
  EXPECT_EQ(most.types[0].weight, 6);
  EXPECT_EQ(most.total_weight, 9);
  EXPECT_EQ(most.distinct_types, 3);
}

}  // namespace
}  // namespace polycloud::frag
