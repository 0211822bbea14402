// Fuzz target: the Slurm output parsers of the slurm site driver
// (include/polycloud/sites/slurm_output.h) and the run names they rely on.
//
// Any input must either be refused with kInvalidInput and a message that
// names the tool and line, or parse into jobs that are ours (names that
// round-trip through SiteJobName), with times only where the state allows
// them — never a crash or a sanitizer report. Run in the regular suite by
// SlurmOutputFuzzTargetTest; under libFuzzer with the fuzz preset:
//   cmake --preset fuzz && cmake --build --preset fuzz --target slurm_output_fuzz
//   build/fuzz/src/sites/slurm_output_fuzz -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "polycloud/sites/naming.h"
#include "polycloud/sites/slurm_output.h"

namespace {

using namespace polycloud;
using namespace polycloud::sites;

void CheckJobs(const Result<std::vector<SiteJob>>& jobs, std::string_view tool) {
  if (!jobs.ok()) {
    POLYCLOUD_CHECK(jobs.status().code() == StatusCode::kInvalidInput);
    POLYCLOUD_CHECK(jobs.status().message().rfind(std::string(tool) + " output line ", 0) == 0);
    return;
  }
  for (const SiteJob& j : *jobs) {
    POLYCLOUD_CHECK(IsSlurmJobId(j.external_id));
    Result<RunName> back = ParseSiteJobName(SiteJobName(j.job, j.run));
    POLYCLOUD_CHECK(back.ok() && back->job == j.job && back->run == j.run);
    if (j.state == SiteJobState::kPending) POLYCLOUD_CHECK(j.started == Time());
    if (!IsFinal(j.state)) POLYCLOUD_CHECK(j.ended == Time());
  }
}

}  // namespace

extern "C" int PolycloudFuzzSlurmOutput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckJobs(ParseSqueueOutput(text), "squeue");
  CheckJobs(ParseSacctOutput(text), "sacct");
  Result<std::string> id = ParseSbatchParsable(text);
  if (id.ok()) {
    POLYCLOUD_CHECK(IsSlurmJobId(*id) && text.substr(0, id->size()) == *id);
  } else {
    POLYCLOUD_CHECK(id.status().code() == StatusCode::kInvalidInput);
  }
  Result<RunName> name = ParseSiteJobName(text);
  if (name.ok()) POLYCLOUD_CHECK(SiteJobName(name->job, name->run) == text);
  const Result<SiteJobState> state = ParseSlurmJobState(text);
  if (state.ok()) POLYCLOUD_CHECK(static_cast<int>(*state) <= 4);
  return 0;
}

#ifdef POLYCLOUD_LIBFUZZER_MAIN
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return PolycloudFuzzSlurmOutput(data, size);
}
#endif
