// ReadOptions and ReadStats: the bad-row policy shared by every trace and
// catalog reader, and what a read reports about the rows it saw.
//
// By default a read stops at the first bad row with an InvalidInput status
// "path:line: what was wrong (expected ..., found ...)". With skip_bad_rows the
// row is skipped and counted, and the first max_reported_bad_rows messages are
// kept, so a report can say how many rows were dropped and which lines.
//
//   PhillyOptions options;
//   options.read.skip_bad_rows = true;
//   POLYCLOUD_ASSIGN_OR_RETURN(PhillyTrace trace, ReadPhillyJobs(input, options));
//   if (trace.stats.bad_rows > 0) Warn(trace.stats.bad_row_messages);
//
// Thread-safety: plain values.
#ifndef POLYCLOUD_TRACES_READ_OPTIONS_H_
#define POLYCLOUD_TRACES_READ_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "polycloud/base/units.h"

namespace polycloud::traces {

// Which records of a job trace (philly jobs, alibaba-gpu pods) are kept, by
// arrival: [from, until), either end open when absent. Applied while reading,
// so rows outside the window cost no memory; they are counted as filtered.
struct ArrivalWindow {
  std::optional<Time> from, until;
  bool Keeps(Time t) const { return (!from || t >= *from) && (!until || t < *until); }
};

struct ReadOptions {
  // false: the first bad row ends the read with its message. true: bad rows are
  // skipped and counted in ReadStats.
  bool skip_bad_rows = false;
  // How many bad-row messages ReadStats keeps when skipping (the count is exact).
  int32_t max_reported_bad_rows = 10;
  // false: a header column the format does not know is an error (a wrong
  // format name usually shows up this way). true: it is ignored and listed in
  // ReadStats::ignored_columns.
  bool allow_unknown_columns = false;
  // The longest physical line accepted (bounds memory on binary or corrupt input).
  size_t max_line_bytes = size_t{1} << 20;
  // Job traces only: records arriving outside it are dropped as they are read.
  ArrivalWindow window;
};

struct ReadStats {
  int64_t records = 0;   // data records seen (the header and blank lines excluded)
  int64_t accepted = 0;  // records turned into results
  int64_t filtered = 0;  // well-formed records left out on purpose (each reader says which)
  int64_t bad_rows = 0;  // malformed records skipped (only with skip_bad_rows)
  // "path:line: ..." for the first max_reported_bad_rows bad rows.
  std::vector<std::string> bad_row_messages;
  // Header columns ignored because allow_unknown_columns was set.
  std::vector<std::string> ignored_columns;
  bool gzip = false;  // the input was gzip-compressed
};

}  // namespace polycloud::traces

#endif  // POLYCLOUD_TRACES_READ_OPTIONS_H_
