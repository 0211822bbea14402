// The planning program on tiny worlds whose optimum is computed by hand.
#include "polycloud/plan/plan.h"

#include <gtest/gtest.h>

#include <string>

#include "polycloud/io/scenario.h"

namespace polycloud::plan {
namespace {

struct Solved {
  io::Scenario scenario;
  PlanningInputs inputs;
  Plan plan;
};

// Four weeks from 2026-01-05; one provider "a" with a site "sa" and,
// unless `extra` says otherwise, nothing else. Accelerator X: 1 kW, speed 1.
Solved Solve(const std::string& body) {
  const std::string text =
      "name: tiny\nstart: 2026-01-05\nend: 2026-02-02\n"
      "accelerators: [{name: X, memory_gb: 80, watts: 1000, speed: 1.0}]\n" +
      body;
  auto s = io::LoadScenarioString(text, "tiny.yaml");
  EXPECT_TRUE(s.ok()) << s.status().message();
  auto in = ParsePlanning(text, "tiny.yaml", s->world);
  EXPECT_TRUE(in.ok()) << in.status().message();
  auto p = SolvePlan(s->world, *in);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return {std::move(*s), std::move(*in), std::move(*p)};
}

const char* kOneCommitment = R"(
providers: [{id: a}]
sites: [{id: sa, provider: a%POWER%}]
contracts:
  - {id: ca, provider: a, start: 2026-01-05, end: 2026-02-02, committed_usd: 672000, take_or_pay: true}
pools: []
planning:
  step: 1w
  goal: burn-commitments
  offers:
    - {id: oa, site: sa, accelerator: X, price_per_gpu_hour: 1, lead_time: %LEAD%, max_gpus: 100000,
       max_ramp_per_week: 100000, gpus_per_node: 1, contract: ca}
%SITES%
)";

std::string Fill(std::string s, const std::string& power, const std::string& lead,
                 const std::string& sites) {
  auto put = [&](const std::string& key, const std::string& v) {
    s.replace(s.find(key), key.size(), v);
  };
  put("%POWER%", power);
  put("%LEAD%", lead);
  put("%SITES%", sites);
  return s;
}

TEST(PlanTest, BurnsOneCommitmentWithTheFewestGpusAtOnce) {
  // $672,000 over 4 weeks at $1/GPU-h = 4000 GPU-weeks: 1000 GPUs from the start.
  Solved s = Solve(Fill(kOneCommitment, "", "0s", ""));
  ASSERT_EQ(s.plan.periods.size(), 4u);
  EXPECT_EQ(s.plan.offers[0].installed, (std::vector<int64_t>{1000, 1000, 1000, 1000}));
  EXPECT_EQ(s.plan.offers[0].added, (std::vector<int64_t>{1000, 0, 0, 0}));
  EXPECT_EQ(s.plan.spend_new, Money::FromDollars(672000));
  EXPECT_EQ(s.plan.shortfall, Money());
  EXPECT_EQ(s.plan.total, Money::FromDollars(672000));
  ASSERT_EQ(s.plan.contracts.size(), 1u);
  EXPECT_EQ(s.plan.contracts[0].planned_spend, Money::FromDollars(672000));
}

TEST(PlanTest, LeadTimeDelaysArrivalAndDoublesTheGpus) {
  // Nothing can arrive before day 14: 4000 GPU-weeks in the last two weeks.
  Solved s = Solve(Fill(kOneCommitment, "", "14d", ""));
  EXPECT_EQ(s.plan.offers[0].installed, (std::vector<int64_t>{0, 0, 2000, 2000}));
  EXPECT_EQ(s.plan.shortfall, Money());
}

TEST(PlanTest, PowerBindsAndTheSiteIsBuiltAtItsRate) {
  // 0.5 MW = 500 GPUs of 1 kW; building 0.25 MW a week allows 750, 1000,
  // 1250, 1500 GPUs. 4000 GPU-weeks with the lowest peak: 750, 1000, 1125, 1125;
  // built 250, 500, 625, 625 kW; capex $1B/GW × 0.625 MW = $625,000.
  Solved s = Solve(Fill(kOneCommitment, ", power_mw: 0.5", "0s",
                        "  sites: [{site: sa, build_mw_per_week: 0.25, capex_per_gw: 1B}]"));
  EXPECT_EQ(s.plan.offers[0].installed, (std::vector<int64_t>{750, 1000, 1125, 1125}));
  ASSERT_EQ(s.plan.sites.size(), 1u);
  std::vector<int64_t> kw;
  for (Power p : s.plan.sites[0].built) kw.push_back(p.watts() / 1000);
  EXPECT_EQ(kw, (std::vector<int64_t>{250, 500, 625, 625}));
  EXPECT_EQ(s.plan.capex, Money::FromDollars(625000));
  EXPECT_EQ(s.plan.shortfall, Money());
  EXPECT_EQ(s.plan.total, Money::FromDollars(672000 + 625000));
}

TEST(PlanTest, PowerWithoutBuildLeavesAnExactShortfall) {
  // 500 GPUs at most: 2000 GPU-weeks = $336,000 spent, $336,000 short.
  Solved s = Solve(Fill(kOneCommitment, ", power_mw: 0.5", "0s", ""));
  EXPECT_EQ(s.plan.offers[0].installed, (std::vector<int64_t>{500, 500, 500, 500}));
  EXPECT_EQ(s.plan.shortfall, Money::FromDollars(336000));
  EXPECT_EQ(s.plan.total, Money::FromDollars(672000));
}

const char* kTwoProviders = R"(
providers: [{id: a}, {id: b}]
sites: [{id: sa, provider: a}, {id: sb, provider: b}]
contracts:
  - id: ca
    provider: a
    start: 2026-01-01
    end: 2027-01-01
%CLAUSE%
pools: []
planning:
  step: 1w
  goal: demand
  offers:
    - {id: oa, site: sa, accelerator: X, price_per_gpu_hour: %PA%, lead_time: 0s, max_gpus: 1000, max_ramp_per_week: 1000, gpus_per_node: 1}
    - {id: ob, site: sb, accelerator: X, price_per_gpu_hour: %PB%, lead_time: 0s, max_gpus: 1000, max_ramp_per_week: 1000, gpus_per_node: 1}
  demand:
    - {id: api, class: api, reference_gpus: 100}
)";

