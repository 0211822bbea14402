#include "polycloud/world/magnitudes.h"

#include <algorithm>

#include "polycloud/base/parse.h"
#include "polycloud/world/world.h"

namespace polycloud::world {

std::optional<MagnitudeProblem> FindMagnitudeProblem(const World& w) {
  using Where = MagnitudeProblem::Where;
  const std::string why = " (docs/scenario.md, Magnitudes)";
  Time first = w.start, last = w.end;
  for (const Contract& c : w.contracts) {
    first = std::min(first, c.start);
    last = std::max(last, c.end);
  }
  const int64_t span = (last - first).seconds();
  if (span > kMaxSpanSeconds) {
    return MagnitudeProblem{Where::kScenario, -1,
                            "the scenario and its contracts span " + FormatTime(first) + " to " +
                                FormatTime(last) +
                                ", more than the 100 years the engine's GPU-second and money "
                                "arithmetic is sized for" +
                                why};
  }
  __int128 gpus = 0, rate = 0;  // rate: µ$ per hour at list price, whole fleet
  for (size_t p = 0; p < w.pools.size(); ++p) {
    const Pool& pool = w.pools[p];
    int64_t peak = 0;
    if (pool.offer != kNone) {
      peak = w.procurement.offers[pool.offer].max_gpus;
    } else {
      for (const auto& point : pool.gpus.points()) peak = std::max(peak, point.value);
    }
    gpus += peak;
    rate += static_cast<__int128>(peak) * pool.price_per_gpu_hour.micros();
    const int32_t index = static_cast<int32_t>(p);
    if (peak > kMaxGpus || gpus > kMaxGpus) {
      return MagnitudeProblem{Where::kPool, index,
                              "pool \"" + pool.id + "\" brings the fleet to more than " +
                                  std::to_string(kMaxGpus) + " GPUs at peak" + why};
    }
    if (pool.price_per_gpu_hour.micros() > kMaxPricePerGpuHourMicros ||
        rate * span / 3600 > kMaxMoneyMicros) {
      return MagnitudeProblem{Where::kPool, index,
                              "pool \"" + pool.id + "\" (" + std::to_string(peak) + " GPUs at $" +
                                  FormatMoney(pool.price_per_gpu_hour) +
                                  "/GPU-h) brings the fleet's list-price spend over " +
                                  FormatDuration(Duration::Seconds(span)) +
                                  " past $2.3T, more than the engine's money arithmetic holds" +
                                  why};
    }
  }
  __int128 committed = 0;
  for (size_t c = 0; c < w.contracts.size(); ++c) {
    committed += w.contracts[c].committed_spend.micros();
    for (const CommitmentMinimum& m : w.contracts[c].minimums) committed += m.spend.micros();
    if (committed > kMaxMoneyMicros) {
      return MagnitudeProblem{Where::kContract, static_cast<int32_t>(c),
                              "contract \"" + w.contracts[c].id +
                                  "\" brings the commitments and minimums to more than $2.3T, "
                                  "more than the engine's money arithmetic holds" +
                                  why};
    }
  }
  for (size_t j = 0; j < w.jobs.size(); ++j) {
    const Job& job = w.jobs[j];
    if (job.gpus > kMaxGpus || job.work_gpu_seconds > kMaxWorkGpuSeconds) {
      return MagnitudeProblem{Where::kJob, static_cast<int32_t>(j),
                              "job \"" + job.id + "\" (" + std::to_string(job.gpus) + " GPUs, " +
                                  std::to_string(job.work_gpu_seconds / 3600) +
                                  " GPU-hours) is past the bounds of " + std::to_string(kMaxGpus) +
                                  " GPUs and 1000000000 GPU-hours" + why};
    }
  }
  return std::nullopt;
}

}  // namespace polycloud::world
