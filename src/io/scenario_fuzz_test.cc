// Runs the scenario fuzz target (tests/fuzz/scenario_fuzz.cc) over every
// shipped and bad scenario, truncated at many points and with bytes flipped,
// so the regular suite exercises it on every build.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/testing/scenario_fixture.h"

extern "C" int PolycloudFuzzScenario(const uint8_t* data, size_t size);

namespace polycloud::io {
namespace {

namespace fs = std::filesystem;

void Feed(const std::string& s) {
  PolycloudFuzzScenario(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(ScenarioFuzzTargetTest, SurvivesTruncatedAndCorruptedSeeds) {
  std::vector<std::string> seeds = {"",
                                    "{",
                                    "[",
                                    "name: [[[[[[[[",
                                    std::string(200, '['),
                                    "a: !!binary x",
                                    "start: &a 2026-01-01\nend: *a\n",
                                    "providers: {",
                                    "\xff\xfe\x00"};
  for (const char* dir : {"examples", "tests/bad", "tests/scenarios"}) {
    for (const auto& e : fs::directory_iterator(fs::path(POLYCLOUD_SOURCE_DIR) / dir)) {
      if (e.path().extension() != ".yaml") continue;
      seeds.push_back(polycloud::testing::ReadTestFile(e.path().string()));
    }
  }
  int runs = 0;
  for (const std::string& seed : seeds) {
    Feed(seed);
    ++runs;
    const size_t step = std::max<size_t>(1, seed.size() / 40);
    for (size_t cut = 0; cut < seed.size(); cut += step, ++runs) Feed(seed.substr(0, cut));
    for (size_t at = 0; at < seed.size(); at += step * 3, ++runs) {
      std::string mutated = seed;
      mutated[at] = static_cast<char>(mutated[at] ^ 0x5a);
      Feed(mutated);
    }
  }
  EXPECT_GT(runs, 500);
}

}  // namespace
}  // namespace polycloud::io
