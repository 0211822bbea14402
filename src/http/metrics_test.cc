#include "polycloud/http/metrics.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>

namespace polycloud::http {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(MetricsTextTest, WritesCountersAndGaugesWithEscapedLabels) {
  MetricsText out;
  out.Counter("polycloud_decisions_total", "Placement decisions.\nBy outcome \\ kind.",
              {{{{"outcome", "placed"}}, 12}, {{{"outcome", "a \"quoted\"\\\nvalue"}}, 3}});
  out.Gauge("polycloud_queue_length", "Jobs waiting.", {{{}, 7.5}});
  EXPECT_EQ(out.text(),
            "# HELP polycloud_decisions_total Placement decisions.\\nBy outcome \\\\ kind.\n"
            "# TYPE polycloud_decisions_total counter\n"
            "polycloud_decisions_total{outcome=\"placed\"} 12\n"
            "polycloud_decisions_total{outcome=\"a \\\"quoted\\\"\\\\\\nvalue\"} 3\n"
            "# HELP polycloud_queue_length Jobs waiting.\n"
            "# TYPE polycloud_queue_length gauge\n"
            "polycloud_queue_length 7.5\n");
}

TEST(MetricsTextTest, FormatsValues) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(-3), "-3");
  EXPECT_EQ(FormatMetricValue(1e15), "1000000000000000");
  EXPECT_EQ(FormatMetricValue(0.1), "0.1");
  EXPECT_EQ(FormatMetricValue(1e300), "1e+300");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatMetricValue(std::nan("")), "NaN");
}

TEST(MetricsTextTest, ValidatesNames) {
  EXPECT_TRUE(IsValidMetricName("polycloud:http_requests_total"));
  EXPECT_FALSE(IsValidMetricName("9lives"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_TRUE(IsValidLabelName("route"));
  EXPECT_FALSE(IsValidLabelName("__name__"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
}

TEST(MetricsTextDeathTest, RefusesBadNamesAndRepeatedFamilies) {
  EXPECT_DEATH(MetricsText().Gauge("bad-name", "", {}), "invalid metric name");
  EXPECT_DEATH(MetricsText().Gauge("ok", "", {{{{"bad-label", "x"}}, 1}}), "invalid label name");
  EXPECT_DEATH(
      {
        MetricsText m;
        m.Gauge("g", "", {});
        m.Gauge("g", "", {});
      },
      "written twice");
}

TEST(LatencyHistogramTest, CountsIntoBucketsAndWritesCumulatively) {
  LatencyHistogram h;
  h.Observe(microseconds(50));          // ≤ 100 µs
  h.Observe(microseconds(100));         // ≤ 100 µs (bounds are inclusive)
  h.Observe(milliseconds(3));           // ≤ 5 ms
  h.Observe(std::chrono::seconds(20));  // +Inf
  HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.count, 4u);
  EXPECT_EQ(s.counts[0], 2u);
  EXPECT_EQ(s.counts[5], 1u);
  EXPECT_EQ(s.counts.back(), 1u);
  EXPECT_NEAR(s.sum, 20.00315, 1e-9);
  EXPECT_EQ(s.QuantileUpperBound(0.5), 0.0001);
  EXPECT_EQ(s.QuantileUpperBound(0.75), 0.005);
  EXPECT_TRUE(std::isinf(s.QuantileUpperBound(0.99)));

  MetricsText out;
  out.Histogram("x_seconds", "X.", {{{{"route", "/a"}}, s}});
  const std::string& t = out.text();
  EXPECT_NE(t.find("x_seconds_bucket{route=\"/a\",le=\"0.0001\"} 2\n"), std::string::npos) << t;
  EXPECT_NE(t.find("x_seconds_bucket{route=\"/a\",le=\"0.005\"} 3\n"), std::string::npos) << t;
  EXPECT_NE(t.find("x_seconds_bucket{route=\"/a\",le=\"10\"} 3\n"), std::string::npos) << t;
  EXPECT_NE(t.find("x_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"), std::string::npos) << t;
  EXPECT_NE(t.find("x_seconds_count{route=\"/a\"} 4\n"), std::string::npos) << t;
}

// A realistic /metrics page: the server's own families and an application's.
std::string SamplePage() {
  LatencyHistogram h;
  for (int i = 1; i <= 100; ++i) h.Observe(microseconds(i * 37));
  std::vector<RouteStats> stats = {
      {"POST", "/v1/jobs", {{201, 90}, {400, 10}}, h.Snapshot()},
      {"GET", "/v1/jobs/{id}", {{200, 5}}, h.Snapshot()},
      {"", "", {{404, 2}}, LatencyHistogram().Snapshot()},
  };
  MetricsText out;
  WriteHttpMetrics(out, stats);
  out.Gauge("polycloud_queue_length", "Jobs waiting, by class.",
            {{{{"class", "training"}}, 7}, {{{"class", "in\"fer\\ence\n"}}, 0}});
  out.Counter("polycloud_spend_micros_total", "Spend so far by contract, in micro-dollars.",
              {{{{"contract", "azure-2025"}, {"provider", "azure"}}, 123456789}});
  return out.Take();
}

TEST(MetricsTextTest, HttpMetricsNameRoutesAndUnmatched) {
  const std::string page = SamplePage();
  EXPECT_NE(
      page.find(
          "polycloud_http_requests_total{method=\"POST\",route=\"/v1/jobs\",code=\"201\"} 90"),
      std::string::npos);
  EXPECT_NE(
      page.find(
          "polycloud_http_requests_total{method=\"none\",route=\"unmatched\",code=\"404\"} 2"),
      std::string::npos);
  EXPECT_NE(page.find("# TYPE polycloud_http_request_duration_seconds histogram"),
            std::string::npos);
}

// `promtool check metrics` (Debian package prometheus, installed by
// scripts/install-deps.sh test) lints the page: syntax, types, names.
TEST(MetricsTextTest, PromtoolAcceptsThePage) {
  const char* promtool = "/usr/bin/promtool";
  if (access(promtool, X_OK) != 0) {
    GTEST_SKIP() << "promtool is not installed (Debian package prometheus: "
                    "scripts/install-deps.sh test); the exposition format was not checked";
  }
  const std::string path = ::testing::TempDir() + "/polycloud_metrics_page.txt";
  {
    std::ofstream f(path);
    f << SamplePage();
  }
  const std::string command = std::string(promtool) + " check metrics < " + path + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  const int status = pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  EXPECT_EQ(output, "") << output;
}

}  // namespace
}  // namespace polycloud::http
