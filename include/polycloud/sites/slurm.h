// The `slurm` site driver: a real Slurm cluster, driven through its
// command-line tools with the cluster's SLURM_CONF in their environment.
//
//   Submit  sbatch --parsable --job-name=pc-<job>-r<run> --comment='polycloud job=.. run=..
//   pool=..'
//                  [--partition=P] [--gres=gpu:N] [--time=MIN] --no-requeue --output=/dev/null
//                  [sbatch_args...] --wrap=<command, or "sleep <expected seconds>">
//   List    scontrol ping; squeue (live jobs, and finished ones for MinJobAge);
//           sacct (history: slurmdbd, or `sacct -c`, the jobcomp file); merged
//   Cancel  scancel <id>
//
// Each tool runs with a minimal environment (PATH, HOME, USER, LOGNAME, LANG,
// SLURM_CONF; the queries also LC_ALL=C, TZ=UTC, SLURM_TIME_FORMAT=%s), so
// nothing of the broker's own environment (tokens, SBATCH_*/SQUEUE_* settings)
// reaches the tools or, through sbatch's --export=ALL, the jobs. Every tool
// has `timeout`; a controller that does not answer costs at most that, then
// kIoError. docs/sites.md lists the failure modes.
//
// Thread-safety: not thread-safe (one broker site loop calls it); distinct
// drivers may be used from distinct threads.
#ifndef POLYCLOUD_SITES_SLURM_H_
#define POLYCLOUD_SITES_SLURM_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/base/units.h"
#include "polycloud/sites/driver.h"
#include "polycloud/sites/subprocess.h"

namespace polycloud::sites {

// Where List finds jobs that squeue has forgotten (after MinJobAge).
enum class SlurmHistory : uint8_t {
  kSacct,    // `sacct`: the cluster keeps accounting in slurmdbd
  kJobcomp,  // `sacct -c`: the jobcomp/filetxt file (no slurmdbd; the loopback clusters)
  kNone,     // squeue only
};

struct SlurmOptions {
  std::string slurm_conf;  // required: the cluster's slurm.conf
  SlurmHistory history = SlurmHistory::kSacct;
  Duration history_window = Duration::Days(7);  // how far back sacct looks
  std::chrono::milliseconds timeout{30'000};    // per tool run
  bool ping = true;         // List asks `scontrol ping` first: a dead controller fails in ms
  bool time_limit = false;  // pass `expected` as --time (whole minutes, rounded up)
  bool requeue = false;     // allow Slurm to requeue (runs may then happen twice)
  std::string output = "/dev/null";      // --output
  std::string workdir;                   // --chdir; "" = the broker's working directory
  std::vector<std::string> sbatch_args;  // more sbatch options (--account=.., --qos=..)
  std::string path;                      // PATH for the tools; "" = the broker's
};

class SlurmDriver final : public SiteDriver {
 public:
  explicit SlurmDriver(SlurmOptions options);

  // kInvalidArgument for a request no cluster could take (empty job id,
  // negative GPUs or time, a NUL in the command, a name over 1000 bytes);
  // kFailedPrecondition when the controller answered and refused the job
  // (unknown partition, more GPUs than a node has), with Slurm's reason;
  // kIoError when it did not answer (down, hung past `timeout`, auth failed)
  // or the tool could not run.
  Result<std::string> Submit(const DispatchRequest& request) override;
  // kInvalidArgument for an id that is not a Slurm job id; kIoError when
  // scancel cannot reach the controller. Unknown or finished ids: Ok.
  Status Cancel(std::string_view external_id) override;
  // squeue's view merged with the history's (squeue wins for a job both
  // know); only jobs named by SiteJobName; sorted by job, run, id. kIoError
  // when a tool fails; kInvalidInput when its output does not parse.
  Result<std::vector<SiteJob>> List() override;

  // The sbatch command line Submit runs for `request` (for tests and logs).
  std::vector<std::string> SbatchArgv(const DispatchRequest& request) const;
  const SlurmOptions& options() const { return options_; }

 private:
  Result<ProcessResult> Run(std::vector<std::string> argv, bool query) const;
  Result<std::vector<SiteJob>> History() const;

  SlurmOptions options_;
  std::vector<std::string> submit_env_;
  std::vector<std::string> query_env_;
};

}  // namespace polycloud::sites

#endif  // POLYCLOUD_SITES_SLURM_H_
