// Metrics: a latency histogram with Prometheus-style buckets, the per-route
// request statistics the HTTP server keeps, and a writer of the Prometheus
// text exposition format (version 0.0.4) for /metrics.
//
//   MetricsText out;
//   out.Counter("polycloud_decisions_total", "Placement decisions taken.",
//               {{{{"outcome", "placed"}}, 1234}, {{{"outcome", "waiting"}}, 56}});
//   out.Gauge("polycloud_queue_length", "Jobs waiting.", {{{{"class", "training"}}, 7}});
//   WriteHttpMetrics(out, server.Stats());      // requests and latency per route
//   return Response::Text(200, out.Take(), std::string(kPrometheusContentType));
//
// Names are code: a check fails on an invalid metric or label name or a
// family written twice. Label values and help texts are data: escaped.
// Thread-safety: LatencyHistogram is lock-free and safe from any thread;
// MetricsText belongs to one thread.
#ifndef POLYCLOUD_HTTP_METRICS_H_
#define POLYCLOUD_HTTP_METRICS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace polycloud::http {

inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// Upper bounds (seconds) of the latency buckets: 100 µs to 10 s, finer than
// Prometheus' defaults at the low end where a local API lives.
inline constexpr std::array<double, 16> kLatencyBucketsSeconds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

// A plain copy of a histogram: counts per bucket (not cumulative), the last
// one for everything above the last bound (+Inf).
struct HistogramSnapshot {
  std::vector<double> bounds;
  std::vector<uint64_t> counts;  // bounds.size() + 1
  uint64_t count = 0;
  double sum = 0;  // in the histogram's unit (seconds)

  // The bucket bound under which `quantile` (0..1) of the observations fall
  // (an upper estimate, as histogram_quantile's bucket edge); +Inf past the
  // last bound, 0 when empty.
  double QuantileUpperBound(double quantile) const;
};

class LatencyHistogram {
 public:
  void Observe(std::chrono::nanoseconds elapsed);
  HistogramSnapshot Snapshot() const;

 private:
  std::array<std::atomic<uint64_t>, kLatencyBucketsSeconds.size() + 1> counts_{};
  std::atomic<uint64_t> sum_ns_{0};
};

// What the server counted for one route (or for requests that matched none:
// route "", method "").
struct RouteStats {
  std::string method;
  std::string route;                                // the pattern, "/v1/jobs/{id}"
  std::vector<std::pair<int, uint64_t>> responses;  // (HTTP status, count), by status
  HistogramSnapshot latency;  // from the request's first byte to its response ready to send
};

struct Label {
  std::string name;
  std::string value;
};
using Labels = std::vector<Label>;

struct Sample {
  Labels labels;
  double value = 0;
};

struct HistogramSample {
  Labels labels;
  HistogramSnapshot histogram;
};

class MetricsText {
 public:
  // Each writes one family: # HELP, # TYPE, then its samples. A counter's
  // name should end in _total (promtool says so).
  void Counter(std::string_view name, std::string_view help, const std::vector<Sample>& samples);
  void Gauge(std::string_view name, std::string_view help, const std::vector<Sample>& samples);
  // Writes name_bucket{...,le="..."} (cumulative, ending with le="+Inf"),
  // name_sum and name_count for each sample.
  void Histogram(std::string_view name, std::string_view help,
                 const std::vector<HistogramSample>& samples);

  const std::string& text() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Family(std::string_view name, std::string_view help, std::string_view type);
  void Line(std::string_view name, const Labels& labels, const Label* extra, double value);
  std::string out_;
  std::set<std::string, std::less<>> families_;
};

// Metric and label names as Prometheus accepts them.
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);
// A label value with \\, \" and \n escaped; a help text with \\ and \n.
std::string EscapeLabelValue(std::string_view value);
std::string EscapeHelp(std::string_view help);
// A sample value: integers exactly, others in the shortest form that reads
// back the same; NaN, +Inf, -Inf.
std::string FormatMetricValue(double value);

// The server's statistics as `<prefix>_requests_total{method,route,code}` and
// `<prefix>_request_duration_seconds{method,route}`; requests that matched no
// route have route="unmatched".
void WriteHttpMetrics(MetricsText& out, const std::vector<RouteStats>& stats,
                      std::string_view prefix = "polycloud_http");

}  // namespace polycloud::http

#endif  // POLYCLOUD_HTTP_METRICS_H_
