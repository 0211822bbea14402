#include "polycloud/io/scenario.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "polycloud/base/parse.h"
#include "tests/testing/scenario_fixture.h"

namespace polycloud::io {
namespace {

namespace fs = std::filesystem;

// Each tests/bad/*.yaml lists the errors it must produce, in its header:
//   # expect: LINE:COLUMN: text the message contains
// Every diagnostic must be expected and every expectation met.
TEST(ScenarioValidationTest, EachBadInputReportsEveryErrorWithItsPosition) {
  const fs::path dir = fs::path(POLYCLOUD_SOURCE_DIR) / "tests" / "bad";
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 15u);
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.filename().string());
    const std::string text = polycloud::testing::ReadTestFile(file);
    struct Expect {
      int line = 0, column = 0;
      std::string text;
    };
    std::vector<Expect> expects;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
      const std::string tag = "# expect: ";
      if (l.rfind(tag, 0) != 0) continue;
      Expect e;
      std::string rest = l.substr(tag.size());
      int line = 0, column = 0, consumed = 0;
      if (std::sscanf(rest.c_str(), "%d:%d: %n", &line, &column, &consumed) == 2 && consumed > 0) {
        e.line = line;
        e.column = column;
        rest = rest.substr(static_cast<size_t>(consumed));
      }
      e.text = rest;
      expects.push_back(e);
    }
    ASSERT_FALSE(expects.empty()) << "no '# expect:' lines";
    std::vector<Diagnostic> diags;
    auto result = LoadScenarioString(text, file.filename().string(), &diags);
    ASSERT_FALSE(result.ok()) << "a bad input loaded";
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidInput);
    for (const Expect& e : expects) {
      bool found = false;
      for (const Diagnostic& d : diags) {
        found |= (e.line == 0 || (d.line == e.line && d.column == e.column)) &&
                 d.message.find(e.text) != std::string::npos;
      }
      EXPECT_TRUE(found) << "expected " << e.line << ":" << e.column << ": " << e.text << "\ngot:\n"
                         << result.status().message();
    }
    EXPECT_EQ(diags.size(), expects.size()) << result.status().message();
  }
}

TEST(ScenarioValidationTest, MessageNamesFileLineAndColumnAndCountsErrors) {
  auto r = LoadScenarioString(
      "name: x\nstart: 2026-01-01\nend: 2026-02-01\nproviders: []\nsites: []\npools: []\nbogus: "
      "1\n",
      "my.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "my.yaml:7:1: unknown key \"bogus\" in the scenario (expected one of: accelerators, "
            "contracts, end, faults, gateway, job_streams, jobs, name, planning, pools, "
            "procurement, providers, scheduler, seed, services, sites, start, tenants, traces)\n"
            "1 error");
}

TEST(ScenarioValidationTest, UnreadableFileIsAnIoError) {
  auto r = LoadScenarioFile("/nonexistent/scenario.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
}

const char* kMinimal = R"(
name: minimal
start: 2026-01-01
end: 2026-03-01
seed: 7
accelerators:
  - {name: H100, speed: 1.1}
  - {name: X1, memory_gb: 64, watts: 300, speed: 0.5}
providers: [{id: a, name: Provider A}]
contracts: [{id: c, provider: a, start: 2025-01-01, end: 2027-01-01, committed_usd: $1.5B, take_or_pay: true}]
sites: [{id: s, provider: a, pue: 1.25, power_mw: [{at: 2026-01-01, mw: 2.5}, {at: 2026-02-01, mw: 5}]}]
pools:
  - id: p
    site: s
    accelerator: H100
    pricing: reserved
    ramp: linear
    gpus: [{at: 2026-01-01, gpus: 0}, {at: 2026-01-11, gpus: 1000}]
    price_per_gpu_hour: 2.125
    contract: c
job_streams:
  - {id: r, count: 50, gpus: [8, 64], gpu_weights: [3, 1], duration: {min: 1h, max: 2d}, checkpoint_every: 30m}
)";

