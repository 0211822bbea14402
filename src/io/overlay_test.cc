#include "polycloud/io/overlay.h"

#include <gtest/gtest.h>

#include "polycloud/base/parse.h"
#include "polycloud/io/scenario.h"
#include "tests/testing/scenario_fixture.h"

namespace polycloud::io {
namespace {

using polycloud::testing::T;

constexpr const char* kBase = R"(name: base
start: 2026-01-01
end: 2026-12-01
providers:
  - {id: azure}
  - {id: aws}
contracts:
  - id: azure-deal
    provider: azure
    start: 2025-01-01
    end: 2030-01-01
    committed_usd: 1M
    take_or_pay: true
    exclusivity:
      - {class: stateless-api, until: 2030-01-01}
sites:
  - {id: az-east, provider: azure}
  - {id: aws-east, provider: aws}
pools:
  - {id: az-h100, site: az-east, accelerator: H100, pricing: reserved, gpus: 64, price_per_gpu_hour: 2.00, contract: azure-deal}
  - id: aws-gb200
    site: aws-east
    accelerator: GB200
    pricing: reserved
    ramp: linear
    gpus:
      - {at: 2026-01-01, gpus: 40}
      - {at: 2026-07-01, gpus: 200}
    price_per_gpu_hour: 4.20
    gpus_per_node: 4
jobs:
  - {id: j1, gpus: 8, work_gpu_hours: 10}
  - {id: j2, gpus: 16, work_gpu_hours: 20}
services:
  - id: chat
    model: m
    class: consumer
    gpus_per_replica: 8
    replica_tokens_per_s: 1000
    demand:
      - {at: 2026-01-01, tokens_per_s: 1000}
      - {at: 2026-06-01, tokens_per_s: 3001}
)";

Override Set(std::string text) { return {Override::Kind::kSet, std::move(text), std::nullopt}; }
Override Unset(std::string text) { return {Override::Kind::kUnset, std::move(text), std::nullopt}; }
Override With(std::string name, std::string text) {
  return {Override::Kind::kWith, std::move(name), std::move(text)};
}

Result<Scenario> LoadWith(std::vector<Override> overrides, std::vector<Diagnostic>* diags) {
  LoadOptions options;
  options.overrides = std::move(overrides);
  return LoadScenarioString(kBase, "base.yaml", diags, options);
}

Scenario MustLoad(std::vector<Override> overrides) {
  std::vector<Diagnostic> diags;
  auto s = LoadWith(std::move(overrides), &diags);
  if (!s.ok()) {
    ADD_FAILURE() << s.status().message();
    return Scenario{};
  }
  return std::move(*s);
}

std::string ErrorOf(std::vector<Override> overrides) {
  std::vector<Diagnostic> diags;
  auto s = LoadWith(std::move(overrides), &diags);
  EXPECT_FALSE(s.ok());
  return s.ok() ? "" : s.status().message();
}

const world::Pool& PoolById(const world::World& w, const std::string& id) {
  for (const auto& p : w.pools) {
    if (p.id == id) return p;
  }
  ADD_FAILURE() << "no pool " << id;
  return w.pools.front();
}

TEST(SetArgumentTest, ParsesKeysIdsIndicesWildcardsAndQuotedKeys) {
  SetArgument a;
  ASSERT_FALSE(ParseSetArgument("pools.aws-gb200.price_per_gpu_hour=3.10", true, &a));
  ASSERT_EQ(a.path.size(), 3u);
  EXPECT_EQ(a.path[1].key, "aws-gb200");
  EXPECT_EQ(a.path[1].column, 7);
  EXPECT_EQ(a.value, "3.10");
  EXPECT_EQ(a.value_column, 36);
  ASSERT_FALSE(ParseSetArgument("jobs[3].gpus=8", true, &a));
  ASSERT_EQ(a.path.size(), 3u);
  EXPECT_EQ(a.path[1].kind, PathSegment::Kind::kIndex);
  EXPECT_EQ(a.path[1].index, 3);
  ASSERT_FALSE(ParseSetArgument("services.*.demand.scale=1.3", true, &a));
  EXPECT_EQ(a.path[1].kind, PathSegment::Kind::kAll);
  ASSERT_FALSE(ParseSetArgument("pools.\"a.b\".gpus=1", true, &a));
  EXPECT_EQ(a.path[1].key, "a.b");
  ASSERT_FALSE(ParseSetArgument("contracts.x.exclusivity=[]", true, &a));
  EXPECT_EQ(a.value, "[]");
  ASSERT_FALSE(ParseSetArgument("contracts.x.rofr", false, &a));
  EXPECT_FALSE(a.has_value);
}

TEST(SetArgumentTest, RejectsMalformedPathsWithTheColumn) {
  SetArgument a;
  auto e = ParseSetArgument("pools..gpus=1", true, &a);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->column, 7);
  e = ParseSetArgument("pools.x.gpus", true, &a);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("no '='"), std::string::npos);
  e = ParseSetArgument("pools[1=2", true, &a);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->column, 6);
  e = ParseSetArgument("=1", true, &a);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->column, 1);
  e = ParseSetArgument("a.b=", true, &a);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("empty value"), std::string::npos);
}

