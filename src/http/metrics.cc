#include "polycloud/http/metrics.h"

#include <charconv>
#include <cmath>
#include <iostream>
#include <limits>

#include "polycloud/base/status.h"

namespace polycloud::http {

namespace {

bool IsNameChar(char c, bool first, bool colon_ok) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':') ||
         (!first && c >= '0' && c <= '9');
}

void NameCheck(bool ok, std::string_view name, const char* what) {
  if (ok) return;
  std::cerr << "http::MetricsText: " << what << " \"" << name << "\"\n";
  POLYCLOUD_CHECK(ok);
}

}  // namespace

// ---- LatencyHistogram ----

void LatencyHistogram::Observe(std::chrono::nanoseconds elapsed) {
  const int64_t ns = std::max<int64_t>(0, elapsed.count());
  const double seconds = static_cast<double>(ns) / 1e9;
  size_t bucket = 0;
  while (bucket < kLatencyBucketsSeconds.size() && seconds > kLatencyBucketsSeconds[bucket])
    ++bucket;
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
}

HistogramSnapshot LatencyHistogram::Snapshot() const {
  HistogramSnapshot s;
  s.bounds.assign(kLatencyBucketsSeconds.begin(), kLatencyBucketsSeconds.end());
  for (const auto& c : counts_) {
    s.counts.push_back(c.load(std::memory_order_relaxed));
    s.count += s.counts.back();
  }
  s.sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

double HistogramSnapshot::QuantileUpperBound(double quantile) const {
  if (count == 0) return 0;
  const double rank = quantile * static_cast<double>(count);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    seen += counts[i];
    if (static_cast<double>(seen) >= rank && seen > 0) {
      return i < bounds.size() ? bounds[i] : std::numeric_limits<double>::infinity();
    }
  }
  return std::numeric_limits<double>::infinity();
}

// ---- text format ----

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0, true)) return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name.substr(0, 2) == "__") return false;  // reserved for Prometheus
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0, false)) return false;
  }
  return true;
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Integral values below 2^53 print as integers ("12", not "1.2e+01").
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
    return std::to_string(static_cast<int64_t>(value));
  }
  // Shortest round-trip text; fixed notation in the range people read
  // ("0.0001", not "1e-04"), scientific outside it.
  char buf[400];
  const double magnitude = std::fabs(value);
  const bool fixed = magnitude >= 1e-6 && magnitude < 1e15;
  auto [end, ec] = fixed ? std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed)
                         : std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, end);
}

void MetricsText::Family(std::string_view name, std::string_view help, std::string_view type) {
  NameCheck(IsValidMetricName(name), name, "invalid metric name");
  NameCheck(families_.emplace(name).second, name, "metric family written twice");
  out_.append("# HELP ").append(name).append(" ").append(EscapeHelp(help)).append("\n");
  out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void MetricsText::Line(std::string_view name, const Labels& labels, const Label* extra,
                       double value) {
  out_.append(name);
  if (!labels.empty() || extra != nullptr) {
    out_ += '{';
    bool first = true;
    auto add = [&](const Label& l) {
      NameCheck(IsValidLabelName(l.name), l.name, "invalid label name");
      if (!first) out_ += ',';
      first = false;
      out_.append(l.name).append("=\"").append(EscapeLabelValue(l.value)).append("\"");
    };
    for (const Label& l : labels) add(l);
    if (extra != nullptr) add(*extra);
    out_ += '}';
  }
  out_.append(" ").append(FormatMetricValue(value)).append("\n");
}

void MetricsText::Counter(std::string_view name, std::string_view help,
                          const std::vector<Sample>& samples) {
  Family(name, help, "counter");
  for (const Sample& s : samples) Line(name, s.labels, nullptr, s.value);
}

void MetricsText::Gauge(std::string_view name, std::string_view help,
                        const std::vector<Sample>& samples) {
  Family(name, help, "gauge");
  for (const Sample& s : samples) Line(name, s.labels, nullptr, s.value);
}

void MetricsText::Histogram(std::string_view name, std::string_view help,
                            const std::vector<HistogramSample>& samples) {
  Family(name, help, "histogram");
  const std::string bucket = std::string(name) + "_bucket";
  for (const HistogramSample& s : samples) {
    const HistogramSnapshot& h = s.histogram;
    POLYCLOUD_CHECK(h.counts.size() == h.bounds.size() + 1);
    for (const Label& l : s.labels) NameCheck(l.name != "le", l.name, "\"le\" is the bucket label");
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= h.bounds.size(); ++i) {
      cumulative += h.counts[i];
      const Label le{"le", i < h.bounds.size() ? FormatMetricValue(h.bounds[i]) : "+Inf"};
      Line(bucket, s.labels, &le, static_cast<double>(cumulative));
    }
    Line(std::string(name) + "_sum", s.labels, nullptr, h.sum);
    Line(std::string(name) + "_count", s.labels, nullptr, static_cast<double>(cumulative));
  }
}

void WriteHttpMetrics(MetricsText& out, const std::vector<RouteStats>& stats,
                      std::string_view prefix) {
  auto labels = [](const RouteStats& r) {
    return Labels{{"method", r.method.empty() ? "none" : r.method},
                  {"route", r.route.empty() ? "unmatched" : r.route}};
  };
  std::vector<Sample> requests;
  std::vector<HistogramSample> latency;
  for (const RouteStats& r : stats) {
    for (const auto& [status, count] : r.responses) {
      Labels l = labels(r);
      l.push_back({"code", std::to_string(status)});
      requests.push_back({std::move(l), static_cast<double>(count)});
    }
    latency.push_back({labels(r), r.latency});
  }
  out.Counter(std::string(prefix) + "_requests_total",
              "HTTP requests answered, by route and status.", requests);
  out.Histogram(std::string(prefix) + "_request_duration_seconds",
                "Time from a request's first byte to its response ready to send, by route.",
                latency);
}

}  // namespace polycloud::http
