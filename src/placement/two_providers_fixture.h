// The placement tests' fixture: the kTwoProviders world (tests/testing/
// scenario_fixture.h) with every pool installed, its fleet and exclusivity
// rules, and a job request of a given size and class.
//
// kTwoProviders: az-h100 (azure, reserved under take-or-pay azure-deal, 64
// H100, nodes of 8, no power limit), aws-h100 (64 H100 on demand, nodes of 8)
// and aws-gb200 (32 GB200, nodes of 4, fabric gang 16) at aws-east, 0.1 MW at
// PUE 1.0.
#ifndef POLYCLOUD_PLACEMENT_TWO_PROVIDERS_FIXTURE_H_
#define POLYCLOUD_PLACEMENT_TWO_PROVIDERS_FIXTURE_H_

#include <gtest/gtest.h>

#include <string_view>

#include "polycloud/placement/pipeline.h"
#include "tests/testing/scenario_fixture.h"

namespace polycloud::placement {

class TwoProvidersTest : public ::testing::Test {
 protected:
  TwoProvidersTest()
      : world_(polycloud::testing::LoadWorld(polycloud::testing::kTwoProviders)),
        fleet_(world_, Now()),
        rules_(world_) {
    for (size_t p = 0; p < world_.pools.size(); ++p) {
      fleet_.SetInstalled(static_cast<world::PoolIndex>(p), world_.pools[p].gpus.At(Now()), Now());
    }
    az_ = world_.FindPool("az-h100");
    aws_ = world_.FindPool("aws-h100");
    gb_ = world_.FindPool("aws-gb200");
  }
  static Time Now() { return polycloud::testing::T("2026-01-10"); }
  Context Ctx(const PreemptionOracle* oracle = nullptr) const {
    return Context{world_, fleet_, rules_, Now(), oracle};
  }
  // A job of priority 100.
  static Request Job(int64_t gpus, std::string_view cls = "research") {
    Request r;
    r.id = "j";
    r.workload_class = cls;
    r.gpus = gpus;
    r.priority = 100;
    return r;
  }

  world::World world_;
  FleetState fleet_;
  contracts::ExclusivityRules rules_;
  world::PoolIndex az_, aws_, gb_;
};

}  // namespace polycloud::placement

#endif  // POLYCLOUD_PLACEMENT_TWO_PROVIDERS_FIXTURE_H_
