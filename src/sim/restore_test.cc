// The input log is the core's durable state: a run cut after any instant and
// restored from its command log (written as text and parsed back) into a
// fresh simulator ends byte for byte as the uninterrupted run.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "polycloud/base/rng.h"
#include "polycloud/gen/scale.h"
#include "polycloud/report/explain.h"
#include "polycloud/report/report.h"
#include "polycloud/scheduler/command_log.h"
#include "polycloud/sim/simulator.h"
#include "tests/testing/scenario_fixture.h"

namespace polycloud::sim {
namespace {

namespace fs = std::filesystem;

struct Outcome {
  std::string events;
  std::string json;
  std::string log;  // the command log, as JSON lines
};

// Runs `world` to the end; with `restore_from`, first replays that log.
Outcome RunWorld(const world::World& world, const Options& options,
                 const std::string* restore_from = nullptr) {
  Simulator sim(world, options);
  Outcome out;
  std::ostringstream events, json, log;
  EventLogWriter writer(sim.scheduler(), world, events);
  Audit audit(sim.scheduler(), world);
  sim.AddObserver(&writer);
  sim.AddObserver(&audit);
  scheduler::JsonCommandLog command_log(sim.scheduler(), log);
  if (restore_from != nullptr) {
    auto commands = scheduler::ParseCommandLog(*restore_from, world, "prefix.log");
    EXPECT_TRUE(commands.ok()) << commands.status().message();
    if (!commands.ok()) return out;
    const Status restored = sim.Restore(*commands);
    EXPECT_TRUE(restored.ok()) << restored.message();
    if (!restored.ok()) return out;
    log << *restore_from;  // the restored run goes on writing the same log
  }
  sim.AttachLog(&command_log);
  const RunStats stats = sim.Run();
  report::WriteJson(report::Build(world, sim.scheduler(), audit, stats, "restore-test"), json);
  out.events = events.str();
  out.json = json.str();
  out.log = log.str();
  return out;
}

bool IsPass(std::string_view line) { return line.find("\"command\":\"place\"") != line.npos; }

// The log up to and including its `n`-th pass (1-based).
std::string PrefixThroughPass(const std::string& log, int64_t n) {
  int64_t passes = 0;
  for (size_t pos = 0; pos < log.size();) {
    const size_t end = log.find('\n', pos);
    if (IsPass(std::string_view(log).substr(pos, end - pos)) && ++passes == n) {
      return log.substr(0, end + 1);
    }
    pos = end + 1;
  }
  return log;
}

int64_t CountPasses(const std::string& log) {
  int64_t n = 0;
  for (size_t pos = 0; pos < log.size();) {
    const size_t end = log.find('\n', pos);
    n += IsPass(std::string_view(log).substr(pos, end - pos));
    pos = end + 1;
  }
  return n;
}

void ExpectRestoresAnywhere(const world::World& world, const Options& options, Rng& rng, int cuts) {
  const Outcome whole = RunWorld(world, options);
  ASSERT_FALSE(whole.events.empty());
  const int64_t passes = CountPasses(whole.log);
  ASSERT_GT(passes, 1);
  for (int i = 0; i < cuts; ++i) {
    const int64_t cut = 1 + static_cast<int64_t>(rng.Below(static_cast<uint64_t>(passes)));
    SCOPED_TRACE("cut after pass " + std::to_string(cut) + " of " + std::to_string(passes));
    const std::string prefix = PrefixThroughPass(whole.log, cut);
    const Outcome resumed = RunWorld(world, options, &prefix);
    EXPECT_EQ(resumed.events, whole.events);
    EXPECT_EQ(resumed.json, whole.json);
    EXPECT_EQ(resumed.log, whole.log);
  }
}

TEST(RestoreTest, GeneratedWorldsRestoredAtRandomInstantsEndAsTheUninterruptedRun) {
  Rng rng(20261207);
  const char* policies[] = {"priority", "fifo", "sjf", "srtf", "cheapest-price"};
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    gen::ScaleOptions o;
    o.seed = seed;
    o.gpus = 2000 + static_cast<int64_t>(rng.Below(4000));
    o.providers = 3;
    o.sites = 4;
    o.pools = 6 + static_cast<int32_t>(rng.Below(10));
    o.jobs = 150 + static_cast<int64_t>(rng.Below(250));
    o.services = static_cast<int32_t>(rng.Below(3));
    o.days = 20;
    o.load_milli = 700 + static_cast<int64_t>(rng.Below(800));
    auto scenario = gen::GenerateScenario(o);
    ASSERT_TRUE(scenario.ok()) << scenario.status().message();
    Options options;
    ASSERT_TRUE(scheduler::SetPolicy(policies[seed % 5], &options.scheduler).ok());
    if (seed % 3 == 0) options.scheduler.reoptimize_every = Duration::Hours(6);
    ExpectRestoresAnywhere(scenario->world, options, rng, 3);
  }
}

TEST(RestoreTest, GoldenScenariosWithFaultsAndProcurementRestoreAtRandomInstants) {
  Rng rng(7);
  int checked = 0;
  for (const char* dir : {"tests/scenarios", "examples"}) {
    for (const auto& e : fs::directory_iterator(fs::path(POLYCLOUD_SOURCE_DIR) / dir)) {
      const std::string name = e.path().filename().string();
      // The shipped examples that read ../shared/data, and the flagship (a
      // minute per cut), are covered by the scenarios beside them.
      if (e.path().extension() != ".yaml" || name == "openai-2025.yaml" ||
          name.find("philly") != std::string::npos || name.find("alibaba") != std::string::npos)
        continue;
      SCOPED_TRACE(name);
      auto scenario = io::LoadScenarioFile(e.path().string());
      ASSERT_TRUE(scenario.ok()) << scenario.status().message();
      Options options;
      ASSERT_TRUE(scheduler::SetPolicy(scenario->options.policy, &options.scheduler).ok());
      ExpectRestoresAnywhere(scenario->world, options, rng, 2);
      ++checked;
    }
  }
  EXPECT_GE(checked, 4);
}

TEST(RestoreTest, ExplainingEveryWorkloadOnDemandChangesNoDecision) {
  auto scenario =
      io::LoadScenarioFile(std::string(POLYCLOUD_SOURCE_DIR) + "/tests/scenarios/failover.yaml");
  ASSERT_TRUE(scenario.ok()) << scenario.status().message();
  const world::World& w = scenario->world;
  const Outcome whole = RunWorld(w, {});
  const int64_t passes = CountPasses(whole.log);
  for (int64_t cut : {passes / 4, passes / 2, passes * 3 / 4}) {
    const std::string prefix = PrefixThroughPass(whole.log, cut);
    auto commands = scheduler::ParseCommandLog(prefix, w, "prefix.log");
    ASSERT_TRUE(commands.ok());
    Simulator sim(w, {});
    std::ostringstream events;
    EventLogWriter writer(sim.scheduler(), w, events);
    sim.AddObserver(&writer);
    ASSERT_TRUE(sim.Restore(*commands).ok());
    const Time now = commands->back().at;
    for (const auto& j : w.jobs) {
      std::ostringstream out;
      ASSERT_TRUE(report::ExplainNow(sim.scheduler_for_explain(), j.id, now, out).ok());
      EXPECT_NE(out.str().find("If it were placed now"), std::string::npos);
    }
    for (const auto& s : w.services) {
      std::ostringstream out;
      ASSERT_TRUE(report::ExplainNow(sim.scheduler_for_explain(), s.id, now, out).ok());
    }
    sim.Run();
    EXPECT_EQ(events.str(), whole.events) << "cut " << cut;
  }
}

// An amendment recorded in a log (as `serve` would record a signed change)
// takes effect in a restored run from its instant on, and a log that holds
// it restores like any other.
TEST(RestoreTest, AnAmendmentInTheLogChangesTheRunFromItsInstant) {
  auto scenario =
      io::LoadScenarioFile(std::string(POLYCLOUD_SOURCE_DIR) + "/tests/scenarios/failover.yaml");
  ASSERT_TRUE(scenario.ok()) << scenario.status().message();
  const world::World original = scenario->world;
  const Outcome whole = RunWorld(original, {});
  // The api service is exclusive to azure: during azure's outage it is short.
  ASSERT_NE(whole.events.find("service-short api"), std::string::npos);
  ASSERT_EQ(whole.events.find("replica-started api pool=aws-h100"), std::string::npos);

  // Cut at the last pass before 09:00 and amend there: the exclusivity ends at 09:00.
  auto instant_of_last = [](const std::string& log) {
    const size_t at = log.rfind("{\"at\":\"") + 7;
    return log.substr(at, log.find('"', at) - at);
  };
  std::string prefix;
  for (int64_t n = 1; n <= CountPasses(whole.log); ++n) {
    std::string p = PrefixThroughPass(whole.log, n);
    if (instant_of_last(p) >= "2026-01-01T09:00:00Z") break;
    prefix = std::move(p);
  }
  ASSERT_FALSE(prefix.empty());
  const std::string instant = instant_of_last(prefix);
  const std::string amend =
      "{\"at\":\"" + instant +
      "\",\"command\":\"amend-contract\",\"contract\":\"azure-deal\","
      "\"terms\":{\"id\":\"azure-deal\",\"provider\":\"azure\","
      "\"start\":\"2025-01-01\",\"end\":\"2030-01-01\","
      "\"committed_usd\":\"10K\",\"take_or_pay\":true,"
      "\"exclusivity\":[{\"class\":\"api\",\"until\":\"2026-01-01T09:00:00Z\"}]}}\n"
      "{\"at\":\"" +
      instant + "\",\"command\":\"place\"}\n";
  const std::string log = prefix + amend;
  auto run = [&](const std::string& restore_from, std::string* events, std::string* written) {
    world::World mine = original;
    Simulator sim(mine, {});
    std::ostringstream ev, out;
    EventLogWriter writer(sim.scheduler(), mine, ev);
    sim.AddObserver(&writer);
    scheduler::JsonCommandLog command_log(sim.scheduler(), out);
    auto commands = scheduler::ParseCommandLog(restore_from, mine, "amended.log");
    ASSERT_TRUE(commands.ok()) << commands.status().message();
    sim.AllowAmendments(&mine);
    const Status restored = sim.Restore(*commands);
    ASSERT_TRUE(restored.ok()) << restored.message();
    out << restore_from;
    sim.AttachLog(&command_log);
    sim.Run();
    *events = ev.str();
    *written = out.str();
  };
  std::string events, written;
  run(log, &events, &written);
  EXPECT_NE(events.find(" contract-amended azure-deal"), std::string::npos);
  // From 09:00 the api may fail over to aws like chat.
  EXPECT_NE(events.find("replica-started api pool=aws-h100"), std::string::npos) << events;
  EXPECT_NE(events, whole.events);

  // The amended run's own log, cut after a later pass, restores to the same end.
  const int64_t passes = CountPasses(written);
  std::string again_events, again_written;
  run(PrefixThroughPass(written, passes - 3), &again_events, &again_written);
  EXPECT_EQ(again_events, events);
  EXPECT_EQ(again_written, written);
}

// One pool, one job.
const char* kOneJob = R"(
name: r
start: 2026-01-01
end: 2026-01-10
providers: [{id: a}]
sites: [{id: s, provider: a}]
pools: [{id: p, site: s, accelerator: H100, pricing: on-demand, gpus: 8, price_per_gpu_hour: 1}]
jobs: [{id: j, gpus: 8, work_gpu_hours: 8, arrival: 2026-01-02}]
)";

