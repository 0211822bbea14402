#include "polycloud/base/text.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace polycloud {
namespace {

TEST(FindInvalidUtf8Test, AcceptsAsciiAndMultiByteCharacters) {
  EXPECT_FALSE(FindInvalidUtf8("plain ascii\n"));
  EXPECT_FALSE(FindInvalidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(FindInvalidUtf8(""));
}

TEST(FindInvalidUtf8Test, ReportsLineAndColumnOfTheFirstBadByte) {
  auto bad = FindInvalidUtf8("name: ok\nid: ab\xFF\n");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->line, 2);
  EXPECT_EQ(bad->column, 7);
  EXPECT_EQ(bad->offset, 15u);
}

TEST(FindInvalidUtf8Test, RejectsOverlongSurrogateTruncatedAndTooLargeSequences) {
  EXPECT_TRUE(FindInvalidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_TRUE(FindInvalidUtf8("\xE0\x80\xAF"));      // overlong
  EXPECT_TRUE(FindInvalidUtf8("\xED\xA0\x80"));      // surrogate U+D800
  EXPECT_TRUE(FindInvalidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_TRUE(FindInvalidUtf8("ab\xE2\x82"));        // cut at the end
  EXPECT_TRUE(FindInvalidUtf8("\x80"));              // a lone continuation byte
}

TEST(ExcerptTest, EscapesControlBytesAndInvalidUtf8) {
  EXPECT_EQ(Excerpt(std::string("a\0b\nc\xFF", 6)), "a\\0b\\nc\\xFF");
  EXPECT_EQ(Excerpt("caf\xC3\xA9"), "caf\xC3\xA9");
}

TEST(ExcerptTest, CutsLongValuesToAFewCharacters) {
  const std::string long_value(575'000, 'x');
  const std::string e = Excerpt(long_value);
  EXPECT_EQ(e, std::string(kExcerptChars, 'x') + "…");
  EXPECT_EQ(QuoteExcerpt("abc"), "\"abc\"");
  EXPECT_EQ(Excerpt(std::string(kExcerptChars, 'y')), std::string(kExcerptChars, 'y'));
}

class ReadRegularFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("polycloud_text_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& bytes) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(ReadRegularFileTest, ReadsARegularFile) {
  auto text = ReadRegularFile(Write("a.yaml", "name: x\n"), 100, "scenario");
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_EQ(*text, "name: x\n");
}

TEST_F(ReadRegularFileTest, RejectsAFileAboveTheMaximumBeforeReadingIt) {
  auto text = ReadRegularFile(Write("big.yaml", std::string(101, 'x')), 100, "scenario");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(text.status().message().find("the scenario file is 101 bytes, more than the maximum "
                                         "of 100 bytes"),
            std::string::npos)
      << text.status().message();
}

TEST_F(ReadRegularFileTest, RejectsADirectory) {
  auto text = ReadRegularFile(dir_.string(), 100, "scenario");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), StatusCode::kIoError);
  EXPECT_NE(text.status().message().find("not a regular file (a directory)"), std::string::npos);
  EXPECT_EQ(CheckRegularFile(dir_.string()).code(), StatusCode::kIoError);
}

TEST_F(ReadRegularFileTest, RejectsAFifoWithoutWaitingForAWriter) {
  const std::string path = (dir_ / "fifo").string();
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  auto text = ReadRegularFile(path, 100, "scenario");
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("not a regular file (a FIFO)"), std::string::npos);
  EXPECT_NE(CheckRegularFile(path).message().find("a FIFO"), std::string::npos);
}

TEST_F(ReadRegularFileTest, RejectsADeviceThatNeverEnds) {
  auto text = ReadRegularFile("/dev/zero", 100, "scenario");
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("a character device"), std::string::npos);
}

TEST_F(ReadRegularFileTest, AMissingFileIsNotFound) {
  EXPECT_EQ(ReadRegularFile((dir_ / "nope").string(), 100, "scenario").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(CheckRegularFile((dir_ / "nope").string()).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace polycloud
