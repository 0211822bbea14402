// Runs the simulate fuzz target (tests/fuzz/simulate_fuzz.cc) over the golden
// scenarios and examples, whole, truncated and with bytes flipped, so the
// regular suite loads AND simulates what the fuzzer starts from on every build.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/testing/scenario_fixture.h"

extern "C" int PolycloudFuzzSimulate(const uint8_t* data, size_t size);

namespace polycloud::report {
namespace {

namespace fs = std::filesystem;

void Feed(const std::string& s) {
  PolycloudFuzzSimulate(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(SimulateFuzzTargetTest, SimulatesSeedsAndTheirMutationsWithoutCrashing) {
  std::vector<std::string> seeds;
  for (const char* dir : {"tests/scenarios", "examples"}) {
    for (const auto& e : fs::directory_iterator(fs::path(POLYCLOUD_SOURCE_DIR) / dir)) {
      if (e.path().extension() != ".yaml") continue;
      seeds.push_back(polycloud::testing::ReadTestFile(e.path().string()));
    }
  }
  ASSERT_GE(seeds.size(), 3u);
  int runs = 0;
  for (const std::string& seed : seeds) {
    Feed(seed);
    ++runs;
    // Few cuts and flips: each one that still loads is a whole simulation.
    const size_t step = std::max<size_t>(1, seed.size() / 8);
    for (size_t cut = step; cut < seed.size(); cut += step, ++runs) Feed(seed.substr(0, cut));
    for (size_t at = step / 2; at < seed.size(); at += step, ++runs) {
      std::string mutated = seed;
      mutated[at] = static_cast<char>(mutated[at] ^ 0x01);  // digits stay digits mostly
      Feed(mutated);
    }
  }
  EXPECT_GT(runs, 50);
}

}  // namespace
}  // namespace polycloud::report
