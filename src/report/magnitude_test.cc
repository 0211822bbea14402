// The magnitude model (docs/scenario.md, "Magnitudes") from the outside:
// scenarios at the validator's extreme bounds load, simulate and report with
// non-negative money, and without a sanitizer report under `make asan`; and
// the wrapped results of issue 10/11 stay fixed.
#include <gtest/gtest.h>

#include "polycloud/base/parse.h"
#include "polycloud/base/rng.h"
#include "polycloud/sim/simulator.h"
#include "polycloud/world/magnitudes.h"
#include "tests/testing/scenario_fixture.h"

extern "C" int PolycloudFuzzSimulate(const uint8_t* data, size_t size);

namespace polycloud::report {
namespace {

using world::kMaxGpus;

std::string Dollars(int64_t micros) {
  return std::to_string(micros / 1'000'000) + "." +
         std::string(6 - std::to_string(micros % 1'000'000).size(), '0') +
         std::to_string(micros % 1'000'000);
}

// A random scenario with every magnitude at or near its bound: the whole
// fleet at 2^26 GPUs priced so its list-price spend over the span is just
// within $2.3T, gangs of up to 2^26, work of 10^9 GPU-hours, 100 kW GPUs at
// PUE 10, 100x speed, services at the token bounds, commitments at the cap.
std::string ExtremeScenario(uint64_t seed) {
  Rng rng(seed);
  const int64_t spans[] = {86'400, 30 * 86'400, world::kMaxSpanSeconds};
  const int64_t span = spans[rng.Below(3)];
  const Time start = ParseTime("2026-01-01").value();
  const int64_t pools = 1 + static_cast<int64_t>(rng.Below(3));
  // The pools and one procurement offer share the fleet bound.
  const int64_t per_pool = kMaxGpus / (pools + 1);
  // Σ gpus × price × span / 3600 <= 2^61 µ$.
  const __int128 max_price =
      (static_cast<__int128>(world::kMaxMoneyMicros) * 3600) / (per_pool * (pools + 1)) / span;
  const int64_t price =
      static_cast<int64_t>(std::min<__int128>(max_price, world::kMaxPricePerGpuHourMicros));
  const bool fast = rng.Below(2) == 0;
  std::string y = "name: extreme-" + std::to_string(seed) + "\nstart: " + FormatTime(start) +
                  "\nend: " + FormatTimeFull(start + Duration::Seconds(span)) +
                  "\nseed: " + std::to_string(seed) +
                  "\naccelerators:\n  - {name: XL, memory_gb: 1000000, watts: 100000, speed: " +
                  (fast ? "100" : "0.001") +
                  "}\nproviders: [{id: a}, {id: b}]\n"
                  "contracts:\n  - {id: c, provider: a, start: " +
                  FormatTime(start) + ", end: " + FormatTimeFull(start + Duration::Seconds(span)) +
                  ", committed_usd: 2T, take_or_pay: true}\n"
                  // No power limit: a site must power everything installed in it
                  // at full board power (world/power.h), and 2^26 GPUs of 100 kW at
                  // PUE 10 are far beyond the largest limit, 10^6 MW.
                  "sites:\n  - {id: sa, provider: a, pue: 10}\n  - {id: sb, provider: b, pue: "
                  "10}\npools:\n";
  for (int64_t p = 0; p < pools; ++p) {
    y += "  - {id: p" + std::to_string(p) + ", site: " + (p % 2 ? "sb" : "sa") +
         ", accelerator: XL, pricing: " + (p % 2 ? "on-demand" : "reserved, contract: c") +
         ", gpus: " + std::to_string(per_pool) + ", price_per_gpu_hour: " + Dollars(price) +
         ", gpus_per_node: 1024, max_gang: " + std::to_string(per_pool) + "}\n";
  }
  y += "jobs:\n";
  const int64_t jobs = 1 + static_cast<int64_t>(rng.Below(6));
  for (int64_t j = 0; j < jobs; ++j) {
    const int64_t gpus = int64_t{1} << rng.Below(27);  // up to 2^26
    const int64_t priority = static_cast<int64_t>(rng.Below(2'000'001)) - 1'000'000;
    y += "  - {id: j" + std::to_string(j) + ", gpus: " + std::to_string(gpus) +
         ", work_gpu_hours: " + (rng.Below(2) ? "1000000000" : "0.001") +
         ", priority: " + std::to_string(priority) + ", checkpoint_every: 1h, arrival: " +
         FormatTimeFull(start + Duration::Seconds(static_cast<int64_t>(rng.Below(86'400)))) + "}\n";
  }
  // A gang of 2^26 for as long as 10^9 GPU-hours allows: 53,644 s.
  y += "job_streams:\n  - {id: s, count: 20, gpus: [1, " + std::to_string(kMaxGpus) +
       "], duration: {min: 1s, max: " + std::to_string(world::kMaxWorkGpuSeconds / kMaxGpus) +
       "s}, until: " + FormatTimeFull(start + Duration::Days(1)) + "}\n";
  y += "services:\n  - {id: v, model: m, class: chat, gpus_per_replica: 8, "
       "replica_tokens_per_s: 100000000, demand: 1000000000}\n";
  // Procurement: an offer of the last share of the fleet at the same price,
  // reviewed at most 32 times over the span.
  y += "procurement:\n  review_every: " + std::to_string(std::max<int64_t>(86'400, span / 32)) +
       "s\n  unmet_after: 1h\n  term: 30d\n  offers:\n    - {id: o, site: sb, accelerator: XL, "
       "price_per_gpu_hour: " +
       Dollars(price) + ", lead_time: 1h, max_gpus: " + std::to_string(per_pool) +
       ", gpus_per_node: 1024}\n";
  y += "faults:\n  - {id: f, target: {provider: a}, start: " +
       FormatTimeFull(start + Duration::Seconds(span / 3)) + ", duration: 6h}\n";
  return y;
}

TEST(MagnitudePropertyTest, ScenariosAtTheBoundsSimulateWithNonNegativeMoney) {
  for (uint64_t seed = 1; seed <= 16; ++seed) {
    const std::string yaml = ExtremeScenario(seed);
    auto loaded = io::LoadScenarioString(yaml, "extreme.yaml");
    ASSERT_TRUE(loaded.ok()) << loaded.status().message() << "\n" << yaml;
    // Simulates with re-optimisation and checks every figure (aborts if not).
    PolycloudFuzzSimulate(reinterpret_cast<const uint8_t*>(yaml.data()), yaml.size());
  }
}

// Records each job's expected run time (kJobStarted's value).
class RunTimes final : public scheduler::Observer {
 public:
  void OnEvent(const scheduler::Event& e) override {
    if (e.type == scheduler::EventType::kJobStarted) seconds.push_back(e.value);
  }
  std::vector<int64_t> seconds;
};

// Issue 10: work_gpu_hours: 3000000000000 passed validate, then work × 1000
// wrapped in the scheduler and the job "ran" for one second. Now it is an
// error, and the largest work accepted runs for its true time.
TEST(MagnitudeTest, WorkThatWrappedToAOneSecondRunIsRejectedAndTheBoundRunsTrue) {
  const std::string base = R"(
name: work
start: 2026-01-01
end: 2026-01-02
providers: [{id: a}]
sites: [{id: s, provider: a}]
pools: [{id: p, site: s, accelerator: H100, pricing: on-demand, gpus: 8, price_per_gpu_hour: 2}]
jobs: [{id: j, gpus: 1, work_gpu_hours: WORK}]
)";
  auto with = [&](const std::string& work) {
    std::string y = base;
    y.replace(y.find("WORK"), 4, work);
    return y;
  };
  auto rejected = io::LoadScenarioString(with("3000000000000"), "work.yaml");
  ASSERT_FALSE(rejected.ok());
  EXPECT_NE(rejected.status().message().find("work_gpu_hours must be at most 1000000000"),
            std::string::npos)
      << rejected.status().message();

  const world::World w = polycloud::testing::LoadWorld(with("1000000000"));
  sim::Simulator sim(w, sim::Options{});
  RunTimes runs;
  sim.AddObserver(&runs);
  sim.Run();
  ASSERT_EQ(runs.seconds.size(), 1u);
  EXPECT_EQ(runs.seconds[0], int64_t{1'000'000'000} * 3600);  // 1 GPU at H100 speed
}

// Issue 11: a fleet priced so its list-price spend passes 64 bits used to
// report negative spend; the loader now names the pool that crosses $2.3T.
TEST(MagnitudeTest, FleetSpendPastTheMoneyRangeIsAnErrorNamingThePool) {
  const char* yaml = R"(
name: spend
start: 2026-01-01
end: 2076-01-01
providers: [{id: a}]
sites: [{id: s, provider: a}]
pools:
  - {id: small, site: s, accelerator: H100, pricing: on-demand, gpus: 8, price_per_gpu_hour: 2}
  - {id: huge, site: s, accelerator: H100, pricing: on-demand, gpus: 1000000, price_per_gpu_hour: 1000000}
)";
  auto r = io::LoadScenarioString(yaml, "spend.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("pool \"huge\""), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("$2.3T"), std::string::npos);
}

}  // namespace
}  // namespace polycloud::report
