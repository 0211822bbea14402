// PoolNodes: the free-size index, each node policy's choice, whole-node gangs,
// capacity changes that add and remove nodes, and the fragmentation measure.
#include "polycloud/placement/nodes.h"

#include <gtest/gtest.h>

#include <vector>

namespace polycloud::placement {
namespace {

// Takes `gpus` with `policy` and returns the node chosen (the first one).
int32_t TakeOne(PoolNodes& nodes, int64_t gpus, NodePolicy policy, RequestMix& mix, Rng& rng,
                NodePick* pick = nullptr) {
  NodePick local;
  NodePick* p = pick != nullptr ? pick : &local;
  mix.Note(gpus);
  nodes.Take(gpus, policy, rng, mix, p);
  return p->nodes.front();
}

// Four nodes of 8 with 2, 5, 7 and 8 GPUs free. Work is put on a node by
// taking a wholly free node and giving back what is not wanted; Node(i) is
// the node that got the i-th amount.
class NodesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nodes_.SetCapacity(32);
    for (int64_t used : {6, 3, 1}) {
      NodePick pick;
      nodes_.Take(8, NodePolicy::kBestFit, rng_, mix_, &pick);
      nodes_.Give(pick.nodes.front(), 8 - used);
      map_.push_back(pick.nodes.front());
    }
  }
  int32_t Node(int32_t i) const { return map_[i]; }

  PoolNodes nodes_{8};
  RequestMix mix_;
  Rng rng_{7};
  std::vector<int32_t> map_;
};

TEST_F(NodesTest, PlaceableIsWholeFreeNodesOrTheLargestHole) {
  // One node wholly free: 8; take it and the largest hole (5) is what fits.
  EXPECT_EQ(nodes_.Placeable(), 8);
  EXPECT_EQ(nodes_.nodes_with_free(2), 1);
  EXPECT_EQ(nodes_.nodes_with_free(5), 1);
  EXPECT_EQ(nodes_.nodes_with_free(7), 1);
  EXPECT_EQ(nodes_.nodes_with_free(8), 1);
  RequestMix mix;
  TakeOne(nodes_, 8, NodePolicy::kBestFit, mix, rng_);
  EXPECT_EQ(nodes_.Placeable(), 7);
}

TEST_F(NodesTest, BestFitTakesTheFullestNodeThatFits) {
  RequestMix mix;
  NodePick pick;
  EXPECT_EQ(TakeOne(nodes_, 4, NodePolicy::kBestFit, mix, rng_, &pick), Node(1));  // 5 free
  EXPECT_EQ(pick.free_before, 5);
  EXPECT_EQ(pick.candidates, 3);                                            // the 5, 7 and 8 free
  EXPECT_EQ(TakeOne(nodes_, 2, NodePolicy::kBestFit, mix, rng_), Node(0));  // 2 free
}

TEST_F(NodesTest, SpreadTakesTheEmptiestNode) {
  RequestMix mix;
  const int32_t n = TakeOne(nodes_, 1, NodePolicy::kSpread, mix, rng_);
  EXPECT_EQ(nodes_.free(n), 7);
  EXPECT_EQ(nodes_.used(n), 1);
  // Now the emptiest is the node with 7 free (Node(2)) or the one just used.
  EXPECT_EQ(nodes_.free(TakeOne(nodes_, 1, NodePolicy::kSpread, mix, rng_)), 6);
}

TEST(NodesRandomTest, RandomDrawsAmongTheNodesThatFitAndIsSeeded) {
  auto run = [](uint64_t seed) {
    PoolNodes nodes(8);
    nodes.SetCapacity(8 * 16);
    Rng rng(seed);
    RequestMix mix;
    std::vector<int32_t> chosen;
    for (int i = 0; i < 16; ++i) chosen.push_back(TakeOne(nodes, 3, NodePolicy::kRandom, mix, rng));
    return chosen;
  };
  EXPECT_EQ(run(1), run(1));
  EXPECT_NE(run(1), run(2));
  // Never a node without room: 16 × 3 GPUs on 16 nodes of 8 always fit, and
  // no node ever holds more than 8.
  PoolNodes nodes(8);
  nodes.SetCapacity(8 * 4);
  Rng rng(3);
  RequestMix mix;
  for (int i = 0; i < 8; ++i) TakeOne(nodes, 4, NodePolicy::kRandom, mix, rng);
  for (int32_t n = 0; n < 4; ++n) EXPECT_EQ(nodes.used(n), 8);
  EXPECT_EQ(nodes.Placeable(), 0);
}

