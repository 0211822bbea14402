// Fuzz target: LineReader (plain and gzip, sniffed from the bytes) and the CSV
// splitter under a schema with required and optional columns.
#include <optional>
#include <string_view>

#include "polycloud/traces/csv.h"
#include "polycloud/traces/line_reader.h"
#include "trace_fuzz_entries.h"

extern "C" int PolycloudFuzzTraceLines(const uint8_t* data, size_t size) {
  using namespace polycloud::traces;
  LineReaderOptions line_options;
  line_options.max_line_bytes = 4096;
  polycloud::Result<LineReader> lines = LineReader::Open(fuzz::Input(data, size), line_options);
  if (lines.ok()) {
    int64_t count = 0;
    while (true) {
      auto line = lines->NextLine();
      if (!line.ok()) {
        fuzz::CheckError(line.status());
        break;
      }
      if (!line->has_value()) break;
      POLYCLOUD_CHECK((*line)->size() <= line_options.max_line_bytes);
      POLYCLOUD_CHECK(lines->line_number() == ++count);
    }
  }
  for (bool skip : {false, true}) {
    ReadOptions options = fuzz::Policy(skip);
    options.allow_unknown_columns = skip;
    const CsvSchema schema = {{"a", false}, {"b", false}, {"c", false}};
    polycloud::Result<CsvReader> csv = CsvReader::Open(fuzz::Input(data, size), schema, options);
    if (!csv.ok()) {
      fuzz::CheckError(csv.status());
      continue;
    }
    while (true) {
      polycloud::Result<bool> more = csv->Next();
      if (!more.ok()) {
        fuzz::CheckError(more.status());
        break;
      }
      if (!*more) {
        fuzz::CheckStats(csv->stats(), options);
        break;
      }
      for (int c = 0; c < 3; ++c) (void)csv->Field(c);
      csv->CountAccepted();
    }
  }
  (void)SplitCsvRecord(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}

#ifdef POLYCLOUD_LIBFUZZER_MAIN
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return PolycloudFuzzTraceLines(data, size);
}
#endif
