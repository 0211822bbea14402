// RecordReader<Record>: a streaming reader of one trace format, yielding one
// typed record per CSV row in bounded memory.
//
// Each format (philly.h, alibaba.h, azure_llm.h, ...) has an Open* function that
// returns a RecordReader of its record type; the Read* convenience functions
// drain one into a vector. Rows a format rejects go through the bad-row policy
// (ReadOptions); rows it leaves out on purpose are counted in stats().filtered.
//
//   POLYCLOUD_ASSIGN_OR_RETURN(RecordReader<PhillyJob> reader,
//                              OpenPhillyJobs(TraceInput::File(path), options));
//   while (true) {
//     POLYCLOUD_ASSIGN_OR_RETURN(std::optional<PhillyJob> job, reader.Next());
//     if (!job) break;
//     Submit(job->job);
//   }
//
// Thread-safety: one thread at a time per reader.
#ifndef POLYCLOUD_TRACES_RECORD_READER_H_
#define POLYCLOUD_TRACES_RECORD_READER_H_

#include <functional>
#include <optional>
#include <utility>

#include "polycloud/base/status.h"
#include "polycloud/traces/csv.h"
#include "polycloud/traces/read_options.h"

namespace polycloud::traces {

template <typename Record>
class RecordReader {
 public:
  // Maps the current row of `csv` to a record; nullopt leaves the row out
  // (counted as filtered); an error Status makes it a bad row, its message
  // saying what was wrong (the reader prefixes "path:line: ").
  using RowMapper = std::function<Result<std::optional<Record>>(const CsvReader& csv)>;

  RecordReader(CsvReader csv, RowMapper mapper)
      : csv_(std::move(csv)), mapper_(std::move(mapper)) {}

  // The next record, or nullopt at the end of the input. Errors: the first bad
  // row when skip_bad_rows is off ("path:line: ..."), or an input error
  // (unreadable file, corrupt gzip) whatever the policy.
  Result<std::optional<Record>> Next() {
    while (true) {
      POLYCLOUD_ASSIGN_OR_RETURN(bool more, csv_.Next());
      if (!more) return std::optional<Record>();
      Result<std::optional<Record>> mapped = mapper_(csv_);
      if (!mapped.ok()) {
        POLYCLOUD_RETURN_IF_ERROR(csv_.ReportBadRow(mapped.status().message()));
        continue;
      }
      if (!mapped->has_value()) {
        csv_.CountFiltered();
        continue;
      }
      csv_.CountAccepted();
      return std::move(mapped).value();
    }
  }

  const ReadStats& stats() const { return csv_.stats(); }
  const std::string& name() const { return csv_.name(); }

 private:
  CsvReader csv_;
  RowMapper mapper_;
};

}  // namespace polycloud::traces

#endif  // POLYCLOUD_TRACES_RECORD_READER_H_
