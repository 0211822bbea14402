// Runs the fragmentation experiment's fuzz target (tests/fuzz/frag_experiment_fuzz.cc)
// over a small valid input and its truncations and corruptions, so the regular
// suite checks it without clang or libFuzzer.
#include <gtest/gtest.h>

#include <string>

extern "C" int PolycloudFuzzFragExperiment(const uint8_t* data, size_t size);

namespace polycloud::frag {
namespace {

const std::string kSeed =
    "sn,cpu_milli,memory_mib,gpu,model\n"
    "n0,32000,65536,4,G2\nn1,16000,32768,2,T4\nn2,8000,16384,0,\n"
    "--\n"
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n"
    "p0,4000,4096,1,500,\np1,2000,2048,1,250,T4\np2,8000,8192,2,1000,G2|T4\n"
    "p3,1000,1024,0,0,\np4,4000,4096,1,1000,\np5,6000,4096,4,1000,\n";

int Fuzz(const std::string& s) {
  return PolycloudFuzzFragExperiment(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(FragFuzzTargetTest, SurvivesTruncationsAndCorruptions) {
  EXPECT_EQ(Fuzz(kSeed), 0);
  for (size_t n = 0; n <= kSeed.size(); n += 7) EXPECT_EQ(Fuzz(kSeed.substr(0, n)), 0);
  const std::string junk[] = {"0", "-1", "99999999999", ",", "\xff", "1001", "x", ""};
  for (size_t i = 0; i < kSeed.size(); i += 11) {
    for (const std::string& j : junk) {
      std::string s = kSeed;
      s.replace(i, 1, j);
      EXPECT_EQ(Fuzz(s), 0);
    }
  }
}

}  // namespace
}  // namespace polycloud::frag
