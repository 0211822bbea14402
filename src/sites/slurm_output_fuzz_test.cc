// Runs the Slurm output fuzz target (tests/fuzz/slurm_output_fuzz.cc) over
// recorded squeue, sacct and sbatch output, cut at every byte, with bytes
// flipped and lines swapped, so the regular suite exercises the parsers'
// invariants on every build.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "polycloud/base/rng.h"

extern "C" int PolycloudFuzzSlurmOutput(const uint8_t* data, size_t size);

namespace polycloud::sites {
namespace {

void Feed(const std::string& s) {
  PolycloudFuzzSlurmOutput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// Recorded squeue output (as in slurm_output_test.cc).
constexpr char kSqueue[] =
    "2|CANCELLED|1796653396|1796653400|pc-x-r1\n"
    "7|CANCELLED|1796653709|1796653715|pc-train%2Fa-r1\n"
    "5|CANCELLED|1796653466|1796653466|pc-a%20b.c_d-r2\n"
    "1|COMPLETED|1796653396|1796653397|pc-a|b c-r3\n"
    "8|COMPLETED|1796653715|1796653715|pc-frontier-1-r2\n"
    "9|FAILED|1796653715|1796653715|pc-bad-r1\n"
    "12|PENDING|N/A|N/A|pc-held-r3\n"
    "11|RUNNING|1796653715|NONE|user-job\n";
// sacct -c, and sacct of a cluster with slurmdbd.
constexpr char kSacct[] =
    "1||1796653396|1796653397|pc-a|b\n"
    "41|CANCELLED by 1000|1796653709|1796653715|pc-j-r2\n"
    "42_3|TIMEOUT|1796653709|1796653715|pc-k-r1\n";

const std::vector<std::string> kSeeds = {kSqueue, kSacct, "4711\n", "4711;alpha\n",
                                         "pc-caf%C3%A9-r4294967295"};

TEST(SlurmOutputFuzzTargetTest, SurvivesCutCorruptedAndShuffledOutput) {
  Rng rng(12);
  for (const std::string& seed : kSeeds) {
    Feed(seed);
    for (size_t cut = 0; cut <= seed.size(); ++cut) Feed(seed.substr(0, cut));
    for (int i = 0; i < 300; ++i) {
      std::string mutated = seed;
      for (int k = 0; k < 1 + i % 3; ++k) {
        const char pool[] = "|\n%_-r0123456789 NA/";
        mutated[rng.Below(mutated.size())] =
            i % 2 == 0 ? static_cast<char>(rng.Below(256)) : pool[rng.Below(sizeof pool - 1)];
      }
      Feed(mutated);
    }
  }
  Feed(kSeeds[1] + kSeeds[0]);
  Feed(std::string(1 << 16, '|'));
}

}  // namespace
}  // namespace polycloud::sites
