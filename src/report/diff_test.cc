#include "polycloud/report/diff.h"

#include <gtest/gtest.h>

#include <sstream>

namespace polycloud::report {
namespace {

std::string Report(const std::string& total_micros, const std::string& extra = "",
                   const std::string& contracts =
                       R"([{"id": "aws", "spent": {"micros": 5, "usd": "0.000005"}}])") {
  return R"({"schema": "polycloud.report/1", "scenario": "s", "policy": "priority", "seed": 1,
    "cost": {"spend": {"micros": 1000000, "usd": "1.000000"},
             "take_or_pay_shortfall": {"micros": 0, "usd": "0.000000"},
             "total": {"micros": )" +
         total_micros + R"(, "usd": "x"}},
    "contracts": )" +
         contracts + R"(,
    "jobs": [{"class": "all", "queue_wait": {"count": 2, "mean_s": 30.5, "p99_s": 60}}],
    "services": [{"id": "chat", "demand_token_seconds": 1000, "served_token_seconds": 900},
                 {"id": "api", "demand_token_seconds": 3000, "served_token_seconds": 3000}],
    "timeseries": {"buckets": 3},
    "overrides": ["--set a=1"])" +
         extra + "}";
}

TEST(DiffReportsTest, IdenticalReportsAgree) {
  auto d = DiffReports(Report("7"), "a.json", Report("7"), "b.json");
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->changed, 0);
  EXPECT_GT(d->rows.size(), 5u);
  std::ostringstream out;
  WriteDiffText(*d, false, out);
  EXPECT_NE(out.str().find("the reports agree"), std::string::npos);
  EXPECT_EQ(d->a.overrides, std::vector<std::string>{"--set a=1"});
}

TEST(DiffReportsTest, MoneyChangesAreExactToTheMicroDollar) {
  auto d =
      DiffReports(Report("438630000000123456"), "a.json", Report("438630000000123457"), "b.json");
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->changed, 1);
  std::ostringstream out;
  WriteDiffText(*d, false, out);
  EXPECT_NE(out.str().find("$438,630,000,000.123456"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("+$0.000001"), std::string::npos) << out.str();
  std::ostringstream json;
  WriteDiffJson(*d, false, json);
  EXPECT_NE(json.str().find("\"micros\": 1"), std::string::npos) << json.str();
}

TEST(DiffReportsTest, ItemsAndSectionsOnOneSideOnlyAreRows) {
  auto d = DiffReports(Report("7"), "a.json",
                       Report("7", R"(, "lifetime": {"total": {"micros": 9, "usd": "0.000009"}})",
                              R"([{"id": "aws", "spent": {"micros": 5, "usd": "0.000005"}},
                                  {"id": "gcp", "spent": {"micros": 6, "usd": "0.000006"}}])"),
                       "b.json");
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->changed, 2);
  bool lifetime = false, gcp = false;
  for (const DiffRow& r : d->rows) {
    lifetime |= r.section == "lifetime" && r.field == "total" && !r.a && r.b;
    gcp |= r.section == "contracts" && r.item == "gcp" && !r.a && r.b;
    EXPECT_NE(r.section, "timeseries");  // excluded: what it sums is compared
  }
  EXPECT_TRUE(lifetime);
  EXPECT_TRUE(gcp);
}

TEST(DiffReportsTest, RejectsWhatIsNotAReportWithAPointer) {
  auto d = DiffReports(R"({"schema": "polycloud.report/1", "cost": {"total": 5}})", "x.json",
                       Report("1"), "b.json");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(d.status().message(), "x.json: /cost/total: expected money {micros, usd}");
  d = DiffReports(Report("1"), "a.json", "[1, 2", "y.json");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message().rfind("y.json: /: not JSON", 0), 0u) << d.status().message();
  d = DiffReports(Report("1"), "a.json", R"({"schema": "polycloud.contracts/1"})", "c.json");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("c.json: /schema: expected \"polycloud.report/1\""),
            std::string::npos);
  d = DiffReports(Report("1", R"(, "extra": {"m": {"micros": 1.5, "usd": "x"}})"), "a.json",
                  Report("1"), "b.json");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(),
            "a.json: /extra/m/micros: expected an integer number of micro-dollars");
}

TEST(SummarizeReportTest, ReadsTheHeadlineFigures) {
  auto s = SummarizeReport(Report("42"), "a.json");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->total_cost_micros, 42);
  EXPECT_EQ(s->spend_micros, 1'000'000);
  EXPECT_EQ(s->shortfall_micros, 0);
  ASSERT_TRUE(s->mean_wait_s);
  EXPECT_DOUBLE_EQ(*s->mean_wait_s, 30.5);
  ASSERT_TRUE(s->service_level_milli);
  EXPECT_EQ(*s->service_level_milli, 975);  // 3900 of 4000 token-seconds
}

TEST(FormatUsdExactTest, GroupsThousandsAndKeepsSixDecimals) {
  EXPECT_EQ(FormatUsdExact(0), "$0.000000");
  EXPECT_EQ(FormatUsdExact(-1'234'567'890), "-$1,234.567890");
  EXPECT_EQ(FormatUsdExact(INT64_MIN), "-$9,223,372,036,854.775808");
}

}  // namespace
}  // namespace polycloud::report

extern "C" int PolycloudFuzzReportDiff(const uint8_t* data, size_t size);

namespace polycloud::report {
namespace {

// The diff fuzz target (tests/fuzz/report_diff_fuzz.cc) over seeds, cut and
// with bytes flipped.
TEST(ReportDiffFuzzTargetTest, SurvivesTruncatedAndCorruptedSeeds) {
  const std::string r = Report("7");
  const std::vector<std::string> seeds = {
      r + std::string(1, '\0') + Report("8", R"(, "x": [{"id": "a", "n": 1e308}, 3])"),
      r + std::string(1, '\0') + "[]",
      std::string("{\"schema\": \"polycloud.report/1\", \"cost\": {\"total\": {\"micros\": ") +
          "18446744073709551615, \"usd\": 1}}}" + std::string(1, '\0') + r,
      "{}{}", ""};
  int runs = 0;
  for (const std::string& seed : seeds) {
    auto feed = [&](const std::string& s) {
      PolycloudFuzzReportDiff(reinterpret_cast<const uint8_t*>(s.data()), s.size());
      ++runs;
    };
    feed(seed);
    const size_t step = std::max<size_t>(1, seed.size() / 60);
    for (size_t cut = 0; cut < seed.size(); cut += step) feed(seed.substr(0, cut));
    for (size_t at = 0; at < seed.size(); at += step) {
      std::string mutated = seed;
      mutated[at] = static_cast<char>(mutated[at] ^ 0x13);
      feed(mutated);
    }
  }
  EXPECT_GT(runs, 200);
}

}  // namespace
}  // namespace polycloud::report
