// A site driver: how the live broker (`polycloud serve`) hands a job's run to
// the scheduler of the site that will run it, and follows it to the end.
// Back ends: `slurm` (sbatch/squeue/sacct/scancel against a real cluster,
// named by its SLURM_CONF), `local` (processes on this machine holding a GPU
// count, for laptops and demos) and `sim` (no side effects: runs end after
// their expected time on the broker's clock).
//
// The broker's rule for exactly-once dispatch: it journals an intent
// (store::Dispatch) before Submit, and after a restart it calls List and
// matches the site's jobs to its own by the name Submit gave them
// ("pc-<job>-r<run>"), so a run submitted just before a crash is found rather
// than sent twice.
//
//   std::unique_ptr<SiteDriver> site = ...;
//   Result<std::string> id = site->Submit({.job = "j1", .run = 3, .gpus = 4, ...});
//   Result<std::vector<SiteJob>> jobs = site->List();   // every run of ours the site knows
//
// Thread-safety: a driver is called from one thread (the broker's site loop).
#ifndef POLYCLOUD_SITES_DRIVER_H_
#define POLYCLOUD_SITES_DRIVER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/base/units.h"

namespace polycloud::sites {

struct DispatchRequest {
  std::string job;        // polycloud job id
  uint32_t run = 0;       // the core's RunId for this start
  int32_t gpus = 0;
  std::string pool;       // polycloud pool id
  std::string partition;  // the site's partition for the pool (slurm)
  // How long the run is expected to take (the job's remaining work at the
  // gang's speed): what `sim` and `local` run for; slurm passes it as the
  // time limit only when the scenario asks for one.
  Duration expected = Duration::Seconds(0);
  std::string command;  // what to run (slurm/local); empty: sleep for `expected`
};

// The name a run carries at its site, by which reconciliation finds it.
std::string SiteJobName(std::string_view job, uint32_t run);

enum class SiteJobState : uint8_t { kPending, kRunning, kCompleted, kFailed, kCancelled };

struct SiteJob {
  std::string external_id;  // the site's id (Slurm job id, pid, ...)
  std::string job;          // parsed back from the name
  uint32_t run = 0;
  SiteJobState state = SiteJobState::kPending;
  Time started;  // when known (state running or later)
  Time ended;    // when known (a final state)
};

class SiteDriver {
 public:
  virtual ~SiteDriver() = default;
  // Hands a run to the site; returns the site's id for it. Unavailable site:
  // kIoError (the broker counts it toward the site's grace period).
  virtual Result<std::string> Submit(const DispatchRequest& request) = 0;
  // Stops a run (preemption or cancel). Unknown or finished id: Ok.
  virtual Status Cancel(std::string_view external_id) = 0;
  // Every run of ours the site still knows, with its state and times.
  virtual Result<std::vector<SiteJob>> List() = 0;
};

}  // namespace polycloud::sites

#endif  // POLYCLOUD_SITES_DRIVER_H_
