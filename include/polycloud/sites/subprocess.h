// Running a site's command-line tools (sbatch, squeue, ...) and the local
// driver's jobs as child processes, with a deadline and bounded output.
//
// Children are started with posix_spawn in a process group of their own, with
// exactly the environment given (nothing of the caller's leaks into a job),
// stdin from /dev/null, every other inherited descriptor closed and default
// signal handling. A child that outlives its deadline is killed with its whole
// group and the call returns kIoError: a site that does not answer costs at
// most the timeout, never a hang.
//
//   ProcessSpec spec{.argv = {"squeue", "-h"}, .env = {"SLURM_CONF=/x/slurm.conf"},
//                    .timeout = std::chrono::seconds(10)};
//   Result<ProcessResult> r = RunProcess(spec);
//   if (r.ok() && r->exit_code == 0) Parse(r->out);
//
// Thread-safety: the functions may be called from several threads; each
// waits only for its own child.
#ifndef POLYCLOUD_SITES_SUBPROCESS_H_
#define POLYCLOUD_SITES_SUBPROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "polycloud/base/status.h"

namespace polycloud::sites {

struct ProcessSpec {
  // argv[0] is a path, or a name looked up in the PATH of `env` (else of the
  // caller's environment).
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value", the child's whole environment
  std::chrono::milliseconds timeout{30'000};
  size_t max_output = 16u << 20;  // per stream; more is an error (kIoError)
  std::string cwd;                // "" = the caller's
};

struct ProcessResult {
  int exit_code = -1;   // the exit status, or -1 when killed by a signal
  int term_signal = 0;  // the signal that ended it, else 0
  std::string out;
  std::string err;
  std::chrono::milliseconds elapsed{0};
};

// Runs `spec` to its end. kIoError when the program cannot be found or
// started, when it runs past the timeout (it and its group are SIGKILLed) or
// writes more than max_output. A non-zero exit is not an error here: the
// caller reads exit_code and err.
Result<ProcessResult> RunProcess(const ProcessSpec& spec);

// Starts `spec` without waiting (timeout and max_output are ignored); its
// stdout and stderr go to `output_path` (appended, created 0644). The child
// leads a new process group whose id is its pid. kIoError when it cannot be
// started.
Result<pid_t> StartProcess(const ProcessSpec& spec, const std::string& output_path);

// `name` resolved against `path` (a PATH value), or kIoError naming both.
Result<std::string> FindProgram(const std::string& name, const std::string& path);

// The first line of `text` without its newline, shortened for a message.
std::string FirstLine(const std::string& text);

}  // namespace polycloud::sites

#endif  // POLYCLOUD_SITES_SUBPROCESS_H_
