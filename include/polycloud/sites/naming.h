// How a run is named at its site, and the names of site job states.
//
// SiteJobName (driver.h) writes "pc-<job>-r<run>" with the job id escaped so
// that any polycloud id survives a site scheduler's text formats: bytes other
// than [A-Za-z0-9._-] become %XX (upper-case hex), so a name never holds a
// space, a '|' delimiter, a newline or a shell metacharacter. ParseSiteJobName
// is its exact inverse and accepts nothing else: it is how List tells our runs
// from everyone else's jobs on a shared cluster.
//
//   SiteJobName("frontier 1", 3)        == "pc-frontier%201-r3"
//   ParseSiteJobName("pc-frontier%201-r3") -> {.job = "frontier 1", .run = 3}
//
// Thread-safety: free functions on values.
#ifndef POLYCLOUD_SITES_NAMING_H_
#define POLYCLOUD_SITES_NAMING_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "polycloud/base/status.h"
#include "polycloud/sites/driver.h"

namespace polycloud::sites {

struct RunName {
  std::string job;
  uint32_t run = 0;
};

// The job id and run a site job name stands for. Errors (kInvalidInput, with
// the name quoted): no "pc-" prefix, no "-r<run>" suffix, an empty job id, a
// run with a sign, leading zeros or above 2^32-1, a byte that SiteJobName
// would have escaped, or an escape that is malformed (%2a, %4) or not needed
// (%41 for 'A'). So Parse(SiteJobName(j, r)) == {j, r} for every j and r, and
// every name Parse accepts is SiteJobName of what it returns.
Result<RunName> ParseSiteJobName(std::string_view name);

// The job id as SiteJobName writes it ("frontier%201").
std::string EscapeSiteJobId(std::string_view job);

// What every driver refuses before touching its site (kInvalidArgument):
// an empty job id or one holding NUL, negative GPUs or time, a name over 1000 bytes, a
// partition with a space or control character, a NUL in the command.
Status CheckDispatchRequest(const DispatchRequest& request);

// "pending", "running", "completed", "failed", "cancelled".
const char* SiteJobStateName(SiteJobState state);
inline bool IsFinal(SiteJobState s) {
  return s == SiteJobState::kCompleted || s == SiteJobState::kFailed ||
         s == SiteJobState::kCancelled;
}

}  // namespace polycloud::sites

#endif  // POLYCLOUD_SITES_NAMING_H_