TEST(NodesFragmentationTest, MeasureCountsFreeGpusTheMixCannotUse) {
  RequestMix mix;
  mix.Note(4);
  mix.Note(4);
  mix.Note(1);
  mix.Note(16);  // a two-node gang: only a wholly free node serves it
  // A node with 3 free: the 4s (2 × 3) and the gang (1 × 3) cannot use them.
  EXPECT_EQ(PoolNodes::Fragmentation(3, 8, mix), 9);
  // Wholly free: every request can use it.
  EXPECT_EQ(PoolNodes::Fragmentation(8, 8, mix), 0);
  // 5 free: only the gang cannot.
  EXPECT_EQ(PoolNodes::Fragmentation(5, 8, mix), 5);
  EXPECT_EQ(PoolNodes::Fragmentation(0, 8, mix), 0);
}

TEST(NodesFragmentationTest, ChoosesTheNodeWhoseFragmentationGrowsLeast) {
  // Nodes with 5 and 4 free, a mix of 4s, a request of 1: best fit takes the
  // 4 (leaving 3, which no 4 can use); fragmentation takes the 5 (leaving 4).
  PoolNodes nodes(8);
  nodes.SetCapacity(16);
  Rng rng(1);
  RequestMix warm;
  NodePick pick;
  nodes.Take(8, NodePolicy::kBestFit, rng, warm, &pick);
  nodes.Give(pick.nodes.front(), 5);  // 5 free
  const int32_t five = pick.nodes.front();
  nodes.Take(8, NodePolicy::kBestFit, rng, warm, &pick);
  nodes.Give(pick.nodes.front(), 4);  // 4 free
  const int32_t four = pick.nodes.front();
  RequestMix mix;
  for (int i = 0; i < 20; ++i) mix.Note(4);
  mix.Note(1);
  PoolNodes best = nodes;
  best.Take(1, NodePolicy::kBestFit, rng, mix, &pick);
  EXPECT_EQ(pick.nodes.front(), four);
  nodes.Take(1, NodePolicy::kFragmentation, rng, mix, &pick);
  EXPECT_EQ(pick.nodes.front(), five);
  EXPECT_EQ(pick.frag_before, 0);  // 5 free: every size in the mix fits
  EXPECT_EQ(pick.frag_after, 0);   // 4 free: still
}

TEST(NodesFragmentationTest, StrandedCountsFreeGpusNoRecentRequestCouldUse) {
  PoolNodes nodes(8);
  nodes.SetCapacity(24);
  Rng rng(1);
  RequestMix none;
  EXPECT_EQ(nodes.Stranded(none), 0);  // no requests yet: nothing to measure against
  NodePick pick;
  nodes.Take(5, NodePolicy::kBestFit, rng, none, &pick);  // one node with 3 free
  nodes.Take(6, NodePolicy::kBestFit, rng, none, &pick);  // one with 2 free
  RequestMix fours;
  for (int i = 0; i < 4; ++i) fours.Note(4);
  // The 3 and the 2 are stranded for 4-GPU requests; the whole free node is not.
  EXPECT_EQ(nodes.Stranded(fours), 5);
  RequestMix mixed;
  mixed.Note(4);
  mixed.Note(1);
  // Half the requests (the 1s) could use every free GPU: (3 + 2) / 2.
  EXPECT_EQ(nodes.Stranded(mixed), 2);
}

