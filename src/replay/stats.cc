#include <algorithm>
#include <cmath>

#include "polycloud/replay/replay.h"

namespace polycloud::replay {

DelayStats ComputeDelayStats(std::vector<int64_t>& seconds) {
  DelayStats s;
  if (seconds.empty()) return s;
  std::sort(seconds.begin(), seconds.end());
  s.count = static_cast<int64_t>(seconds.size());
  // Exact integer sum; the mean is rounded to a tenth of a second for display.
  __int128 sum = 0;
  for (int64_t x : seconds) sum += x;
  s.mean = std::round(static_cast<double>(sum) * 10 / static_cast<double>(s.count)) / 10;
  // Nearest rank: the smallest value with at least p% of the set at or below it.
  auto rank = [&](int64_t p) {
    const int64_t r = (p * s.count + 99) / 100;
    return seconds[static_cast<size_t>(std::max<int64_t>(1, r) - 1)];
  };
  s.p50 = rank(50);
  s.p90 = rank(90);
  s.p99 = rank(99);
  s.max = seconds.back();
  return s;
}

RowReport RowReportOf(const std::string& path, const traces::ReadStats& stats) {
  RowReport r;
  r.path = path;
  r.records = stats.records;
  r.bad_rows = stats.bad_rows;
  r.bad_row_messages = stats.bad_row_messages;
  return r;
}

}  // namespace polycloud::replay