std::string Two(const std::string& clause, const std::string& pa, const std::string& pb) {
  std::string s = kTwoProviders;
  s.replace(s.find("%CLAUSE%"), 8, clause);
  s.replace(s.find("%PA%"), 4, pa);
  s.replace(s.find("%PB%"), 4, pb);
  return s;
}

TEST(PlanTest, DemandGoesToTheCheapestOfferWithoutClauses) {
  Solved s = Solve(Two("", "5", "3"));
  EXPECT_EQ(s.plan.offers[0].installed.back(), 0);
  EXPECT_EQ(s.plan.offers[1].installed, (std::vector<int64_t>{100, 100, 100, 100}));
  EXPECT_EQ(s.plan.spend_new, Money::FromDollars(100 * 3 * 672));
}

TEST(PlanTest, ExclusivityForbidsTheCheaperOffer) {
  // api may run only at a: b's $3 offer is of no use to it.
  Solved s = Solve(Two("    exclusivity: [{class: api}]", "5", "3"));
  EXPECT_EQ(s.plan.offers[0].installed, (std::vector<int64_t>{100, 100, 100, 100}));
  EXPECT_EQ(s.plan.offers[1].installed.back(), 0);
  EXPECT_EQ(s.plan.spend_new, Money::FromDollars(100 * 5 * 672));
}

TEST(PlanTest, RofrHolderTakesTheDemandItCanMatch) {
  // a holds a ROFR and matches b's terms ($4, same lead time): b is closed.
  Solved s = Solve(Two("    rofr: [{}]", "4", "4"));
  EXPECT_EQ(s.plan.offers[0].installed, (std::vector<int64_t>{100, 100, 100, 100}));
  EXPECT_EQ(s.plan.offers[1].installed.back(), 0);
}

TEST(PlanTest, RofrHolderCannotMatchACheaperOffer) {
  Solved s = Solve(Two("    rofr: [{}]", "4", "3"));
  EXPECT_EQ(s.plan.offers[0].installed.back(), 0);
  EXPECT_EQ(s.plan.offers[1].installed, (std::vector<int64_t>{100, 100, 100, 100}));
}

TEST(PlanTest, UnmetDemandIsReportedWhenNothingMayServeIt) {
  // Exclusive to a, and a sells nothing: the demand stays unmet, at its penalty.
  std::string s = Two("    exclusivity: [{class: api}]", "5", "3");
  s.replace(s.find("max_gpus: 1000"), 14, "max_gpus: 1");  // oa's, the first
  Solved r = Solve(s);
  ASSERT_EQ(r.plan.demand.size(), 1u);
  EXPECT_NEAR(r.plan.demand[0].unmet_reference_gpus[0], 99.0, 1e-6);
}

TEST(PlanTest, CbcFindsTheSameWholeNodePlan) {
  std::string body = Fill(kOneCommitment, "", "0s", "  solver: cbc");
  Solved s = Solve(body);
  EXPECT_EQ(s.plan.solver, "cbc");
  EXPECT_EQ(s.plan.offers[0].installed, (std::vector<int64_t>{1000, 1000, 1000, 1000}));
  EXPECT_EQ(s.plan.shortfall, Money());
}

