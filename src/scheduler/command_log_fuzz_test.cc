// Runs the command-log fuzz target (tests/fuzz/command_log_fuzz.cc) over
// logs written by real runs, truncated at many points, with bytes flipped and
// lines shuffled, so the regular suite exercises the reader and the core
// behind it on every build.
#include <gtest/gtest.h>

#include <sstream>

#include "polycloud/base/rng.h"

extern "C" int PolycloudFuzzCommandLog(const uint8_t* data, size_t size);

namespace polycloud::scheduler {
namespace {

void Feed(const std::string& s) {
  PolycloudFuzzCommandLog(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// A log of the fuzz world's own vocabulary: every command kind once or more.
const char* kSeed = R"({"at":"2026-01-01T00:00:00Z","command":"place"}
{"at":"2026-01-02T00:00:00Z","command":"job-arrived","job":"j1"}
{"at":"2026-01-02T00:00:00Z","command":"job-arrived","job":"b1"}
{"at":"2026-01-02T00:00:00Z","command":"submit-job","job":{"id":"x","kind":"training","class":"training","model_family":"","gpus":16,"work_gpu_seconds":360000,"accelerators":["H100"],"checkpoint_seconds":3600,"priority":9,"preemptible":false}}
{"at":"2026-01-02T00:00:00Z","command":"place"}
{"at":"2026-01-02T01:00:00Z","command":"job-started","job":"j1","run":1,"time":"2026-01-02T00:30:00Z"}
{"at":"2026-01-02T02:00:00Z","command":"job-failed","job":"j1","run":1,"time":"2026-01-02T01:59:00Z"}
{"at":"2026-01-02T02:00:00Z","command":"dispatch-failed","job":"x","run":1}
{"at":"2026-01-02T02:00:00Z","command":"set-pool-capacity","pool":"pa","installed_gpus":8}
{"at":"2026-01-02T02:00:00Z","command":"set-site-power","site":"sa","watts":5000}
{"at":"2026-01-02T02:00:00Z","command":"set-demand","service":"chat","tokens_per_s":1000}
{"at":"2026-01-02T02:00:00Z","command":"submit-service","service":{"id":"s2","model":"m","model_family":"","class":"api","gpus_per_replica":4,"replica_tokens_per_s":50,"accelerators":[],"min_providers":2,"priority":7},"demand_tokens_per_s":120}
{"at":"2026-01-02T02:00:00Z","command":"place"}
{"at":"2026-01-05T00:00:00Z","command":"fault-started","fault":"f"}
{"at":"2026-01-05T00:00:00Z","command":"place"}
{"at":"2026-01-06T00:00:00Z","command":"fault-ended","fault":"f"}
{"at":"2026-01-06T00:00:00Z","command":"contracts-changed"}
{"at":"2026-01-06T00:00:00Z","command":"wake","kind":"procurement-review","index":0}
{"at":"2026-01-06T00:00:00Z","command":"wake","kind":"capacity-ends","index":3}
{"at":"2026-01-06T00:00:00Z","command":"job-completed","job":"x","run":2,"time":"2026-01-06T00:00:00Z"}
{"at":"2026-01-06T00:00:00Z","command":"amend-contract","contract":"deal","terms":{"id":"deal","provider":"a","start":"2025-06-01T00:00:00Z","end":"2026-09-01T00:00:00Z","committed_usd":"2000000","take_or_pay":false,"discount_percent":"12.5","minimums":[{"by":"2026-02-01T00:00:00Z","spend":"100000"},{"by":"2026-09-01T00:00:00Z","spend":"200000"}],"exclusivity":[{"class":"api","until":"2026-01-20T00:00:00Z"}]}}
{"at":"2026-01-06T00:00:00Z","command":"wake","kind":"contract-terms","index":0}
{"at":"2026-01-06T00:00:00Z","command":"cancel-job","job":"b1"}
{"at":"2026-01-06T00:00:00Z","command":"cancel-service","service":"s2"}
{"at":"2026-01-06T00:00:00Z","command":"cancel-service","service":"s2"}
{"at":"2026-01-06T00:00:00Z","command":"place"}
)";

TEST(CommandLogFuzzTargetTest, SurvivesTruncatedCorruptedAndShuffledLogs) {
  const std::string seed = kSeed;
  Feed(seed);
  for (size_t cut = 0; cut <= seed.size(); cut += 7) Feed(seed.substr(0, cut));
  Rng rng(11);
  std::vector<std::string> lines;
  std::istringstream in(seed);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  int runs = 0;
  for (int i = 0; i < 400; ++i) {
    std::string mutated = seed;
    for (int k = 0; k < 1 + i % 4; ++k) {
      mutated[rng.Below(mutated.size())] = static_cast<char>(rng.Below(256));
    }
    Feed(mutated);
    // Lines in another order, some repeated: times may go backwards, runs and
    // ids refer to things that do not exist yet.
    std::string shuffled;
    for (size_t k = 0; k < lines.size(); ++k) shuffled += lines[rng.Below(lines.size())] + "\n";
    Feed(shuffled);
    runs += 2;
  }
  EXPECT_EQ(runs, 800);
}

}  // namespace
}  // namespace polycloud::scheduler
