// CsvReader: a streaming CSV record reader that addresses columns by header
// name, with the bad-row policy of ReadOptions built in.
//
// The first line is the header. A CsvSchema lists the columns a format knows,
// each required or optional; Open() maps them onto the file's header and
// reports missing required columns, duplicates and (unless allowed) unknown
// columns, naming what was expected. Fields follow RFC 4180: a field in double
// quotes may hold commas, "" for a quote and line breaks (as the SkyPilot
// GpuInfo column does); CRLF line endings are accepted; blank lines are skipped.
// A record with the wrong number of fields or an unterminated quote is a bad
// row, handled by the same policy as a row whose values a reader rejects.
//
//   enum Column { kName, kGpus };
//   const CsvSchema schema = {{"name", true}, {"gpus", false}};
//   POLYCLOUD_ASSIGN_OR_RETURN(CsvReader csv, CsvReader::Open(input, schema, options));
//   while (true) {
//     POLYCLOUD_ASSIGN_OR_RETURN(bool more, csv.Next());
//     if (!more) break;
//     if (csv.Field(kName).empty()) {
//       POLYCLOUD_RETURN_IF_ERROR(csv.ReportBadRow("column 'name': expected a value, found \"\""));
//       continue;
//     }
//     csv.CountAccepted();
//   }
//
// Thread-safety: one thread at a time per reader.
#ifndef POLYCLOUD_TRACES_CSV_H_
#define POLYCLOUD_TRACES_CSV_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/traces/line_reader.h"
#include "polycloud/traces/read_options.h"

namespace polycloud::traces {

struct CsvColumn {
  std::string_view name;  // exact header text
  bool required = true;
};
// Column ids are indices into the schema.
using CsvSchema = std::vector<CsvColumn>;

// Splits one complete CSV record (no line breaks inside quotes) into fields.
// For tests and tools; CsvReader handles records spanning lines itself.
// Errors: InvalidInput for an unterminated quote or junk after a closing quote.
Result<std::vector<std::string>> SplitCsvRecord(std::string_view record);

class CsvReader {
 public:
  // Opens `input` and reads its header. Errors: those of LineReader::Open, and
  // InvalidInput "path:1: ..." for an empty input, a missing required column, a
  // duplicate column or (unless options.allow_unknown_columns) an unknown one.
  static Result<CsvReader> Open(const TraceInput& input, CsvSchema schema,
                                const ReadOptions& options);

  // Reads only the header of `input` (for choosing a schema by its columns).
  static Result<std::vector<std::string>> ReadHeader(const TraceInput& input,
                                                     const ReadOptions& options);

  // Advances to the next well-formed record; false at the end of the input.
  // Malformed records go through ReportBadRow (so with skip_bad_rows they are
  // counted and skipped). Errors: the bad-row status, or a LineReader error.
  Result<bool> Next();

  // The current record's field for schema column `column`; empty when the
  // column is optional and absent from the file.
  std::string_view Field(int column) const;
  // Whether the file has schema column `column`.
  bool Has(int column) const { return file_column_[column] >= 0; }
  // The header name of schema column `column`.
  std::string_view ColumnName(int column) const { return schema_[column].name; }

  // Line where the current record starts, and "path:line" for messages.
  int64_t line() const { return record_line_; }
  std::string Location() const;
  const std::string& name() const { return lines_.name(); }

  // Records that the current record is bad because of `what`. With
  // skip_bad_rows: counts it, keeps the message if within the limit, and
  // returns OK. Otherwise returns InvalidInput("path:line: what").
  Status ReportBadRow(std::string_view what);
  void CountAccepted() { ++stats_.accepted; }
  void CountFiltered() { ++stats_.filtered; }

  const ReadStats& stats() const { return stats_; }
  ReadStats& mutable_stats() { return stats_; }
  const std::vector<std::string>& header() const { return header_; }

 private:
  explicit CsvReader(LineReader lines) : lines_(std::move(lines)) {}
  Status ReadHeaderLine();
  // Parses the record starting with `line`, pulling more lines while a quoted
  // field is open. Returns an empty string when well-formed, else what is wrong.
  Result<std::string> ParseRecord(std::string_view line);
  // "" when every field is UTF-8; else where the first bad byte is (a bad-row message).
  std::string CheckUtf8(std::string_view first_line) const;

  LineReader lines_;
  CsvSchema schema_;
  ReadOptions options_;
  std::vector<std::string> header_;
  std::vector<int> file_column_;  // schema column -> file column, -1 when absent
  // The current record: unescaped field bytes back to back, and each field's span.
  std::string fields_;
  std::vector<std::pair<size_t, size_t>> spans_;
  int64_t record_line_ = 0;
  ReadStats stats_;
};

}  // namespace polycloud::traces

#endif  // POLYCLOUD_TRACES_CSV_H_