TEST(ScenarioLoaderTest, LoadsUnitsExactly) {
  auto s = LoadScenarioString(kMinimal, "m.yaml");
  ASSERT_TRUE(s.ok()) << s.status().message();
  const world::World& w = s->world;
  EXPECT_EQ(w.accelerators[w.FindAccelerator("H100")].speed_milli,
            1100);  // override keeps other fields
  EXPECT_EQ(w.accelerators[w.FindAccelerator("H100")].memory_gb, 80);
  EXPECT_EQ(w.accelerators[w.FindAccelerator("X1")].watts.watts(), 300);
  EXPECT_EQ(w.contracts[0].committed_spend.micros(), 1'500'000'000'000'000);
  EXPECT_EQ(w.pools[0].price_per_gpu_hour.micros(), 2'125'000);
  EXPECT_EQ(w.sites[0].pue_milli, 1250);
  EXPECT_EQ(w.sites[0].power.At(ParseTime("2026-01-15").value()).watts(), 2'500'000);
  EXPECT_EQ(w.providers[0].name, "Provider A");
}

TEST(ScenarioLoaderTest, SchedulerSectionSetsPolicyPlacementAndReoptimisation) {
  std::string yaml = kMinimal;
  yaml.replace(yaml.find("seed: 7"), 7,
               "seed: 7\nscheduler: {policy: cheapest-price, placement: consolidated, "
               "reoptimize_every: 6h}");
  auto s = LoadScenarioString(yaml, "m.yaml");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->options.policy, "cheapest-price");
  EXPECT_TRUE(s->options.consolidate);
  EXPECT_EQ(s->options.reoptimize_every.seconds(), 6 * 3600);
  yaml.replace(yaml.find("reoptimize_every: 6h"), 20, "reoptimize_every: 0s");
  auto bad = LoadScenarioString(yaml, "m.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("scheduler.reoptimize_every must be positive"),
            std::string::npos)
      << bad.status().message();
}

TEST(ScenarioLoaderTest, SchedulerRebalanceKeysAreReadAndChecked) {
  auto load = [](const std::string& rebalance) {
    std::string yaml = kMinimal;
    yaml.replace(yaml.find("seed: 7"), 7, "seed: 7\nscheduler:\n  rebalance: " + rebalance);
    return LoadScenarioString(yaml, "m.yaml");
  };
  auto s = load(
      "{enabled: false, every: 2h, horizon: 3d, min_saving: $250.50, max_moves: 7, "
      "min_dwell: 0s}");
  ASSERT_TRUE(s.ok()) << s.status().message();
  const ScenarioRebalance& r = s->options.rebalance;
  EXPECT_EQ(r.enabled, false);
  EXPECT_EQ(r.every, Duration::Hours(2));
  EXPECT_EQ(r.horizon, Duration::Days(3));
  EXPECT_EQ(r.min_saving, Money::FromMicros(250'500'000));
  EXPECT_EQ(r.max_moves, 7);
  EXPECT_EQ(r.min_dwell, Duration());
  // Left out: the core's defaults.
  auto d = load("{}");
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_FALSE(d->options.rebalance.enabled.has_value());
  EXPECT_FALSE(d->options.rebalance.every.has_value());
  for (const auto& [bad, message] : std::vector<std::pair<std::string, std::string>>{
           {"{every: 0s}", "m.yaml:7:22: scheduler.rebalance.every must be positive"},
           {"{horizon: -1h}", "scheduler.rebalance.horizon"},
           {"{min_dwell: -1h}", "scheduler.rebalance.min_dwell"},
           {"{min_saving: -5}", "m.yaml:7:27: scheduler.rebalance.min_saving: expected an amount"},
           {"{max_moves: 0}", "scheduler.rebalance.max_moves: expected an integer between 1"},
           {"{moves: 3}", "moves"},
           {"7", "scheduler.rebalance"}}) {
    auto b = load(bad);
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.status().message().find(message), std::string::npos)
        << bad << ": " << b.status().message();
  }
}

TEST(ScenarioLoaderTest, LinearRampBecomesDailyStepsOfWholeNodes) {
  auto s = LoadScenarioString(kMinimal, "m.yaml");
  ASSERT_TRUE(s.ok());
  const auto& gpus = s->world.pools[0].gpus;
  EXPECT_EQ(gpus.At(ParseTime("2026-01-01").value()), 0);
  EXPECT_EQ(gpus.At(ParseTime("2026-01-02").value()), 96);  // 100 rounded down to whole 8-GPU nodes
  EXPECT_EQ(gpus.At(ParseTime("2026-01-06T12:00:00Z").value()), 496);
  EXPECT_EQ(gpus.At(ParseTime("2026-01-11").value()), 1000);
  EXPECT_EQ(gpus.points().size(), 11u);
}

