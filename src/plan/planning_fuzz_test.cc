// Runs the planning fuzz target (tests/fuzz/planning_fuzz.cc) over the bad
// planning inputs, the tiny worlds and the examples, truncated and with bytes
// flipped, so the regular suite exercises it on every build.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/testing/scenario_fixture.h"

extern "C" int PolycloudFuzzPlanning(const uint8_t* data, size_t size);

namespace polycloud::plan {
namespace {

namespace fs = std::filesystem;

void Feed(const std::string& s) {
  PolycloudFuzzPlanning(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(PlanningFuzzTargetTest, SurvivesTruncatedAndCorruptedSeeds) {
  std::vector<std::string> seeds;
  for (const auto& e : fs::directory_iterator(fs::path(POLYCLOUD_SOURCE_DIR) / "tests/bad/plan"))
    if (e.path().extension() == ".yaml")
      seeds.push_back(polycloud::testing::ReadTestFile(e.path().string()));
  ASSERT_FALSE(seeds.empty());
  int runs = 0;
  for (const std::string& seed : seeds) {
    Feed(seed);
    for (size_t cut = 0; cut < seed.size(); cut += 1 + seed.size() / 40) Feed(seed.substr(0, cut));
    for (size_t at = 0; at < seed.size(); at += 1 + seed.size() / 40) {
      std::string flipped = seed;
      flipped[at] = static_cast<char>(flipped[at] ^ 0x5a);
      Feed(flipped);
      ++runs;
    }
  }
  EXPECT_GT(runs, 0);
}

}  // namespace
}  // namespace polycloud::plan