TEST(RestoreTest, RefusesALogThatDoesNotEndWithAPassOrASimulatorThatRan) {
  world::World w = polycloud::testing::LoadWorld(kOneJob);
  {
    Simulator sim(w, {});
    std::vector<scheduler::LoggedCommand> log = {
        {w.start, scheduler::cmd::Place{}},
        {w.jobs[0].arrival, scheduler::cmd::JobArrived{scheduler::JobId{0}}}};
    EXPECT_EQ(sim.Restore(log).code(), StatusCode::kFailedPrecondition);
  }
  Simulator sim(w, {});
  sim.Run();
  EXPECT_EQ(sim.Restore({{w.start, scheduler::cmd::Place{}}}).code(),
            StatusCode::kFailedPrecondition);
}

TEST(CommandLogTest, RejectsBadLinesWithTheirPositionAndPointer) {
  world::World w = polycloud::testing::LoadWorld(kOneJob);
  auto error = [&](const std::string& text) {
    auto r = scheduler::ParseCommandLog(text, w, "x.log");
    return r.ok() ? std::string("ok") : r.status().message();
  };
  const std::string place = R"({"at":"2026-01-02T00:00:00Z","command":"place"})";
  EXPECT_EQ(error(place + "\n"), "ok");
  EXPECT_EQ(error(place + "\n{\"at\":"),
            "x.log:2:7: not valid JSON: syntax error while parsing value - unexpected end of "
            "input; expected '[', '{', or a literal");
  EXPECT_EQ(error(R"({"at":"2026-01-02T00:00:00Z","command":"place","extra":1})"),
            "x.log:1:1: /extra: unknown key");
  EXPECT_EQ(error(R"({"at":"2026-01-02T00:00:00Z","command":"job-arrived","job":"nope"})"),
            "x.log:1:1: /job: expected the id of a job of the scenario or submitted earlier, "
            "found \"nope\"");
  EXPECT_EQ(
      error(
          R"({"at":"2026-01-02T00:00:00Z","command":"set-pool-capacity","pool":"p","installed_gpus":-4})"),
      "x.log:1:1: /installed_gpus: expected an integer from 0 to 1099511627776, found -4");
  EXPECT_EQ(
      error(
          R"({"at":"2026-01-02T00:00:00Z","command":"submit-job","job":{"id":"j","kind":"training","class":"t","model_family":"","gpus":1,"work_gpu_seconds":10,"accelerators":[],"checkpoint_seconds":0,"priority":0,"preemptible":false}})"),
      "x.log:1:1: /job/id: expected an id not yet in use, found \"j\"");
  EXPECT_EQ(error(R"({"at":"2026-01-02T00:00:00Z","command":"fly"})"),
            "x.log:1:1: /command: expected a command name (docs/commands.md), found \"fly\"");
  EXPECT_EQ(error(place + "\n" + R"({"at":"2026-01-01T00:00:00Z","command":"place"})"),
            "x.log:2:1: /at: expected an instant at or after the previous line's "
            "(2026-01-02T00:00:00Z), found 2026-01-01T00:00:00Z");
}

}  // namespace
}  // namespace polycloud::sim