TEST(OverrideTest, SetReplacesAValueAddressedById) {
  Scenario s = MustLoad({Set("pools.aws-gb200.price_per_gpu_hour=3.10")});
  EXPECT_EQ(PoolById(s.world, "aws-gb200").price_per_gpu_hour, Money::FromMicros(3'100'000));
  ASSERT_EQ(s.overrides.size(), 1u);
  EXPECT_EQ(s.overrides[0], "--set pools.aws-gb200.price_per_gpu_hour=3.10");
}

TEST(OverrideTest, SetAddressesListItemsByIndex) {
  Scenario s = MustLoad({Set("jobs[1].gpus=32")});
  EXPECT_EQ(s.world.jobs.size(), 2u);
  bool found = false;
  for (const auto& j : s.world.jobs) {
    if (j.id == "j2") {
      EXPECT_EQ(j.gpus, 32);
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(OverrideTest, SetTakesFlowValuesAndAddsMissingKeys) {
  Scenario s = MustLoad({Set("contracts.azure-deal.exclusivity=[]"), Set("scheduler.policy=fifo")});
  EXPECT_TRUE(s.world.contracts[0].exclusivity.empty());
  EXPECT_EQ(s.options.policy, "fifo");
}

TEST(OverrideTest, ShiftMovesEveryPointOfASchedule) {
  Scenario base = MustLoad({});
  Scenario s = MustLoad({Set("pools.aws-gb200.gpus.shift=+30d")});
  const auto& before = PoolById(base.world, "aws-gb200").gpus;
  const auto& after = PoolById(s.world, "aws-gb200").gpus;
  EXPECT_EQ(before.At(T("2026-01-01")), 40);
  EXPECT_EQ(after.At(T("2026-01-01")), 0);
  EXPECT_EQ(after.At(T("2026-01-31")), 40);
  EXPECT_EQ(after.At(T("2026-07-31")), 200);
  EXPECT_LT(after.At(T("2026-07-01")), 200);
}

TEST(OverrideTest, ShiftOfAConstantScheduleStartsItLater) {
  Scenario s = MustLoad({Set("pools.az-h100.gpus.shift=+10d")});
  const auto& gpus = PoolById(s.world, "az-h100").gpus;
  EXPECT_EQ(gpus.At(T("2026-01-05")), 0);
  EXPECT_EQ(gpus.At(T("2026-01-11")), 64);
}

TEST(OverrideTest, GlobSegmentNamesEveryMatchingItem) {
  Scenario s = MustLoad({Set("pools.a*.price_per_gpu_hour=7")});
  for (const auto& p : s.world.pools) EXPECT_EQ(p.price_per_gpu_hour, Money::FromMicros(7'000'000));
  Scenario g = MustLoad({Set("pools.aws-gb*.gpus.shift=+30d")});
  EXPECT_EQ(PoolById(g.world, "aws-gb200").gpus.At(T("2026-01-02")), 0);
  EXPECT_EQ(PoolById(g.world, "az-h100").gpus.At(T("2026-01-02")), 64);
  EXPECT_NE(ErrorOf({Set("pools.gcp-*.gpus=1")}).find("no item of pools has an id matching"),
            std::string::npos);
}

TEST(OverrideTest, ScaleMultipliesEveryScheduleValueExactly) {
  Scenario s = MustLoad({Set("services.*.demand.scale=1.3")});
  const auto& demand = s.world.services[0].demand_tokens_per_s;
  EXPECT_EQ(demand.At(T("2026-01-02")), 1300);
  EXPECT_EQ(demand.At(T("2026-06-02")), 3901);  // 3901.3 rounds to 3901
  Scenario p = MustLoad({Set("pools.*.price_per_gpu_hour.scale=1.1")});
  EXPECT_EQ(PoolById(p.world, "aws-gb200").price_per_gpu_hour, Money::FromMicros(4'620'000));
  Scenario c = MustLoad({Set("contracts.azure-deal.committed_usd.scale=0.5")});
  EXPECT_EQ(c.world.contracts[0].committed_spend, Money::FromMicros(500'000'000'000));
}

TEST(OverrideTest, UnsetRemovesAKeyOrAListItem) {
  Scenario s = MustLoad({Unset("contracts.azure-deal.exclusivity"), Unset("jobs.j1")});
  EXPECT_TRUE(s.world.contracts[0].exclusivity.empty());
  ASSERT_EQ(s.world.jobs.size(), 1u);
  EXPECT_EQ(s.world.jobs[0].id, "j2");
  Scenario all = MustLoad({Unset("jobs.*")});
  EXPECT_TRUE(all.world.jobs.empty());
}

TEST(OverrideTest, WithMergesMapsAndListsById) {
  Scenario s = MustLoad({With("variant.yaml", R"(
pools:
  - {id: aws-gb200, price_per_gpu_hour: 3.00}
  - {id: aws-h100, site: aws-east, accelerator: H100, pricing: on-demand, gpus: 8, price_per_gpu_hour: 9}
jobs:
  - {id: j1, remove: true}
)")});
  EXPECT_EQ(PoolById(s.world, "aws-gb200").price_per_gpu_hour, Money::FromMicros(3'000'000));
  EXPECT_EQ(PoolById(s.world, "aws-gb200").gpus_per_node, 4);  // kept from the base
  EXPECT_EQ(s.world.pools.size(), 3u);
  ASSERT_EQ(s.world.jobs.size(), 1u);
  EXPECT_EQ(s.world.jobs[0].id, "j2");
}

// What `plan --check` relies on (its fragment moves `end`, sets a site's
// power and appends pools and services): scalars are replaced, a list item
// with a known id merges key by key, a new id is appended.
TEST(OverrideTest, WithReplacesScalarsMergesItemsAndAppendsNewIds) {
  Scenario s = MustLoad({With("plan fragment", R"(
end: 2027-01-01
sites:
  - {id: az-east, power_mw: 5}
services:
  - {id: plan-chat, model: m, class: consumer, gpus_per_replica: 8, replica_tokens_per_s: 1000, demand: 500}
)")});
  EXPECT_EQ(s.world.end, T("2027-01-01"));
  ASSERT_EQ(s.world.sites.size(), 2u);
  EXPECT_EQ(s.world.sites[0].id, "az-east");
  EXPECT_EQ(s.world.sites[0].provider, 0);  // kept from the base
  EXPECT_TRUE(s.world.sites[0].power_limited);
  EXPECT_EQ(s.world.sites[0].power.At(T("2026-06-01")), Power::Megawatts(5));
  ASSERT_EQ(s.world.services.size(), 2u);
  EXPECT_EQ(s.world.services[0].id, "chat");
  EXPECT_EQ(s.world.services[1].id, "plan-chat");
}

TEST(OverrideTest, WithAppliesBeforeSetInOrder) {
  Scenario s = MustLoad({With("a.yaml", "pools: [{id: az-h100, price_per_gpu_hour: 5}]\n"),
                         Set("pools.az-h100.price_per_gpu_hour.scale=2")});
  EXPECT_EQ(PoolById(s.world, "az-h100").price_per_gpu_hour, Money::FromMicros(10'000'000));
}

TEST(OverrideTest, UnknownListItemIsAnErrorNamingTheArgumentAndColumn) {
  const std::string e = ErrorOf({Set("pools.aws-gb300.gpus=8")});
  EXPECT_NE(e.find("--set #1 \"pools.aws-gb300.gpus=8\", column 7: no item with id or name "
                   "\"aws-gb300\" in pools (ids: az-h100, aws-gb200)"),
            std::string::npos)
      << e;
}

TEST(OverrideTest, UnknownKeyIsReportedByTheLoaderAtTheArgument) {
  const std::string e = ErrorOf({Set("pools.az-h100.price=3"), Set("pools.az-h100.gpus=8")});
  EXPECT_NE(e.find("--set #1 \"pools.az-h100.price=3\", column 15: unknown key \"price\""),
            std::string::npos)
      << e;
}

TEST(OverrideTest, BadValueFromASetPointsAtTheArgument) {
  const std::string e = ErrorOf({Set("pools.az-h100.gpus=8"), Set("pools.az-h100.gpus=lots")});
  EXPECT_NE(e.find("--set #2 \"pools.az-h100.gpus=lots\", column 20:"), std::string::npos) << e;
}

TEST(OverrideTest, BadValueInAFragmentPointsAtTheFragmentLine) {
  const std::string e =
      ErrorOf({With("frag.yaml", "# a variant\npools:\n  - {id: az-h100, gpus: many}\n")});
  EXPECT_NE(e.find("frag.yaml:3:25:"), std::string::npos) << e;
  EXPECT_EQ(e.find("base.yaml:"), std::string::npos) << e;
}

TEST(OverrideTest, ErrorsInTheBaseStillPointAtTheBase) {
  const std::string e = ErrorOf({Set("pools.az-h100.site=nowhere")});
  EXPECT_NE(e.find("--set #1"), std::string::npos) << e;
  const std::string f = ErrorOf({With("f.yaml", "end: 2025-01-01\n")});
  EXPECT_NE(f.find("f.yaml:1:6:"), std::string::npos) << f;
}

TEST(OverrideTest, RemoveOfAnUnknownIdIsAnError) {
  const std::string e = ErrorOf({With("f.yaml", "jobs:\n  - {id: nope, remove: true}\n")});
  EXPECT_NE(e.find("f.yaml:2:5: remove: no item with id \"nope\""), std::string::npos) << e;
}

TEST(OverrideTest, BadShiftAndScaleValuesAreErrors) {
  EXPECT_NE(ErrorOf({Set("pools.aws-gb200.gpus.shift=soon")}).find("column 28: shift"),
            std::string::npos);
  EXPECT_NE(ErrorOf({Set("pools.aws-gb200.gpus.scale=-1")}).find("scale: expected"),
            std::string::npos);
  EXPECT_NE(ErrorOf({Set("pools.aws-gb200.site.scale=2")}).find("is not a number"),
            std::string::npos);
  EXPECT_NE(ErrorOf({Set("pools.aws-gb200.site.shift=+1d")}).find("not a time or a schedule"),
            std::string::npos);
  EXPECT_NE(ErrorOf({Set("end.shift=+9000000d")}).find("at most 100 years"), std::string::npos);
}

TEST(OverrideTest, NothingIsLoadedWhenOneOverrideFails) {
  std::vector<Diagnostic> diags;
  auto s = LoadWith({Set("pools.az-h100.gpus=8"), Set("nosuch[0]=1")}, &diags);
  ASSERT_FALSE(s.ok());
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_EQ(diags[0].file, "--set #2 \"nosuch[0]=1\"");
}

TEST(OverrideTest, MissingFragmentFileIsAnIoError) {
  LoadOptions options;
  options.overrides.push_back({Override::Kind::kWith, "/nonexistent/frag.yaml", std::nullopt});
  auto s = LoadScenarioString(kBase, "base.yaml", options);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kIoError);
}

TEST(OverrideTest, SameOverridesGiveTheSameWorld) {
  Scenario a = MustLoad({Set("services.*.demand.scale=1.7"), Set("pools.*.gpus.shift=-3d")});
  Scenario b = MustLoad({Set("services.*.demand.scale=1.7"), Set("pools.*.gpus.shift=-3d")});
  EXPECT_EQ(a.world.services[0].demand_tokens_per_s.Max(),
            b.world.services[0].demand_tokens_per_s.Max());
  EXPECT_EQ(PoolById(a.world, "aws-gb200").gpus.At(T("2026-06-28")),
            PoolById(b.world, "aws-gb200").gpus.At(T("2026-06-28")));
  EXPECT_EQ(PoolById(a.world, "aws-gb200").gpus.At(T("2026-06-28")), 200);
}

}  // namespace
}  // namespace polycloud::io

extern "C" int PolycloudFuzzOverlay(const uint8_t* data, size_t size);

namespace polycloud::io {
namespace {

void FeedOverlay(const std::string& s) {
  PolycloudFuzzOverlay(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// The overlay fuzz target (tests/fuzz/overlay_fuzz.cc) over seeds, cut and
// with bytes flipped, so the regular suite exercises it on every build.
TEST(OverlayFuzzTargetTest, SurvivesTruncatedAndCorruptedSeeds) {
  const std::vector<std::string> seeds = {
      "set pools.p1.gpus=8\nset pools.*.price_per_gpu_hour.scale=1.3\n",
      "set pools.p2.gpus.shift=+10d\nset faults.f.shift=-2d\nunset jobs.j1\n",
      "set services.*.demand.scale=2\nset job_streams.*.count.scale=0.5\n",
      "set contracts.deal.exclusivity=[]\nunset contracts.deal.rofr\nset scheduler.policy=fifo\n",
      "set shift=+1d\nset \"pools\"[p1].gpus=[{at: 2026-01-02, gpus: 4}]\n",
      "set pools[1].gpus.shift=-1000000d\nset end.shift=+36600d\nset a..b=1\nset [=]\n",
      "---\npools:\n  - {id: p1, remove: true}\n  - {id: p3, site: s2, accelerator: H100, pricing: "
      "spot, "
      "gpus: 8, price_per_gpu_hour: 1}\njobs: null\n",
      "set pools.p1.contract=null\n---\n[1, 2]\n",
      "---\ncontracts: [{id: deal, exclusivity: [{class: x}]}]\n"};
  int runs = 0;
  for (const std::string& seed : seeds) {
    FeedOverlay(seed);
    ++runs;
    for (size_t cut = 0; cut < seed.size(); cut += 3, ++runs) FeedOverlay(seed.substr(0, cut));
    for (size_t at = 0; at < seed.size(); at += 5, ++runs) {
      std::string mutated = seed;
      mutated[at] = static_cast<char>(mutated[at] ^ 0x21);
      FeedOverlay(mutated);
    }
  }
  EXPECT_GT(runs, 300);
}

}  // namespace
}  // namespace polycloud::io
