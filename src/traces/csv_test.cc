#include "polycloud/traces/csv.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace polycloud::traces {
namespace {

enum Column { kName, kGpus, kNote };
const CsvSchema kSchema = {{"name", true}, {"gpus", true}, {"note", false}};

struct Rows {
  std::vector<std::vector<std::string>> rows;  // name, gpus, note
  std::vector<int64_t> lines;
  ReadStats stats;
  std::string error;  // the status message when the read failed
};

Rows ReadAll(std::string_view text, ReadOptions options = {}) {
  Rows out;
  Result<CsvReader> csv = CsvReader::Open(TraceInput::Memory(text, "t.csv"), kSchema, options);
  if (!csv.ok()) {
    out.error = csv.status().message();
    return out;
  }
  while (true) {
    Result<bool> more = csv->Next();
    if (!more.ok()) {
      out.error = more.status().message();
      break;
    }
    if (!*more) break;
    if (csv->Field(kName) == "bad") {
      Status status = csv->ReportBadRow("column 'name': expected a good name, found \"bad\"");
      if (!status.ok()) {
        out.error = status.message();
        break;
      }
      continue;
    }
    csv->CountAccepted();
    out.rows.push_back({std::string(csv->Field(kName)), std::string(csv->Field(kGpus)),
                        std::string(csv->Field(kNote))});
    out.lines.push_back(csv->line());
  }
  out.stats = csv->stats();
  return out;
}

TEST(SplitCsvRecordTest, KeepsCommasInsideQuotesAndUnescapesDoubledQuotes) {
  Result<std::vector<std::string>> fields = SplitCsvRecord(
      R"(gpu_1x_a10,A10,1,"{'Gpus': [{'Name': 'A10', 'Count': 1}], 'Total': 24576}",say ""hi"",)");
  ASSERT_TRUE(fields.ok()) << fields.status().message();
  EXPECT_EQ(*fields,
            (std::vector<std::string>{"gpu_1x_a10", "A10", "1",
                                      "{'Gpus': [{'Name': 'A10', 'Count': 1}], 'Total': 24576}",
                                      "say \"\"hi\"\"", ""}));
  fields = SplitCsvRecord(R"("a ""quoted"" word",b)");
  ASSERT_TRUE(fields.ok());
  EXPECT_EQ((*fields)[0], "a \"quoted\" word");
}

TEST(SplitCsvRecordTest, RejectsJunkAfterClosingQuoteAndOpenQuote) {
  Result<std::vector<std::string>> fields = SplitCsvRecord(R"(a,"b"c,d)");
  ASSERT_FALSE(fields.ok());
  EXPECT_EQ(fields.status().message(),
            "field 2: expected ',' or the end of the record after a closing quote, found 'c' "
            "(write a quote inside a quoted field as \"\")");
  EXPECT_FALSE(SplitCsvRecord(R"(a,"open)").ok());
}

TEST(CsvReaderTest, ReadsColumnsByHeaderNameInAnyOrder) {
  Rows r = ReadAll("note,gpus,name\r\nfirst,8,a\r\n,1,b\r\n");
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0], (std::vector<std::string>{"a", "8", "first"}));
  EXPECT_EQ(r.rows[1], (std::vector<std::string>{"b", "1", ""}));
  EXPECT_EQ(r.lines, (std::vector<int64_t>{2, 3}));
}

TEST(CsvReaderTest, OptionalColumnMayBeAbsent) {
  Rows r = ReadAll("name,gpus\na,1\n");
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.rows[0], (std::vector<std::string>{"a", "1", ""}));
}

TEST(CsvReaderTest, ReportsMissingRequiredColumnWithWhatWasExpected) {
  Rows r = ReadAll("name,note\na,x\n");
  EXPECT_EQ(r.error,
            "t.csv:1: missing required column 'gpus' (expected columns: name, gpus, "
            "note (optional); found: name, note)");
}

TEST(CsvReaderTest, ReportsUnknownColumnUnlessAllowed) {
  Rows r = ReadAll("name,gpus,colour\na,1,red\n");
  EXPECT_EQ(r.error,
            "t.csv:1: unknown column 'colour' (expected columns: name, gpus, note (optional); "
            "is the format right?)");
  ReadOptions options;
  options.allow_unknown_columns = true;
  r = ReadAll("name,gpus,colour\na,1,red\n", options);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.stats.ignored_columns, std::vector<std::string>{"colour"});
  EXPECT_EQ(r.rows.size(), 1u);
}

TEST(CsvReaderTest, ReportsDuplicateColumnAndEmptyInput) {
  EXPECT_EQ(ReadAll("name,gpus,name\n").error,
            "t.csv:1: column 'name' appears twice in the header");
  EXPECT_EQ(ReadAll("").error, "t.csv: empty input: expected a header line of column names");
}

TEST(CsvReaderTest, StopsAtRowWithWrongFieldCountNamingTheLine) {
  Rows r = ReadAll("name,gpus\na,1\nb\nc,3\n");
  EXPECT_EQ(r.error, "t.csv:3: expected 2 fields as in the header, found 1");
  EXPECT_EQ(r.rows.size(), 1u);
}

TEST(CsvReaderTest, QuotedFieldMaySpanLines) {
  Rows r = ReadAll("name,gpus,note\n\"multi\nline\",2,\"x,\r\ny\"\nnext,3,\n");
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0], (std::vector<std::string>{"multi\nline", "2", "x,\ny"}));
  EXPECT_EQ(r.lines, (std::vector<int64_t>{2, 5}));
}

TEST(CsvReaderTest, UnterminatedQuoteIsABadRow) {
  Rows r = ReadAll("name,gpus\na,1\n\"open,2\n");
  EXPECT_EQ(r.error, "t.csv:3: unterminated quoted field (the input ends inside quotes)");
}

TEST(CsvReaderTest, SkipsBlankLines) {
  Rows r = ReadAll("name,gpus\r\n\r\na,1\r\n\r\n");
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.stats.records, 1);
}

TEST(CsvReaderTest, SkipBadRowsCountsThemAndKeepsTheFirstMessages) {
  std::string text = "name,gpus\n";
  for (int i = 0; i < 15; ++i) text += "bad,1\nok,2\n";
  text += "short\n";
  ReadOptions options;
  options.skip_bad_rows = true;
  Rows r = ReadAll(text, options);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.rows.size(), 15u);
  EXPECT_EQ(r.stats.records, 31);
  EXPECT_EQ(r.stats.accepted, 15);
  EXPECT_EQ(r.stats.bad_rows, 16);
  ASSERT_EQ(r.stats.bad_row_messages.size(), 10u);
  EXPECT_EQ(r.stats.bad_row_messages[0],
            "t.csv:2: column 'name': expected a good name, found \"bad\"");
  EXPECT_EQ(r.stats.bad_row_messages[9],
            "t.csv:20: column 'name': expected a good name, found \"bad\"");

  // Without skipping, the first bad row ends the read with its location.
  r = ReadAll(text);
  EXPECT_EQ(r.error, "t.csv:2: column 'name': expected a good name, found \"bad\"");
}

TEST(CsvReaderTest, ReadHeaderReturnsTrimmedNamesWithoutBom) {
  Result<std::vector<std::string>> header =
      CsvReader::ReadHeader(TraceInput::Memory("\xEF\xBB\xBFvc, node num\n6214e9,64\n"), {});
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(*header, (std::vector<std::string>{"vc", "node num"}));
}

}  // namespace
}  // namespace polycloud::traces