TEST(ScenarioLoaderTest, JobStreamsAreReproducibleForASeedAndDifferAcrossSeeds) {
  auto a = LoadScenarioString(kMinimal, "m.yaml");
  auto b = LoadScenarioString(kMinimal, "m.yaml");
  LoadOptions other;
  other.seed = 8;
  auto c = LoadScenarioString(kMinimal, "m.yaml", other);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  ASSERT_EQ(a->world.jobs.size(), 50u);
  bool any_difference = false;
  for (size_t i = 0; i < 50; ++i) {
    EXPECT_EQ(a->world.jobs[i].id, b->world.jobs[i].id);
    EXPECT_EQ(a->world.jobs[i].arrival, b->world.jobs[i].arrival);
    EXPECT_EQ(a->world.jobs[i].work_gpu_seconds, b->world.jobs[i].work_gpu_seconds);
    any_difference |= a->world.jobs[i].arrival != c->world.jobs[i].arrival;
    // Durations stay within the stated range, on the reference GPU.
    const int64_t seconds = a->world.jobs[i].work_gpu_seconds / a->world.jobs[i].gpus;
    EXPECT_GE(seconds, 3600);
    EXPECT_LE(seconds, 2 * 86400);
  }
  EXPECT_TRUE(any_difference);
  // Sorted by arrival for the simulator.
  for (size_t i = 1; i < 50; ++i) EXPECT_LE(a->world.jobs[i - 1].arrival, a->world.jobs[i].arrival);
  EXPECT_EQ(a->world.jobs[0].id.substr(0, 2), "r-");
}

TEST(ScenarioLoaderTest, ShippedExamplesLoad) {
  const fs::path dir = fs::path(POLYCLOUD_SOURCE_DIR) / "examples";
  int loaded = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    auto s = LoadScenarioFile(entry.path().string());
    EXPECT_TRUE(s.ok()) << entry.path() << ": " << s.status().message();
    ++loaded;
  }
  EXPECT_GE(loaded, 1);
}

constexpr const char* kTraceScenario = R"(name: t
start: 2017-10-01
end: 2017-10-02
providers: []
sites: []
pools: []
services: [{id: code, model: m, class: c, gpus_per_replica: 1, replica_tokens_per_s: 1000, demand: trace}]
traces:
  - {format: philly, path: data/philly.csv, from: 2017-10-01, until: 2017-10-01T12:00:00Z, skip_bad_rows: true}
  - {format: skypilot, path: /abs/aws/vms.csv, provider: aws, gpus_per_pool: 16}
  - {format: azure-llm, path: ../az.csv.gz, service: code, bucket: 5m, tokens: generated,
     from: 2023-11-16T18:00:00Z, start_at: 2017-10-01T06:00:00Z}
)";

// The loader parses `traces:` into plain entries (nothing is read) with paths
// resolved against the scenario file's folder.
TEST(ScenarioLoaderTest, TraceEntriesAreParsedWithPathsRelativeToTheScenario) {
  auto s = LoadScenarioString(kTraceScenario, "scen/dir/t.yaml");
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ(s->traces.size(), 3u);
  const ScenarioTrace& philly = s->traces[0];
  EXPECT_EQ(philly.format, "philly");
  EXPECT_EQ(philly.path, "scen/dir/data/philly.csv");
  EXPECT_EQ(philly.path_as_written, "data/philly.csv");
  EXPECT_EQ(philly.where, "scen/dir/t.yaml:9:5");
  EXPECT_TRUE(philly.skip_bad_rows);
  EXPECT_TRUE(philly.has_from && philly.has_until && !philly.has_start_at);
  EXPECT_EQ(FormatTime(philly.until), "2017-10-01T12:00:00Z");
  EXPECT_EQ(s->traces[1].path, "/abs/aws/vms.csv");
  EXPECT_EQ(s->traces[1].provider, "aws");
  EXPECT_EQ(s->traces[1].gpus_per_pool, 16);
  const ScenarioTrace& az = s->traces[2];
  EXPECT_EQ(az.path, "scen/az.csv.gz");
  EXPECT_EQ(az.service, "code");
  EXPECT_EQ(az.bucket.seconds(), 300);
  EXPECT_EQ(az.tokens, "generated");
  EXPECT_EQ(FormatTime(az.from), "2023-11-16T18:00:00Z");
  EXPECT_EQ(FormatTime(az.start_at), "2017-10-01T06:00:00Z");
  // The service waits for its trace: no demand until the entry is applied.
  EXPECT_EQ(s->world.services[0].demand_tokens_per_s.Max(), 0);
}

TEST(ScenarioLoaderTest, TraceEntryKeysDependOnTheFormat) {
  std::string text = kTraceScenario;
  text.replace(text.find("gpus_per_pool: 16"), 17, "gpus_per_pool: 16, bucket: 1m");
  std::vector<Diagnostic> diags;
  auto s = LoadScenarioString(text, "t.yaml", &diags);
  ASSERT_FALSE(s.ok());
  ASSERT_EQ(diags.size(), 1u) << s.status().message();
  EXPECT_EQ(diags[0].line, 10);
  EXPECT_NE(diags[0].message.find(
                "unknown key \"bucket\" in a trace entry (expected one of: format, gpus_per_pool, "
                "path, provider, skip_bad_rows)"),
            std::string::npos)
      << diags[0].message;
}

}  // namespace
}  // namespace polycloud::io
