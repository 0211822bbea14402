// A scenario's `traces:` section applied to its world (AddScenarioTraces):
// small hand-written files for positions, windows and the bad-row policy, and
// the shipped example on ../shared/data (skipped when absent).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "polycloud/base/parse.h"
#include "polycloud/io/scenario.h"
#include "polycloud/replay/replay.h"
#include "polycloud/report/report.h"
#include "polycloud/sim/simulator.h"
#include "polycloud/traces/trace_format.h"

namespace polycloud::replay {
namespace {

namespace fs = std::filesystem;

class ScenarioTracesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("polycloud-scenario-traces-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "data");
    std::ofstream(dir_ / "data" / "philly.csv") << "timestamp,duration,num_gpus,gpu_time,cluster\n"
                                                   "2017-10-01 00:00:00,60,1,60,v1\n"
                                                   "2017-10-01 06:00:00,60,0,0,v1\n"
                                                   "2017-10-01 12:00:00,30,2,60,v1\n"
                                                   "2017-10-02 00:00:00,30,2,60,v1\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes a scenario whose last lines are `traces`, loads it and applies its traces.
  Result<std::vector<AppliedTrace>> Apply(const std::string& traces, bool skip_bad_rows = false) {
    std::ofstream(dir_ / "t.yaml")
        << "name: t\nstart: 2026-01-01\nend: 2026-01-03\n"
           "providers: [{id: a}]\nsites: [{id: s, provider: a}]\n"
           "pools: [{id: p, site: s, accelerator: H100, pricing: reserved, gpus: 8, "
           "price_per_gpu_hour: 1}]\n"
           "traces:\n"
        << traces;
    auto s = io::LoadScenarioFile((dir_ / "t.yaml").string());
    if (!s.ok()) return s.status();
    scenario_ = std::move(*s);
    return AddScenarioTraces(scenario_, skip_bad_rows);
  }

  fs::path dir_;
  io::Scenario scenario_;
};

TEST_F(ScenarioTracesTest, AMissingTraceFileNamesTheScenarioLineAndThePath) {
  auto r = Apply("  - {format: philly, path: data/nope.csv.gz}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().message();
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("t.yaml:8:5: in this trace entry: "), std::string::npos) << m;
  EXPECT_NE(m.find((dir_ / "data" / "nope.csv.gz").string()), std::string::npos) << m;
}

// Jobs a trace adds bypass the loader's field bounds: a row whose work passes
// the 10^9 GPU-hours of the magnitude model (65,536 P100s for 10^9 s: 1.45 ×
// 10^9 reference GPU-hours) is an error naming the job, not a
// run whose work × 1000 wraps in the scheduler.
TEST_F(ScenarioTracesTest, TraceJobsPastTheMagnitudeBoundsAreAnErrorNamingTheJob) {
  std::ofstream(dir_ / "data" / "huge.csv")
      << "timestamp,duration,num_gpus,gpu_time,cluster\n"
         "2017-10-01 00:00:00,60,1,60,v1\n"
         "2017-10-01 01:00:00,1000000000,65536,65536000000000,v1\n";
  auto r = Apply("  - {format: philly, path: data/huge.csv}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput) << r.status().message();
  EXPECT_NE(r.status().message().find("after reading the scenario's traces: job \""),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("Magnitudes"), std::string::npos);
}

// The same row through --trace (simulate, validate, explain).
TEST_F(ScenarioTracesTest, CommandLineTraceJobsPastTheMagnitudeBoundsAreAnError) {
  std::ofstream(dir_ / "data" / "huge.csv") << "timestamp,duration,num_gpus,gpu_time,cluster\n"
                                               "2017-10-01 01:00:00,1000000000,65536,"
                                               "65536000000000,v1\n";
  ASSERT_TRUE(Apply("  []\n").ok());
  auto spec = traces::ParseTraceSpec("philly:" + (dir_ / "data" / "huge.csv").string());
  ASSERT_TRUE(spec.ok());
  auto r = AddTraceToWorldReported(*spec, traces::ReadOptions{}, scenario_.world);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput) << r.status().message();
  EXPECT_NE(r.status().message().find("huge.csv: after reading the trace: job \""),
            std::string::npos)
      << r.status().message();
}

TEST_F(ScenarioTracesTest, ABadRowStopsByDefaultWithTheTracePathAndLine) {
  auto r = Apply("  - {format: philly, path: data/philly.csv}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(
      r.status().message().find("t.yaml:8:5: in this trace entry: " + (dir_ / "data").string() +
                                "/philly.csv:3: column 'num_gpus'"),
      std::string::npos)
      << r.status().message();
}

TEST_F(ScenarioTracesTest, BadRowsAreSkippedAndCountedPerEntryOrFromTheCommandLine) {
  for (bool cli : {false, true}) {
    auto r = Apply(cli ? "  - {format: philly, path: data/philly.csv}\n"
                       : "  - {format: philly, path: data/philly.csv, skip_bad_rows: true}\n",
                   cli);
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ((*r)[0].stats.bad_rows, 1);
    ASSERT_EQ((*r)[0].stats.bad_row_messages.size(), 1u);
    EXPECT_NE((*r)[0].stats.bad_row_messages[0].find("philly.csv:3:"), std::string::npos);
    EXPECT_EQ((*r)[0].added, "3 jobs");
    EXPECT_EQ(scenario_.world.jobs.size(), 3u);
  }
}

TEST_F(ScenarioTracesTest, AWindowKeepsArrivalsInsideItAndMovesThemToStartAt) {
  auto r = Apply(
      "  - {format: philly, path: data/philly.csv, skip_bad_rows: true, from: "
      "2017-10-01T06:00:00Z,\n"
      "     until: 2017-10-02, start_at: 2026-01-01T00:00:00Z}\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(scenario_.world.jobs.size(), 1u);  // 00:00 is before the window, 2 Oct after it
  EXPECT_EQ(FormatTime(scenario_.world.jobs[0].arrival), "2026-01-01T06:00:00Z");
  EXPECT_EQ((*r)[0].stats.filtered, 2);
  EXPECT_EQ((*r)[0].stats.accepted, 1);
}

TEST_F(ScenarioTracesTest, EveryFailingEntryIsReportedNotOnlyTheFirst) {
  auto r = Apply(
      "  - {format: philly, path: data/nope.csv}\n"
      "  - {format: philly, path: data/philly.csv, skip_bad_rows: true}\n"
      "  - {format: philly, path: data/philly.csv}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);  // the first failure's
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("t.yaml:8:5: in this trace entry: "), std::string::npos) << m;
  EXPECT_NE(m.find("t.yaml:10:5: in this trace entry: "), std::string::npos) << m;
  EXPECT_EQ(m.find("t.yaml:9:5"), std::string::npos) << m;
  EXPECT_NE(m.find("2 trace entries failed"), std::string::npos) << m;
}

TEST_F(ScenarioTracesTest, AnInputsPathIsAsWrittenWhateverTheWorkingDirectory) {
  auto r = Apply("  - {format: philly, path: data/philly.csv, skip_bad_rows: true}\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)[0].path, "data/philly.csv");
}

TEST_F(ScenarioTracesTest, RowsOutsideTheWindowAreDroppedWhileReading) {
  {
    std::ofstream out(dir_ / "data" / "old.csv");
    out << "timestamp,duration,num_gpus,gpu_time,cluster\n";
    for (int i = 0; i < 20'000; ++i) out << "2017-10-01 00:00:00,60,1,60,v1\n";
    out << "2017-10-03 00:00:00,60,1,60,v1\n";
  }
  traces::TraceOptions options;
  options.read.window.from = *ParseTime("2017-10-02");
  auto contents = traces::ReadTrace(
      {traces::TraceFormat::kPhilly, (dir_ / "data" / "old.csv").string()}, options);
  ASSERT_TRUE(contents.ok()) << contents.status().message();
  const auto& trace = std::get<traces::PhillyTrace>(*contents);
  EXPECT_EQ(trace.jobs.size(), 1u);  // never held: the reader drops them as it goes
  EXPECT_EQ(trace.stats.records, 20'001);
  EXPECT_EQ(trace.stats.filtered, 20'000);
  EXPECT_EQ(trace.stats.accepted, 1);
}

TEST_F(ScenarioTracesTest, AFieldThatIsNotUtf8IsABadRowWithItsColumn) {
  std::ofstream(dir_ / "data" / "u.csv") << "timestamp,duration,num_gpus,gpu_time,cluster\n"
                                            "2017-10-01 00:00:00,60,1,60,v\xff\n";
  auto r = Apply("  - {format: philly, path: data/u.csv}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(r.status().message().find("u.csv:2: column 30, field 5 (cluster): invalid UTF-8 "
                                      "(byte \\xFF in \"v\\xFF\")"),
            std::string::npos)
      << r.status().message();
}

TEST_F(ScenarioTracesTest, AnAzureEntryBecomesItsServiceDemand) {
  std::ofstream(dir_ / "data" / "az.csv") << "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                             "2023-11-16 18:00:10.5,500,100\n"
                                             "2023-11-16 18:00:50.0,100,500\n"
                                             "2023-11-16 18:01:30.0,60,0\n";
  auto r = Apply(
      "  - {format: azure-llm, path: data/az.csv, service: code, bucket: 1m,\n"
      "     from: 2023-11-16T18:00:00Z, start_at: 2026-01-01T00:00:00Z}\n"
      "services: [{id: code, model: m, class: c, gpus_per_replica: 1, replica_tokens_per_s: 10, "
      "demand: trace}]\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const auto& demand = scenario_.world.services[0].demand_tokens_per_s;
  EXPECT_EQ(demand.At(*ParseTime("2026-01-01T00:00:30Z")), 20);  // 1200 tokens / 60 s
  EXPECT_EQ(demand.At(*ParseTime("2026-01-01T00:01:30Z")), 1);
  EXPECT_EQ(demand.At(*ParseTime("2026-01-01T00:02:30Z")), 0);
  EXPECT_EQ((*r)[0].stats.records, 3);
}

// The shipped example end to end: Philly jobs on SkyPilot catalog pools next to
// an Azure-driven service, simulated, with the inputs in the report.
TEST(ScenarioTracesShippedTest, PhillyOnCloudExampleRunsEndToEnd) {
  const std::string data = POLYCLOUD_SHARED_DATA_DIR;
  if (!fs::exists(data + "/philly/philly.csv.gz")) {
    GTEST_SKIP() << data << " is absent: the shipped data lives in ../shared/data";
  }
  auto s =
      io::LoadScenarioFile(std::string(POLYCLOUD_SOURCE_DIR) + "/examples/philly-on-cloud.yaml");
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto applied = AddScenarioTraces(*s, false);
  ASSERT_TRUE(applied.ok()) << applied.status().message();
  ASSERT_EQ(applied->size(), 4u);
  EXPECT_EQ((*applied)[0].added, "1352 jobs");
  EXPECT_GT(s->world.pools.size(), 100u);
  EXPECT_GT(s->world.services[0].demand_tokens_per_s.Max(), 10'000);
  sim::Options options;
  sim::Simulator sim(s->world, options);
  sim::Audit audit(s->world);
  sim.AddObserver(&audit);
  const sim::RunStats stats = sim.Run();
  report::Report r = report::Build(s->world, sim.scheduler(), audit, stats, "priority");
  r.inputs.push_back(
      {(*applied)[0].format, (*applied)[0].path, (*applied)[0].stats.records, 0, 0, 0, {}, "x"});
  EXPECT_EQ(r.jobs.back().completed, 1352);
  std::ostringstream json;
  report::WriteJson(r, json);
  EXPECT_NE(json.str().find("\"inputs\": ["), std::string::npos);
}

TEST(ScenarioTracesShippedTest, AlibabaOpenbExampleReadsItsPodsAndNodeList) {
  const std::string data = POLYCLOUD_SHARED_DATA_DIR;
  if (!fs::exists(data + "/alibaba-gpu-2023/openb_pod_list_default.csv")) {
    GTEST_SKIP() << data << " is absent: the shipped data lives in ../shared/data";
  }
  auto s = io::LoadScenarioFile(std::string(POLYCLOUD_SOURCE_DIR) + "/examples/alibaba-openb.yaml");
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto applied = AddScenarioTraces(*s, false);
  ASSERT_TRUE(applied.ok()) << applied.status().message();
  ASSERT_EQ(applied->size(), 2u);
  // 12 (model, node size) groups; P100x2 has nodes of three CPU and memory
  // sizes and V100M16x8 of two, each its own pool (sharing, CPU, memory).
  EXPECT_EQ((*applied)[0].added, "15 pools");
  EXPECT_EQ((*applied)[1].added, "6203 jobs");  // the pods that ran in the trace
  EXPECT_EQ(FormatTime(s->world.jobs.front().arrival), "2023-01-01");
  int64_t shares = 0;
  for (const world::Job& j : s->world.jobs) shares += j.gpu_milli > 0;
  EXPECT_GT(shares, 0);
  const world::Pool& g2 = s->world.pools[s->world.FindPool("alibaba/G2x8")];
  EXPECT_TRUE(g2.gpu_sharing);
  EXPECT_EQ(g2.cpu_milli_per_node, 96'000);
  EXPECT_EQ(g2.memory_mib_per_node, 393'216);
}

}  // namespace
}  // namespace polycloud::replay
