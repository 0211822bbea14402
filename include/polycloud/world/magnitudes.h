// The magnitude model: the largest value the loader accepts for each quantity,
// derived from the 64-bit arithmetic the engine does with it, so that nothing
// a valid scenario can say overflows (docs/scenario.md, "Magnitudes", gives
// each bound with its reason). The products the engine forms, and why each
// fits in int64 (|x| < 2^63 ≈ 9.2e18):
//
//   GPU-seconds   fleet GPUs × span               2^26 × 2^32               < 2^58
//   spend         Σ peak GPUs × price × span      checked by the loader     <= 2^61 µ$
//   work × 1000   the scheduler's run time        3.6e12 GPU-s × 1000       < 2^52
//   run rate      gang × speed_milli              2^26 × 2^17               < 2^43
//   site power    GPUs × watts × pue_milli        2^26 × 2^17 × 2^14        < 2^57 (mW)
//   tokens        replicas × tokens/s × speed     2^26 × 10^8 × 100         < 2^60
//   demand        tokens/s × span                 10^9 × 2^32               < 2^62
//
// Thread-safety: constants.
#ifndef POLYCLOUD_WORLD_MAGNITUDES_H_
#define POLYCLOUD_WORLD_MAGNITUDES_H_

#include <cstdint>
#include <optional>
#include <string>

namespace polycloud::world {

struct World;

// Scenario start..end, also with every contract's start..end: 100 Julian years.
inline constexpr int64_t kMaxSpanSeconds = int64_t{3'155'760'000};
// GPUs in one pool at any point, an offer's max_gpus, a gang, and the whole
// fleet (every pool's peak plus every offer's max_gpus): 2^26 = 67,108,864.
inline constexpr int64_t kMaxGpus = int64_t{1} << 26;
// Money: any single amount (a price, a commitment, a minimum), and the whole
// fleet's list-price spend over the span (Σ peak GPUs × price × span): 2^61
// micro-dollars ≈ $2.3T, so spend plus shortfalls (each at most this) fit.
inline constexpr int64_t kMaxMoneyMicros = int64_t{1} << 61;
// A price per GPU-hour: $1M (the procurement planner divides price × 1000 by
// the speed in thousandths).
inline constexpr int64_t kMaxPricePerGpuHourMicros = int64_t{1'000'000} * 1'000'000;
// Relative speed in thousandths: 100.000 × an H100.
inline constexpr int64_t kMaxSpeedMilli = 100'000;
// Board power per GPU: 100 kW.
inline constexpr int64_t kMaxWattsPerGpu = 100'000;
// PUE in thousandths: 10.000.
inline constexpr int64_t kMaxPueMilli = 10'000;
// A site's power: 10^6 MW = 1 TW, in watts.
inline constexpr int64_t kMaxSiteWatts = int64_t{1'000'000'000'000};
// A job's work: 10^9 reference GPU-hours, in GPU-seconds (× 1000 for run
// time; a job at the slowest rate still finishes at a representable time).
inline constexpr int64_t kMaxWorkGpuSeconds = int64_t{1'000'000'000} * 3600;
// A replica's throughput (reference speed) and a service's demand, tokens/s.
inline constexpr int64_t kMaxReplicaTokensPerSecond = 100'000'000;
inline constexpr int64_t kMaxDemandTokensPerSecond = 1'000'000'000;
// Memory per GPU, GB.
inline constexpr int64_t kMaxMemoryGb = 1'000'000;

// What a whole World breaks of the model, beyond each field's own bound: the
// span, the fleet's GPUs and list-price spend, the sum of commitments, and
// the jobs' gangs and work (which trace readers add past the loader). The
// first problem found, naming the input that crossed the bound; `index`
// points into World's pools, contracts or jobs as `where` says.
struct MagnitudeProblem {
  enum class Where { kScenario, kPool, kContract, kJob };
  Where where = Where::kScenario;
  int32_t index = -1;
  std::string message;
};
std::optional<MagnitudeProblem> FindMagnitudeProblem(const World& world);

}  // namespace polycloud::world

#endif  // POLYCLOUD_WORLD_MAGNITUDES_H_
