// The scale generator: a seeded, reproducible world at the seeds' scale — a
// fleet of N GPUs over P providers, S sites and ~10⁴ pools, with ramps,
// contracts (take-or-pay commitments, an exclusivity clause), power-limited
// sites and a few faults, and a workload of M jobs with heavy-tailed gang
// sizes (1 GPU to gangs of thousands) arriving over a year, plus a few
// inference services.
//
// The generator writes scenario YAML (docs/scenario.md), and the in-memory
// World is that text loaded by io::LoadScenarioString: the file `polycloud
// generate` writes and the world the benchmarks simulate are the same by
// construction, and the loader's validation checks every generated world.
// Jobs are written as `job_streams` (expanded by the loader with the seed), so
// a ten-million-job year is a file of a few megabytes.
//
//   gen::ScaleOptions o;  o.gpus = 1'000'000;  o.pools = 10'000;  o.jobs = 10'000'000;
//   std::string yaml = gen::GenerateScenarioYaml(o);      // same options → same bytes
//   Result<io::Scenario> s = gen::GenerateScenario(o);    // the World, loaded
//
// Thread-safety: the functions are reentrant.
#ifndef POLYCLOUD_GEN_SCALE_H_
#define POLYCLOUD_GEN_SCALE_H_

#include <cstdint>
#include <string>

#include "polycloud/base/status.h"
#include "polycloud/base/units.h"
#include "polycloud/io/scenario.h"

namespace polycloud::gen {

struct ScaleOptions {
  int64_t gpus = 1'000'000;  // GPUs installed at peak, over all pools (exactly)
  int32_t providers = 8;
  int32_t sites = 200;
  int32_t pools = 10'000;
  int64_t jobs = 10'000'000;  // jobs arriving over the run, in all streams (exactly)
  int32_t services = 4;
  int32_t days = 365;  // length of the run
  // Offered load of the jobs, in thousandths of the fleet's GPU-seconds at
  // reference (H100) speed; faster accelerators make the real load lower.
  int64_t load_milli = 600;
  uint64_t seed = 1;
  Time start = Time::FromUnixSeconds(1767225600);  // 2026-01-01
};

// Upper bounds of the options, each with its reason (docs/cli.md "generate").
inline constexpr int64_t kMaxGpus = 100'000'000;  // 100x the benchmarked world
inline constexpr int32_t kMaxPools = 50'000;      // ~200 bytes of YAML each: under 16 MiB
inline constexpr int32_t kMaxProviders = 1'000;

// Checks the options: counts positive, at least one site per provider, at
// least one pool per site, at least one node of GPUs per pool, jobs at most
// the loader's limit. Errors: InvalidArgument naming the option.
Status ValidateOptions(const ScaleOptions& options);

// The scenario as YAML text. Deterministic: the same options give the same
// bytes. The options must be valid (ValidateOptions).
std::string GenerateScenarioYaml(const ScaleOptions& options);

// The scenario loaded: GenerateScenarioYaml(options) through
// io::LoadScenarioString. Errors: InvalidArgument for bad options.
Result<io::Scenario> GenerateScenario(const ScaleOptions& options);

}  // namespace polycloud::gen

#endif  // POLYCLOUD_GEN_SCALE_H_
