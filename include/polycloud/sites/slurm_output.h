// Pure parsers of what the Slurm command-line tools print, for the slurm site
// driver (slurm.h). They take text and return values: no process is run, so
// they are unit-tested on recorded output and fuzzed (tests/fuzz).
//
// The driver asks for machine-readable output it controls: times as Unix
// seconds (SLURM_TIME_FORMAT=%s in the tools' environment), fields separated
// by '|' with the job name last, so a foreign job's name holding '|' cannot
// shift the other fields:
//   squeue -h -a --me -t all -o '%i|%T|%S|%e|%j'
//   sacct -n -X -P -o jobid,state,start,end,jobname       (parsable2)
// Lines of jobs whose name is not a SiteJobName (other users', other tools')
// are skipped once the line has its fields; lines of ours are checked strictly.
//
//   Result<std::vector<SiteJob>> jobs = ParseSqueueOutput(stdout_text);
//
// Thread-safety: free functions on values.
#ifndef POLYCLOUD_SITES_SLURM_OUTPUT_H_
#define POLYCLOUD_SITES_SLURM_OUTPUT_H_

#include <string>
#include <string_view>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/sites/driver.h"

namespace polycloud::sites {

// The squeue format string and sacct field list the parsers expect.
inline constexpr char kSqueueFormat[] = "%i|%T|%S|%e|%j";
inline constexpr char kSacctFields[] = "jobid,state,start,end,jobname";

// A Slurm job state as squeue (%T) or sacct prints it, mapped onto ours:
//   PENDING CONFIGURING REQUEUED REQUEUE_FED REQUEUE_HOLD RESV_DEL_HOLD
//   SPECIAL_EXIT                                        -> kPending
//   RUNNING COMPLETING SUSPENDED STOPPED RESIZING SIGNALING STAGE_OUT
//                                                       -> kRunning
//   COMPLETED                                           -> kCompleted
//   FAILED TIMEOUT NODE_FAIL OUT_OF_MEMORY BOOT_FAIL DEADLINE PREEMPTED
//                                                       -> kFailed
//   CANCELLED REVOKED                                   -> kCancelled
// sacct's "CANCELLED by <uid>" is CANCELLED. Anything else: kInvalidInput.
Result<SiteJobState> ParseSlurmJobState(std::string_view text);

// squeue's output in kSqueueFormat: our jobs in the order printed. Times are
// Unix seconds or N/A, NONE, None, Unknown, 0 (not known). `started` is set
// only once the job is running or later (squeue prints a pending job's
// expected start), `ended` only in a final state (a running job's %e is its
// time limit). Errors: kInvalidInput "squeue output line N: ..." with what
// was expected and an excerpt of what was found.
Result<std::vector<SiteJob>> ParseSqueueOutput(std::string_view text);

// sacct's output (-n -P) with kSacctFields, the same rules; messages start
// "sacct output line N:".
Result<std::vector<SiteJob>> ParseSacctOutput(std::string_view text);

// "123", "123_4" (array task) or "123+1" (heterogeneous job component).
bool IsSlurmJobId(std::string_view text);

// `sbatch --parsable` output: "<id>" or "<id>;<cluster>" and a newline.
// Returns the id. Errors: kInvalidInput naming what was found.
Result<std::string> ParseSbatchParsable(std::string_view text);

}  // namespace polycloud::sites

#endif  // POLYCLOUD_SITES_SLURM_OUTPUT_H_
