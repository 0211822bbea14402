// PoolNodes with GPU sharing, CPU and memory per node: shares on one GPU,
// whole GPUs and gangs beside them, CPU and memory fit, release, capacity
// shrink and overcommit, each policy's choice, and the per-GPU fragmentation.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <vector>

#include "polycloud/placement/nodes.h"

namespace polycloud::placement {
namespace {

NodeShape Share(int32_t milli, int64_t cpu_milli = 0, int64_t memory_mib = 0) {
  return {1, milli, cpu_milli, memory_mib};
}
NodeShape Whole(int64_t gpus, int64_t cpu_milli = 0, int64_t memory_mib = 0) {
  return {gpus, 0, cpu_milli, memory_mib};
}

class SharingTest : public ::testing::Test {
 protected:
  // Takes `shape`, noting it in the mix, and returns the pick.
  NodePick Take(const NodeShape& shape, NodePolicy policy = NodePolicy::kBestFit) {
    mix_.NoteMilli(shape.share() ? shape.milli : shape.gpus * 1000);
    EXPECT_TRUE(nodes_.Fits(shape));
    NodePick pick;
    nodes_.Take(shape, policy, rng_, mix_, &pick);
    return pick;
  }

  // Three nodes of 4 GPUs, 16 CPUs and 64 GiB each, with sharing.
  PoolNodes nodes_{4, 16'000, 64 * 1024, true};
  RequestMix mix_;
  Rng rng_{5};

  void SetUp() override { nodes_.SetCapacity(12); }
};

TEST_F(SharingTest, SharesFillOneGpuBeforeOpeningAnother) {
  EXPECT_FALSE(nodes_.plain());
  EXPECT_EQ(nodes_.ShareRoom(), 1000);
  const NodePick a = Take(Share(300));
  ASSERT_EQ(a.nodes.size(), 1u);
  EXPECT_GE(a.gpu, 0);
  EXPECT_EQ(a.share_free_before, 1000);
  EXPECT_EQ(nodes_.used_total(), 1);  // one GPU in use
  EXPECT_EQ(nodes_.used_milli(), 300);
  EXPECT_EQ(nodes_.gpus_with_free_share(700), 1);
  // Best fit: the fullest GPU share that fits, the same GPU.
  const NodePick b = Take(Share(500));
  EXPECT_EQ(b.nodes.front(), a.nodes.front());
  EXPECT_EQ(b.gpu, a.gpu);
  EXPECT_EQ(b.share_free_before, 700);
  EXPECT_EQ(nodes_.share_used(a.nodes.front(), a.gpu), 800);
  EXPECT_EQ(nodes_.used_total(), 1);
  // 300 does not fit in the 200 left: a new GPU, on the same (fullest) node.
  const NodePick c = Take(Share(300));
  EXPECT_EQ(c.nodes.front(), a.nodes.front());
  EXPECT_NE(c.gpu, a.gpu);
  EXPECT_EQ(nodes_.used_total(), 2);
  EXPECT_EQ(nodes_.free(a.nodes.front()), 2);
  // Releasing the shares gives the GPUs back when they are empty.
  nodes_.Give(a.nodes, Share(300), a.gpu);
  EXPECT_EQ(nodes_.used_total(), 2);  // b still there
  nodes_.Give(b.nodes, Share(500), b.gpu);
  EXPECT_EQ(nodes_.used_total(), 1);
  nodes_.Give(c.nodes, Share(300), c.gpu);
  EXPECT_EQ(nodes_.used_total(), 0);
  EXPECT_EQ(nodes_.used_milli(), 0);
  EXPECT_EQ(nodes_.Placeable(), 12);
  EXPECT_EQ(nodes_.gpus_with_free_share(700), 0);
}

TEST_F(SharingTest, ShareRoomIsTheMostFreeShareWhenNoGpuIsWhole) {
  PoolNodes one(1, 0, 0, true);
  one.SetCapacity(2);
  Rng rng(1);
  RequestMix mix;
  NodePick p1, p2;
  one.Take(Share(600), NodePolicy::kBestFit, rng, mix, &p1);
  one.Take(Share(900), NodePolicy::kBestFit, rng, mix, &p2);
  EXPECT_EQ(one.Placeable(), 0);
  EXPECT_EQ(one.ShareRoom(), 400);
  EXPECT_TRUE(one.Fits(Share(400)));
  EXPECT_FALSE(one.Fits(Share(401)));
  EXPECT_FALSE(one.Fits(Whole(1)));
  // A pool without sharing takes no share at all.
  PoolNodes plain(8);
  plain.SetCapacity(8);
  EXPECT_TRUE(plain.plain());
  EXPECT_EQ(plain.ShareRoom(), 0);
  EXPECT_FALSE(plain.Fits(Share(100)));
}

TEST_F(SharingTest, WholeGpusAndSharesLiveSideBySideOnANode) {
  const NodePick s = Take(Share(500));
  const NodePick w = Take(Whole(3));  // fullest node with 3 whole free GPUs: the same node
  EXPECT_EQ(w.nodes.front(), s.nodes.front());
  EXPECT_EQ(nodes_.free(s.nodes.front()), 0);
  EXPECT_EQ(nodes_.used(s.nodes.front()), 4);
  // The shared GPU still takes another share; a whole GPU goes elsewhere.
  const NodePick s2 = Take(Share(400));
  EXPECT_EQ(s2.nodes.front(), s.nodes.front());
  EXPECT_EQ(s2.gpu, s.gpu);
  const NodePick w2 = Take(Whole(1));
  EXPECT_NE(w2.nodes.front(), s.nodes.front());
  // A gang of two nodes needs two wholly free nodes: only one is.
  EXPECT_FALSE(nodes_.Fits(Whole(8)));
  nodes_.Give(w2.nodes, Whole(1), -1);
  EXPECT_TRUE(nodes_.Fits(Whole(8)));
}

TEST_F(SharingTest, CpuAndMemoryMustFitOnTheNode) {
  // 12 of 16 CPUs on the first node taken by a share.
  const NodePick a = Take(Share(100, 12'000, 1024));
  EXPECT_EQ(nodes_.cpu_used(a.nodes.front()), 12'000);
  // A share needing 8 CPUs does not fit beside it: the next node, a new GPU.
  const NodePick b = Take(Share(100, 8'000));
  EXPECT_NE(b.nodes.front(), a.nodes.front());
  // 6 CPUs and 60 GiB: not beside the 12 CPUs; the fullest node with room is b's.
  const NodePick c = Take(Whole(1, 6'000, 60 * 1024));
  EXPECT_EQ(c.nodes.front(), b.nodes.front());
  EXPECT_EQ(nodes_.memory_used(c.nodes.front()), 60 * 1024);
  // No node has 17 CPUs: never fits; 16 fit on the third node only.
  EXPECT_FALSE(nodes_.Fits(Whole(1, 17'000)));
  const NodePick d = Take(Whole(1, 16'000));
  EXPECT_EQ(nodes_.cpu_used(d.nodes.front()), 16'000);
  EXPECT_FALSE(nodes_.Fits(Whole(1, 8'000, 8 * 1024)));  // no node has 8 CPUs left
  // Releasing gives the CPU and memory back.
  nodes_.Give(a.nodes, Share(100, 12'000, 1024), a.gpu);
  EXPECT_EQ(nodes_.cpu_used(a.nodes.front()), 0);
  EXPECT_EQ(nodes_.memory_used(a.nodes.front()), 0);
  EXPECT_TRUE(nodes_.Fits(Whole(1, 8'000, 8 * 1024)));
}

TEST_F(SharingTest, AGangTakesWholeFreeNodesWithTheirCpu) {
  // A NodeShape's CPU is per node (FleetState::NodeShapeOf divides a job's).
  EXPECT_TRUE(nodes_.Fits(Whole(8, 16'000)));
  EXPECT_FALSE(nodes_.Fits(Whole(8, 17'000)));
  const NodePick g = Take(Whole(8, 16'000));
  ASSERT_EQ(g.nodes.size(), 2u);
  for (int32_t n : g.nodes) EXPECT_EQ(nodes_.cpu_used(n), 16'000);
  nodes_.Give(g.nodes, Whole(8, 16'000), -1);
  for (int32_t n : g.nodes) EXPECT_EQ(nodes_.cpu_used(n), 0);
  EXPECT_EQ(nodes_.Placeable(), 12);
}

TEST_F(SharingTest, SpreadOpensTheEmptiestNodeAndRandomIsSeeded) {
  Take(Share(500));
  const NodePick s = Take(Share(500), NodePolicy::kSpread);
  EXPECT_EQ(s.share_free_before, 1000);  // a wholly free GPU on an empty node
  EXPECT_EQ(nodes_.free(s.nodes.front()), 3);
  auto draws = [](uint64_t seed) {
    PoolNodes nodes(4, 0, 0, true);
    nodes.SetCapacity(64);
    Rng rng(seed);
    RequestMix mix;
    std::vector<int32_t> out;
    for (int i = 0; i < 20; ++i) {
      NodePick pick;
      nodes.Take(Share(250), NodePolicy::kRandom, rng, mix, &pick);
      out.push_back(pick.nodes.front() * 4 + pick.gpu);
    }
    return out;
  };
  EXPECT_EQ(draws(3), draws(3));
  EXPECT_NE(draws(3), draws(4));
}

TEST_F(SharingTest, FragmentationCountsEachGpusUnusableShare) {
  RequestMix halves;
  for (int i = 0; i < 4; ++i) halves.NoteMilli(500);
  const NodePick a = Take(Share(700));  // leaves 300 on a GPU: no half fits in it
  EXPECT_EQ(nodes_.NodeFragmentation(a.nodes.front(), halves), 4 * 300);
  // Against whole GPUs, the partly used GPU is lost as a whole: 300 milli
  // each, plus the node's 3 whole free GPUs for a 4-GPU request.
  RequestMix fours;
  fours.Note(4);
  EXPECT_EQ(nodes_.NodeFragmentation(a.nodes.front(), fours), 300 + 3000);
  // FGD: a 300 share against a mix of halves fills the 300 hole (the GPU's
  // fragment vanishes) rather than opening a new GPU.
  for (int i = 0; i < 8; ++i) mix_.NoteMilli(500);
  const NodePick b = Take(Share(300), NodePolicy::kFragmentation);
  EXPECT_EQ(b.gpu, a.gpu);
  EXPECT_EQ(b.nodes.front(), a.nodes.front());
  EXPECT_TRUE(b.frag_milli);
  EXPECT_LT(b.frag_after, b.frag_before);
  // Stranded over the pool, in GPUs (rounded down).
  EXPECT_EQ(nodes_.Stranded(halves), 0);
}

TEST_F(SharingTest, ShrinkingOverANodeWithSharesOvercommitsItUntilTheyGo) {
  const NodePick a = Take(Share(500));
  const NodePick b = Take(Whole(4));  // another node, wholly
  // Cut to 4 GPUs: the free node goes first, then the node ranked lower.
  std::vector<int64_t> keep(3, 0);
  keep[b.nodes.front()] = 2;
  keep[a.nodes.front()] = 1;
  nodes_.SetCapacity(4, &keep);
  EXPECT_TRUE(nodes_.overcommitted(a.nodes.front()));
  EXPECT_FALSE(nodes_.overcommitted(b.nodes.front()));
  // The share on the removed node is not a place for new shares.
  EXPECT_FALSE(nodes_.Fits(Share(100)));
  nodes_.Give(a.nodes, Share(500), a.gpu);
  EXPECT_EQ(nodes_.overcommitted_nodes(), 0);
  EXPECT_EQ(nodes_.used_total(), 4);
}

TEST_F(SharingTest, AWalkGivesUpAfterTheProbeBound) {
  // Nodes of 2 GPUs and 1 CPU; spread puts a share with the whole CPU on
  // 2 × kFitProbes nodes (one GPU left whole on each, no CPU), one node stays
  // wholly free.
  constexpr int kBusy = PoolNodes::kFitProbes * 2;
  PoolNodes big(2, 1000, 0, true);
  big.SetCapacity(2 * (kBusy + 1));
  Rng rng(1);
  RequestMix mix;
  for (int i = 0; i < kBusy; ++i) {
    NodePick pick;
    big.Take(Share(100, 1000), NodePolicy::kSpread, rng, mix, &pick);
  }
  EXPECT_EQ(big.nodes_with_free(1), kBusy);
  EXPECT_EQ(big.nodes_with_free(2), 1);
  // One GPU with a CPU: best fit walks the fullest nodes first and meets
  // kFitProbes without CPU: no, although the free node would hold it (the
  // request waits for the next change; the cost stays bounded).
  EXPECT_FALSE(big.Fits(Whole(1, 1000)));
  // Two GPUs: only the free node is a candidate.
  EXPECT_TRUE(big.Fits(Whole(2, 1000)));
  // Without CPU the first candidate fits: exact.
  EXPECT_TRUE(big.Fits(Whole(1)));
  EXPECT_TRUE(big.Fits(Share(100)));
}

// The header's measure, per request size of the window, straight from the
// definition (what PoolNodes computed before it regrouped the sum).
int64_t ReferenceFragmentation(const PoolNodes& p, int32_t n, const std::deque<int64_t>& window,
                               int32_t share_gpu = -2, int32_t share = 0, int64_t whole = 0) {
  const int64_t gpn = p.gpus_per_node();
  int64_t f = p.free(n);
  bool wholly_free = p.used(n) == 0 && p.size(n) == gpn;
  std::vector<int64_t> partial;
  for (int32_t g = 0; g < gpn; ++g) {
    const int64_t u = p.share_used(n, g);
    if (u > 0 && u < 1000) partial.push_back(1000 - u - (g == share_gpu ? share : 0));
  }
  if (share_gpu == -1) {  // a share on a wholly free GPU
    --f;
    partial.push_back(1000 - share);
    wholly_free = false;
  } else if (share_gpu >= 0) {
    wholly_free = false;
  } else if (whole > 0) {
    f -= whole;
    wholly_free = false;
  }
  int64_t sum_partial = 0;
  for (int64_t x : partial) sum_partial += x;
  int64_t sum = 0;
  for (int64_t milli : window) {
    if (milli < 1000) {
      if (!p.sharing()) continue;
      for (int64_t x : partial) sum += x < milli ? x : 0;
      continue;
    }
    const int64_t g = milli / 1000;
    if (g <= gpn) {
      sum += sum_partial + (f < g ? 1000 * f : 0);
    } else {
      sum += wholly_free ? 0 : sum_partial + 1000 * f;
    }
  }
  return sum;
}

TEST(SharingFragmentationTest, FgdPicksTheLeastFragmentingCandidateOfThePool) {
  // Random shares, whole GPUs and releases on a pool with sharing (no CPU or
  // memory: every candidate fits); each FGD pick must be the least growth of
  // the measure over every candidate, computed from the definition.
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    PoolNodes pool(4, 0, 0, true);
    pool.SetCapacity(4 * 24);
    RequestMix mix;
    std::deque<int64_t> window;
    Rng rng(seed);
    struct Held {
      std::vector<int32_t> nodes;
      NodeShape shape;
      int32_t gpu;
    };
    std::vector<Held> held;
    for (int step = 0; step < 3000; ++step) {
      if (!held.empty() && rng.Below(10) < 4) {
        const size_t k = rng.Below(held.size());
        pool.Give(held[k].nodes, held[k].shape, held[k].gpu);
        held[k] = held.back();
        held.pop_back();
        continue;
      }
      const bool share = rng.Below(10) < 6;
      const NodeShape s = share ? Share(static_cast<int32_t>(1 + rng.Below(999)))
                                : Whole(static_cast<int64_t>(1 + rng.Below(4)));
      const int64_t milli = share ? s.milli : s.gpus * 1000;
      mix.NoteMilli(milli);
      window.push_back(milli);
      if (window.size() > RequestMix::kMixWindow) window.pop_front();
      if (!pool.Fits(s)) continue;
      // The least growth over every candidate.
      int64_t least = INT64_MAX;
      for (int32_t n = 0; n < pool.node_count(); ++n) {
        if (pool.overcommitted(n)) continue;
        const int64_t before = ReferenceFragmentation(pool, n, window);
        if (share) {
          for (int32_t g = 0; g < pool.gpus_per_node(); ++g) {
            const int64_t u = pool.share_used(n, g);
            if (u > 0 && 1000 - u >= s.milli) {
              least = std::min(least, ReferenceFragmentation(pool, n, window, g, s.milli) - before);
            }
          }
          if (pool.free(n) >= 1) {
            least = std::min(least, ReferenceFragmentation(pool, n, window, -1, s.milli) - before);
          }
        } else if (pool.free(n) >= s.gpus) {
          least = std::min(least, ReferenceFragmentation(pool, n, window, -2, 0, s.gpus) - before);
        }
      }
      NodePick pick;
      pool.Take(s, NodePolicy::kFragmentation, rng, mix, &pick);
      ASSERT_EQ(pick.frag_after - pick.frag_before, least) << "seed " << seed << " step " << step;
      held.push_back({pick.nodes, s, pick.gpu});
      // The pool's measure agrees with the definition on every node.
      for (int32_t n = 0; n < pool.node_count(); n += 5) {
        ASSERT_EQ(pool.NodeFragmentation(n, mix), ReferenceFragmentation(pool, n, window));
      }
    }
  }
}

}  // namespace
}  // namespace polycloud::placement
