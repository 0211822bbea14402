// The `local` site driver: runs on this machine, as child processes, for
// laptops and demos. A run is the request's command under `shell -c`, or
// `sleep <expected seconds>` when there is none; each leads its own process
// group, so Cancel (SIGTERM, then SIGKILL after `kill_grace`) and the end of
// a run take every process it started with it.
//
// Children get a minimal environment (PATH, HOME, USER, LOGNAME, LANG) plus
//   POLYCLOUD_SITE        the site tag (options.site)
//   POLYCLOUD_SITE_JOB    the run's SiteJobName
//   POLYCLOUD_JOB, POLYCLOUD_RUN, POLYCLOUD_GPUS, POLYCLOUD_POOL
// The first two let a driver started after a broker restart find the runs
// of its site that are still running (by /proc/<pid>/environ) and report
// them in List: a run submitted just before a crash is found, not started
// twice. What such an adopted run does after it ends is not known (it was
// another process's child), so it drops out of List then.
//
// `started` is when Submit started it; `ended` is when Submit, Cancel or
// List first saw it end (runs are polled on every call, not by a signal
// handler), so the broker's poll interval bounds the error.
//
// Thread-safety: not thread-safe (one broker site loop calls it).
#ifndef POLYCLOUD_SITES_LOCAL_H_
#define POLYCLOUD_SITES_LOCAL_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/base/clock.h"
#include "polycloud/base/status.h"
#include "polycloud/sites/driver.h"

namespace polycloud::sites {

struct LocalOptions {
  std::string site = "local";  // POLYCLOUD_SITE of the children; one per driver
  std::string output_dir;      // each run's stdout+stderr in DIR/<name>.out; "" = /dev/null
  std::string workdir;         // "" = the broker's working directory
  std::string shell = "/bin/sh";
  std::chrono::milliseconds kill_grace{2'000};  // SIGTERM to SIGKILL
  std::string path;                             // PATH of the children; "" = the broker's
  bool adopt = true;  // find the site's runs left by an earlier driver (see above)
};

class LocalDriver final : public SiteDriver {
 public:
  // `clock` (not owned) stamps started/ended; the broker passes its WallClock.
  LocalDriver(LocalOptions options, const Clock& clock);
  // Leaves running children running: after a restart the next driver adopts them.
  ~LocalDriver() override = default;

  // Starts the run; the id is its pid. kInvalidArgument as CheckDispatchRequest;
  // kIoError when the program cannot be started.
  Result<std::string> Submit(const DispatchRequest& request) override;
  // Stops the run and every process of its group; returns once they are
  // gone (at most kill_grace plus a moment). Unknown, finished or malformed
  // ids: Ok.
  Status Cancel(std::string_view external_id) override;
  // Every run this driver started or adopted, in start order.
  Result<std::vector<SiteJob>> List() override;

  // Runs not yet seen to end.
  int32_t running() const;

 private:
  struct Run {
    pid_t pid = 0;
    std::string job;
    uint32_t run = 0;
    SiteJobState state = SiteJobState::kRunning;
    Time started;
    Time ended;
    bool cancelled = false;
    bool adopted = false;
    uint64_t start_ticks = 0;  // adopted runs: /proc start time, against pid reuse
  };

  void Adopt();
  void Poll(Run& run);
  void Finish(Run& run, int wait_status);
  std::vector<std::string> ChildEnv(const DispatchRequest& request) const;

  LocalOptions options_;
  const Clock& clock_;
  std::string path_;
  std::vector<Run> runs_;
  bool adopted_ = false;
};

}  // namespace polycloud::sites

#endif  // POLYCLOUD_SITES_LOCAL_H_