TEST(PlanTest, ReusesAProcurementOfferWithItsTerms) {
  Solved s = Solve(R"(
providers: [{id: a}]
sites: [{id: sa, provider: a}]
contracts:
  - {id: ca, provider: a, start: 2026-01-05, end: 2026-02-02, committed_usd: 672000, take_or_pay: true}
pools: []
procurement:
  offers:
    - {id: p1, site: sa, accelerator: X, price_per_gpu_hour: 2, lead_time: 7d, max_gpus: 4000,
       gpus_per_node: 2, contract: ca}
planning:
  goal: burn-commitments
  offers: [{offer: p1, max_ramp_per_week: 4000}]
)");
  ASSERT_EQ(s.inputs.offers.size(), 1u);
  EXPECT_EQ(s.inputs.offers[0].price_per_gpu_hour, Money::FromDollars(2));
  EXPECT_EQ(s.inputs.offers[0].gpus_per_node, 2);
  // From day 7 at $2: 336,000 GPU-hours over three weeks = 2000/3 GPUs, rounded up to nodes.
  EXPECT_EQ(s.plan.offers[0].installed, (std::vector<int64_t>{0, 668, 668, 668}));
  EXPECT_EQ(s.plan.shortfall, Money());
  EXPECT_EQ(s.plan.spend_new, Money::FromDollars(668 * 2 * 504));
  const std::string fragment = WriteFragment(s.scenario.world, s.inputs, s.plan);
  EXPECT_NE(fragment.find("- id: plan-p1"), std::string::npos) << fragment;
}

TEST(PlanTest, MinimumsAreSettledLikeTheLedger) {
  // A 4-week term of $1M with a $400K minimum in its first two weeks; at most
  // 500 GPUs at $1: 84,000 per week. Minimum short 400 - 168 = $232K; term
  // short 1M - (336K + 232K) = $432K; both take-or-pay.
  const std::string body = R"(
providers: [{id: a}]
sites: [{id: sa, provider: a}]
contracts:
  - id: ca
    provider: a
    start: 2026-01-05
    end: 2026-02-02
    committed_usd: 1M
    take_or_pay: true
    minimums: [{by: 2026-01-19, spend: 400K}, {by: 2026-02-02, spend: 0}]
pools: []
planning:
  goal: burn-commitments
  offers:
    - {id: oa, site: sa, accelerator: X, price_per_gpu_hour: 1, lead_time: 0s, max_gpus: 500,
       max_ramp_per_week: 500, gpus_per_node: 1, contract: ca}
)";
  Solved s = Solve(body);
  EXPECT_EQ(s.plan.offers[0].installed, (std::vector<int64_t>{500, 500, 500, 500}));
  ASSERT_EQ(s.plan.contracts.size(), 1u);
  ASSERT_EQ(s.plan.contracts[0].obligations.size(), 3u);
  EXPECT_EQ(s.plan.contracts[0].obligations[0].shortfall, Money::FromDollars(232000));
  EXPECT_EQ(s.plan.contracts[0].obligations[2].shortfall, Money::FromDollars(432000));
  EXPECT_EQ(s.plan.shortfall, Money::FromDollars(664000));
  const std::string text =
      "name: tiny\nstart: 2026-01-05\nend: 2026-02-02\n"
      "accelerators: [{name: X, memory_gb: 80, watts: 1000, speed: 1.0}]\n" +
      body;
  auto check = CheckPlan(text, "tiny.yaml", s.scenario.world, s.inputs, s.plan);
  ASSERT_TRUE(check.ok()) << check.status().message();
  EXPECT_EQ(check->contracts[0].simulated_shortfall, Money::FromDollars(664000));
}

TEST(PlanTest, FragmentOverlaysOntoTheScenarioAndSimulatesToTheSameShortfall) {
  const std::string text =
      "name: tiny\nstart: 2026-01-05\nend: 2026-01-19\n"
      "accelerators: [{name: X, memory_gb: 80, watts: 1000, speed: 1.0}]\n" +
      Fill(kOneCommitment, "", "0s", "  until: 2026-02-02");
  auto s = io::LoadScenarioString(text, "tiny.yaml");
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto in = ParsePlanning(text, "tiny.yaml", s->world);
  ASSERT_TRUE(in.ok()) << in.status().message();
  auto p = SolvePlan(s->world, *in);
  ASSERT_TRUE(p.ok());
  const std::string fragment = WriteFragment(s->world, *in, *p);
  EXPECT_NE(fragment.find("end: 2026-02-02"), std::string::npos) << fragment;
  EXPECT_NE(fragment.find("- id: plan-oa"), std::string::npos) << fragment;
  auto check = CheckPlan(text, "tiny.yaml", s->world, *in, *p);
  ASSERT_TRUE(check.ok()) << check.status().message();
  ASSERT_EQ(check->contracts.size(), 1u);
  EXPECT_EQ(check->contracts[0].simulated_spend, Money::FromDollars(672000));
  EXPECT_EQ(check->contracts[0].simulated_shortfall, Money());
  EXPECT_EQ(check->contracts[0].predicted_shortfall, Money());
}

TEST(PlanTest, SameInputSameBytes) {
  const std::string body = Fill(kOneCommitment, ", power_mw: 0.5", "0s",
                                "  sites: [{site: sa, build_mw_per_week: 0.25, capex_per_gw: 1B}]");
  Solved a = Solve(body), b = Solve(body);
  EXPECT_EQ(RenderPlanJson(a.scenario.world, a.inputs, a.plan, false),
            RenderPlanJson(b.scenario.world, b.inputs, b.plan, false));
  EXPECT_EQ(WriteFragment(a.scenario.world, a.inputs, a.plan),
            WriteFragment(b.scenario.world, b.inputs, b.plan));
}

}  // namespace
}  // namespace polycloud::plan
