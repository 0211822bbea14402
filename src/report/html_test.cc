// The HTML report's page: self-contained, and carrying the report's JSON
// intact whatever the names in it hold.
#include "polycloud/report/html.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "polycloud/sim/simulator.h"
#include "tests/testing/scenario_fixture.h"

namespace polycloud::report {
namespace {

using testing::LoadWorld;

constexpr const char* kTiny = R"(
name: tiny
start: 2026-01-01
end: 2026-01-03
providers: [{id: p}]
contracts:
  - {id: deal, provider: p, start: 2026-01-01, end: 2027-01-01, committed_usd: 10K, take_or_pay: true}
sites: [{id: s, provider: p, power_mw: 0.01}]
pools:
  - {id: h100, site: s, accelerator: H100, pricing: reserved, gpus: 8, price_per_gpu_hour: 2, contract: deal}
jobs:
  - {id: "job </script><script>alert(1)</script>", gpus: 4, work_gpu_hours: 8, arrival: 2026-01-01T01:00:00Z}
)";

std::string DataOf(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"polycloud-data\">";
  const size_t from = html.find(open);
  if (from == std::string::npos) return "";
  const size_t begin = from + open.size();
  return html.substr(begin, html.find("</script>", begin) - begin);
}

Report RunReport(const world::World& w) {
  sim::Simulator sim(w, sim::Options{});
  sim::Audit audit(w);
  sim.AddObserver(&audit);
  TimeSeriesRecorder series(w, sim.scheduler());
  WorkloadRecorder listed(w, sim.scheduler());
  sim.AddObserver(&series);
  sim.AddObserver(&listed);
  const sim::RunStats stats = sim.Run();
  Report r = Build(w, sim.scheduler(), audit, stats, "priority");
  r.timeseries = series.Finish(stats.end);
  r.workloads = listed.Finish(stats.end);
  return r;
}

TEST(HtmlReportTest, OnePageWithEverythingInlinedAndTheJsonIntact) {
  const world::World w = LoadWorld(kTiny);
  const Report r = RunReport(w);
  std::ostringstream html;
  WriteHtml(r, html);
  const std::string page = html.str();
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  // Nothing is fetched: no external scripts, styles or images.
  EXPECT_EQ(page.find("src="), std::string::npos);
  EXPECT_EQ(page.find("<link"), std::string::npos);
  EXPECT_NE(page.find("uPlot"), std::string::npos);
  EXPECT_NE(page.find("PolycloudReport.mount"), std::string::npos);
  // The data element holds the report's JSON; a name that would close the
  // script element is escaped inside it and parses back to itself.
  const std::string data = DataOf(page);
  ASSERT_FALSE(data.empty());
  EXPECT_EQ(data.find('<'), std::string::npos);
  std::ostringstream json;
  WriteJson(r, json);
  EXPECT_EQ(nlohmann::json::parse(data), nlohmann::json::parse(json.str()));
  EXPECT_EQ(nlohmann::json::parse(data).at("workloads").at("jobs").at(0).at("id"),
            "job </script><script>alert(1)</script>");
}

TEST(HtmlReportTest, TheTitleIsEscaped) {
  std::ostringstream html;
  WriteHtmlPage("a <b> & \"c\"", R"({"schema":"polycloud.report/1"})", html);
  EXPECT_NE(html.str().find("<title>a &lt;b&gt; &amp; &quot;c&quot;</title>"), std::string::npos);
}

TEST(HtmlReportTest, TheContractsViewHasItsOwnSchema) {
  const world::World w = LoadWorld(kTiny);
  sim::Simulator sim(w, sim::Options{});
  const sim::RunStats stats = sim.Run();
  const ContractsView v = BuildContractsView(w, sim.scheduler(), stats, "priority", Period::kDay);
  std::ostringstream html;
  WriteHtml(v, html);
  const auto j = nlohmann::json::parse(DataOf(html.str()));
  EXPECT_EQ(j.at("schema"), "polycloud.contracts/1");
  EXPECT_EQ(j.at("contracts").size(), 1u);
}

}  // namespace
}  // namespace polycloud::report
