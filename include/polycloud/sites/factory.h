// Making a site driver from a site's back-end name and its options, as the
// broker's configuration gives them (strings, so a scenario's YAML map or
// command-line flags can carry them alike).
//
//   back end  options (all optional unless said)
//   slurm     slurm_conf (required, a file), history (sacct | jobcomp | none;
//             default sacct), history_window (duration, 7d), timeout
//             (duration, 30s), ping (true | false, true), time_limit (false),
//             requeue (false), output (/dev/null), workdir, sbatch_args
//             (space-separated extra sbatch options), path
//   local     output_dir, workdir, shell (/bin/sh), kill_grace (duration, 2s),
//             path, adopt (true)
//   sim       none
// Durations are polycloud's ("30s", "2m", "7d"). docs/sites.md explains each.
//
//   Result<std::unique_ptr<SiteDriver>> d =
//       MakeSiteDriver({.site = "alpha", .backend = "slurm",
//                       .options = {{"slurm_conf", "/tmp/polycloud-slurm/alpha/slurm.conf"},
//                                   {"history", "jobcomp"}}}, clock);
//
// Thread-safety: a free function; the drivers' own rules apply to what it makes.
#ifndef POLYCLOUD_SITES_FACTORY_H_
#define POLYCLOUD_SITES_FACTORY_H_

#include <map>
#include <memory>
#include <string>

#include "polycloud/base/clock.h"
#include "polycloud/base/status.h"
#include "polycloud/sites/driver.h"

namespace polycloud::sites {

struct SiteDriverConfig {
  std::string site;     // the polycloud site id: messages, and local's POLYCLOUD_SITE tag
  std::string backend;  // "slurm", "local" or "sim"
  std::map<std::string, std::string> options;
};

// The driver, or kInvalidArgument naming the site and the bad part: an
// unknown back end or option (with the known ones), a value of the wrong
// form (expected vs found), a missing slurm_conf or one that is not a file.
// `clock` (not owned) must outlive the driver; sim runs on it, local stamps
// times with it.
Result<std::unique_ptr<SiteDriver>> MakeSiteDriver(const SiteDriverConfig& config,
                                                   const Clock& clock);

}  // namespace polycloud::sites

#endif  // POLYCLOUD_SITES_FACTORY_H_