TEST(NodesGangTest, AGangLargerThanANodeTakesWholeFreeNodes) {
  PoolNodes nodes(8);
  nodes.SetCapacity(32);
  Rng rng(1);
  RequestMix mix;
  NodePick pick;
  nodes.Take(2, NodePolicy::kBestFit, rng, mix, &pick);  // one node partly used
  EXPECT_EQ(nodes.Placeable(), 24);                      // three whole free nodes
  nodes.Take(16, NodePolicy::kBestFit, rng, mix, &pick);
  ASSERT_EQ(pick.nodes.size(), 2u);
  for (int32_t n : pick.nodes) EXPECT_EQ(nodes.used(n), 8);
  EXPECT_EQ(nodes.Placeable(), 8);
  nodes.Give(pick.nodes, 16);
  EXPECT_EQ(nodes.Placeable(), 24);
}

TEST(NodesCapacityTest, ShrinkingTakesFreeNodesFirstThenTheLowestRankedWork) {
  PoolNodes nodes(8);
  nodes.SetCapacity(20);  // 8, 8, 4
  EXPECT_EQ(nodes.node_count(), 3);
  EXPECT_EQ(nodes.size(2), 4);
  EXPECT_EQ(nodes.Placeable(), 16);
  Rng rng(1);
  RequestMix mix;
  NodePick pick;
  nodes.Take(4, NodePolicy::kBestFit, rng, mix, &pick);  // the 4-GPU node is the best fit
  EXPECT_EQ(pick.nodes.front(), 2);
  nodes.Take(8, NodePolicy::kBestFit, rng, mix, &pick);
  const int32_t busy = pick.nodes.front();
  const int32_t idle = 1 - busy;
  // A cut of 8 takes the idle node: no work is lost.
  nodes.SetCapacity(12);
  EXPECT_EQ(nodes.size(idle), 0);
  EXPECT_EQ(nodes.overcommitted_nodes(), 0);
  // A cut of 4 more must take work: the node ranked lower goes.
  const std::vector<int64_t> keep_busy = [&] {
    std::vector<int64_t> r(3, 1);
    r[busy] = 2;
    return r;
  }();
  nodes.SetCapacity(8, &keep_busy);
  EXPECT_EQ(nodes.size(2), 0);
  EXPECT_TRUE(nodes.overcommitted(2));
  EXPECT_FALSE(nodes.overcommitted(busy));
  EXPECT_EQ(nodes.overcommitted_nodes(), 1);
  nodes.Give(2, 4);
  EXPECT_EQ(nodes.overcommitted_nodes(), 0);
  // Growing brings the removed nodes back before adding new ones.
  nodes.SetCapacity(40);
  EXPECT_EQ(nodes.node_count(), 5);
  EXPECT_EQ(nodes.capacity(), 40);
  EXPECT_EQ(nodes.Placeable(), 32);  // four wholly free nodes; the busy one is full
  nodes.SetCapacity(0);
  EXPECT_EQ(nodes.Placeable(), 0);
  EXPECT_EQ(nodes.overcommitted_nodes(), 1);
}

TEST(NodesMixTest, TheMixKeepsTheLastWindowOfRequests) {
  RequestMix mix;
  for (int i = 0; i < RequestMix::kMixWindow; ++i) mix.Note(1);
  for (int i = 0; i < 10; ++i) mix.Note(8);
  ASSERT_EQ(mix.whole_sizes().size(), 2u);
  // Sizes in milli-GPUs (a share of a GPU is below 1000).
  EXPECT_EQ(mix.whole_sizes()[0], (std::pair<int64_t, int32_t>{1000, RequestMix::kMixWindow - 10}));
  EXPECT_EQ(mix.whole_sizes()[1], (std::pair<int64_t, int32_t>{8000, 10}));
  EXPECT_EQ(mix.total(), RequestMix::kMixWindow);
}

TEST(NodePolicyTest, NamesRoundTrip) {
  for (NodePolicy p : {NodePolicy::kPooled, NodePolicy::kBestFit, NodePolicy::kSpread,
                       NodePolicy::kRandom, NodePolicy::kFragmentation}) {
    EXPECT_EQ(ParseNodePolicy(NodePolicyName(p)), p);
  }
  EXPECT_FALSE(ParseNodePolicy("fgd").has_value());
}

}  // namespace
}  // namespace polycloud::placement
