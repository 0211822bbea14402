// The scenario loader at its input boundary: bytes that are not UTF-8, NUL,
// files that are not regular files, sizes, and what messages quote.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "polycloud/base/text.h"
#include "polycloud/io/scenario.h"

namespace polycloud::io {
namespace {

namespace fs = std::filesystem;

constexpr const char* kHead = R"(name: x
start: 2026-01-01
end: 2026-02-01
providers: [{id: a}]
sites: [{id: s, provider: a}]
pools: [{id: p, site: s, accelerator: H100, pricing: reserved, gpus: 8, price_per_gpu_hour: 1}]
)";

TEST(ScenarioInputTest, InvalidUtf8InANameIsAnErrorWithLineAndColumn) {
  std::string yaml = kHead;
  yaml += "jobs: [{id: \"j\xFF\", gpus: 1, work_gpu_hours: 1, arrival: 2026-01-02}]\n";
  std::vector<Diagnostic> diags;
  auto r = LoadScenarioString(yaml, "u.yaml", &diags);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(diags.size(), 1u) << r.status().message();
  EXPECT_EQ(diags[0].line, 7);
  EXPECT_EQ(diags[0].column, 15);
  EXPECT_NE(diags[0].message.find("invalid UTF-8 (byte \\xFF)"), std::string::npos)
      << diags[0].message;
}

TEST(ScenarioInputTest, NulByteIsReportedEscapedWithoutARawByteOrNewline) {
  std::string yaml = kHead;
  yaml += std::string("seed: 1\0\n", 9);
  auto r = LoadScenarioString(yaml, "nul.yaml");
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("nul.yaml:7:8: a NUL byte (\\0)"), std::string::npos) << m;
  EXPECT_EQ(m.find('\0'), std::string::npos);
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 1) << m;  // one diagnostic, then the count
}

TEST(ScenarioInputTest, AControlByteInAValueIsEscapedInTheMessage) {
  std::string yaml = kHead;
  yaml += "seed: \"1\\x01\"\n";  // a YAML escape: the value holds byte 0x01
  auto r = LoadScenarioString(yaml, "ctl.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("found \"1\\x01\""), std::string::npos)
      << r.status().message();
}

TEST(ScenarioInputTest, DeepNestingBeyondTheParsersGuardIsANestingError) {
  std::string yaml = kHead;
  yaml += "x: " + std::string(5000, '[') + std::string(5000, ']') + "\n";
  auto r = LoadScenarioString(yaml, "deep.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("YAML nesting deeper than 64 levels"), std::string::npos)
      << r.status().message().substr(0, 300);
  EXPECT_EQ(r.status().message().find("bad file"), std::string::npos);
}

TEST(ScenarioInputTest, AHugeValueIsQuotedAsAShortExcerpt) {
  std::string yaml = kHead;
  yaml += "seed: " + std::string(575'000, 'z') + "\n";
  auto r = LoadScenarioString(yaml, "big.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_LT(r.status().message().size(), 300u);
  EXPECT_NE(r.status().message().find(std::string(kExcerptChars, 'z') + "…"), std::string::npos);
}

TEST(ScenarioInputTest, JobStreamsBeyondTheLimitAreAnError) {
  std::string yaml = kHead;
  yaml += "job_streams: [{id: s, count: " + std::to_string(kMaxStreamJobs + 1) +
          ", gpus: [1], duration: {min: 1h, max: 1h}}]\n";
  auto r = LoadScenarioString(yaml, "many.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("count: expected an integer between 1 and 10000000"),
            std::string::npos)
      << r.status().message();
}

TEST(ScenarioInputTest, StreamsCanBeCheckedWithoutDrawingTheirJobs) {
  std::string yaml = kHead;
  yaml += "job_streams: [{id: s, count: 1000, gpus: [1], duration: {min: 1h, max: 1h}}]\n";
  LoadOptions options;
  options.expand_job_streams = false;
  auto r = LoadScenarioString(yaml, "s.yaml", options);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->world.jobs.empty());
}

TEST(ScenarioInputTest, TimerIntervalIsBoundedByTheHorizon) {
  const Time start = Time::FromUnixSeconds(0);
  const Time end = start + Duration::Days(31);
  EXPECT_TRUE(CheckTimerInterval("x", Duration::Seconds(27), start, end).ok());
  Status s = CheckTimerInterval("--reoptimize-every", Duration::Seconds(1), start, end);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--reoptimize-every: 1s is too short"), std::string::npos)
      << s.message();
}

class ScenarioFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("polycloud_scenario_file_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ScenarioFileTest, ADirectoryIsNotARegularFileRatherThanAnEmptyScenario) {
  auto r = LoadScenarioFile(dir_.string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find("not a regular file (a directory)"), std::string::npos)
      << r.status().message();
}

TEST_F(ScenarioFileTest, AFifoAndADeviceAreRefusedWithoutReading) {
  const std::string fifo = (dir_ / "f.yaml").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_NE(LoadScenarioFile(fifo).status().message().find("a FIFO"), std::string::npos);
  EXPECT_NE(LoadScenarioFile("/dev/zero").status().message().find("a character device"),
            std::string::npos);
}

TEST_F(ScenarioFileTest, AFileAboveTheMaximumSizeIsRefused) {
  const std::string path = (dir_ / "big.yaml").string();
  {
    std::ofstream out(path, std::ios::binary);
    out << kHead << "# " << std::string(kMaxScenarioBytes, 'x') << "\n";
  }
  auto r = LoadScenarioFile(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(r.status().message().find("more than the maximum of 16777216 bytes"), std::string::npos)
      << r.status().message();
}

TEST_F(ScenarioFileTest, AMissingFileStaysAnIoError) {
  auto r = LoadScenarioFile((dir_ / "none.yaml").string());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace polycloud::io

namespace polycloud::io {
namespace {

// Found by the simulate fuzz target in CI: yaml-cpp's LoadAll never returns
// on a lone flow entry, producing null documents until memory runs out.
TEST(ScenarioInputTest, AStrayCommaIsAnErrorNotAnEndlessStreamOfDocuments) {
  for (const char* text : {",", ",,,", "\n,\n", "name: x\n---\n,"}) {
    auto s = LoadScenarioString(text, "comma.yaml");
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidInput) << text;
    EXPECT_EQ(s.status().message().rfind("comma.yaml", 0), 0u) << s.status().message();
  }
}

}  // namespace
}  // namespace polycloud::io
