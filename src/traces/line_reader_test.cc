#include "polycloud/traces/line_reader.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace polycloud::traces {
namespace {

using testing::Gzip;

// Every line of `input`, or the first error's message as the last element
// prefixed with "ERROR: ".
std::vector<std::string> AllLines(const TraceInput& input, LineReaderOptions options = {}) {
  std::vector<std::string> lines;
  Result<LineReader> reader = LineReader::Open(input, options);
  if (!reader.ok()) return {"ERROR: " + reader.status().message()};
  while (true) {
    Result<std::optional<std::string_view>> line = reader->NextLine();
    if (!line.ok()) {
      lines.push_back("ERROR: " + line.status().message());
      break;
    }
    if (!line->has_value()) break;
    lines.emplace_back(**line);
  }
  return lines;
}

TEST(LineReaderTest, StripsLfAndCrlfTerminators) {
  EXPECT_EQ(AllLines(TraceInput::Memory("a,b\r\nc,d\ne\r\n")),
            (std::vector<std::string>{"a,b", "c,d", "e"}));
}

TEST(LineReaderTest, ReturnsFinalLineWithoutNewlineAndKeepsBlankLines) {
  EXPECT_EQ(AllLines(TraceInput::Memory("x\n\ny")), (std::vector<std::string>{"x", "", "y"}));
  EXPECT_EQ(AllLines(TraceInput::Memory("")), std::vector<std::string>{});
}

TEST(LineReaderTest, CountsLinesFromOne) {
  Result<LineReader> reader = LineReader::Open(TraceInput::Memory("a\nb\n"));
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(reader->line_number(), 0);
  ASSERT_TRUE(reader->NextLine().ok());
  ASSERT_TRUE(reader->NextLine().ok());
  EXPECT_EQ(reader->line_number(), 2);
}

TEST(LineReaderTest, InflatesGzipDetectedByMagicBytes) {
  std::string gz = Gzip("h1,h2\r\n1,2\r\n");
  Result<LineReader> reader = LineReader::Open(TraceInput::Memory(gz));
  ASSERT_TRUE(reader.ok());
  EXPECT_TRUE(reader->gzip());
  EXPECT_EQ(AllLines(TraceInput::Memory(gz)), (std::vector<std::string>{"h1,h2", "1,2"}));
}

TEST(LineReaderTest, ReadsConcatenatedGzipMembers) {
  std::string gz = Gzip("a\nb") + Gzip("c\n");
  // "b" and "c" join: the members are one byte stream, as `zcat` shows them.
  EXPECT_EQ(AllLines(TraceInput::Memory(gz)), (std::vector<std::string>{"a", "bc"}));
}

TEST(LineReaderTest, ReportsEveryTruncationOfGzipAsErrorNotCrash) {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "2017-10-09 07:01:55,66.0,1,66.0,11cb48\n";
  std::string gz = Gzip(text);
  ASSERT_GT(gz.size(), 20u);
  for (size_t cut = 2; cut < gz.size(); cut += 7) {
    std::vector<std::string> lines =
        AllLines(TraceInput::Memory(std::string_view(gz).substr(0, cut), "t.gz"));
    ASSERT_FALSE(lines.empty()) << "cut at " << cut;
    EXPECT_EQ(lines.back().rfind("ERROR: t.gz: ", 0), 0u)
        << "cut at " << cut << ": " << lines.back();
  }
  std::vector<std::string> lines =
      AllLines(TraceInput::Memory(std::string_view(gz).substr(0, gz.size() - 4), "t.gz"));
  EXPECT_NE(lines.back().find("truncated gzip"), std::string::npos) << lines.back();
}

TEST(LineReaderTest, ReportsCorruptGzipAsError) {
  std::string gz = Gzip("timestamp,duration\n2017-10-09 07:01:55,66.0\n");
  std::string bad_crc = gz;
  bad_crc[bad_crc.size() - 6] ^= 0x55;  // inside the CRC-32 trailer
  std::vector<std::string> lines = AllLines(TraceInput::Memory(bad_crc, "c.gz"));
  EXPECT_NE(lines.back().find("c.gz: corrupt gzip data"), std::string::npos) << lines.back();

  std::string junk_after = gz + "trailing";
  lines = AllLines(TraceInput::Memory(junk_after, "j.gz"));
  EXPECT_NE(lines.back().find("unexpected data after the end of the gzip stream"),
            std::string::npos);
}

TEST(LineReaderTest, RejectsLineLongerThanLimit) {
  LineReaderOptions options;
  options.max_line_bytes = 8;
  std::vector<std::string> lines =
      AllLines(TraceInput::Memory("short\n0123456789abc\n", "long.csv"), options);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "short");
  EXPECT_EQ(lines[1], "ERROR: long.csv:2: line is longer than 8 bytes (is this a text file?)");
}

TEST(LineReaderTest, ReadsLinesSpanningManyBuffers) {
  std::string long_line(300'000, 'x');
  std::string text = "a\n" + long_line + "\r\nb";
  std::vector<std::string> lines = AllLines(TraceInput::Memory(text));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], long_line);
  EXPECT_EQ(lines[2], "b");
  lines = AllLines(TraceInput::Memory(Gzip(text)));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], long_line);
}

TEST(LineReaderTest, RefusesOtherCompressionsByName) {
  std::string zstd = std::string("\x28\xb5\x2f\xfd", 4) + "rest";
  EXPECT_EQ(AllLines(TraceInput::Memory(zstd, "t.zst"))[0],
            "ERROR: t.zst: zstd-compressed input is not supported (use plain text or gzip)");
}

TEST(LineReaderTest, ReportsMissingFileAsNotFound) {
  Result<LineReader> reader = LineReader::Open(TraceInput::File("/nonexistent/trace.csv"));
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(reader.status().message(), "/nonexistent/trace.csv: no such file");
}

TEST(LineReaderTest, ReadsFilesAndStreams) {
  std::string path = ::testing::TempDir() + "/line_reader_test.csv.gz";
  {
    std::ofstream out(path, std::ios::binary);
    out << Gzip("x\r\ny\r\n");
  }
  EXPECT_EQ(AllLines(TraceInput::File(path)), (std::vector<std::string>{"x", "y"}));
  std::remove(path.c_str());

  std::istringstream stream("p\nq\n");
  EXPECT_EQ(AllLines(TraceInput::Stream(stream)), (std::vector<std::string>{"p", "q"}));
}

}  // namespace
}  // namespace polycloud::traces
