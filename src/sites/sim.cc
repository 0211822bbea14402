#include "polycloud/sites/sim.h"

#include "polycloud/sites/naming.h"

namespace polycloud::sites {
namespace {

constexpr std::string_view kIdPrefix = "sim-";

}  // namespace

Result<std::string> SimDriver::Submit(const DispatchRequest& request) {
  POLYCLOUD_RETURN_IF_ERROR(CheckDispatchRequest(request));
  const Time now = clock_.Now();
  runs_.push_back({request.job, request.run, now, now + request.expected, false, Time()});
  return std::string(kIdPrefix) + std::to_string(runs_.size());
}

Status SimDriver::Cancel(std::string_view external_id) {
  if (external_id.substr(0, kIdPrefix.size()) != kIdPrefix) return Status::Ok();
  size_t index = 0;
  for (char c : external_id.substr(kIdPrefix.size())) {
    if (c < '0' || c > '9' || index > runs_.size()) return Status::Ok();
    index = index * 10 + static_cast<size_t>(c - '0');
  }
  if (index == 0 || index > runs_.size()) return Status::Ok();
  Run& run = runs_[index - 1];
  const Time now = clock_.Now();
  if (!run.cancelled && now < run.ends) {
    run.cancelled = true;
    run.cancelled_at = now;
  }
  return Status::Ok();
}

Result<std::vector<SiteJob>> SimDriver::List() {
  const Time now = clock_.Now();
  std::vector<SiteJob> jobs;
  jobs.reserve(runs_.size());
  for (size_t i = 0; i < runs_.size(); ++i) {
    const Run& r = runs_[i];
    SiteJob j;
    j.external_id = std::string(kIdPrefix) + std::to_string(i + 1);
    j.job = r.job;
    j.run = r.run;
    j.started = r.started;
    if (r.cancelled) {
      j.state = SiteJobState::kCancelled;
      j.ended = r.cancelled_at;
    } else if (now >= r.ends) {
      j.state = SiteJobState::kCompleted;
      j.ended = r.ends;
    } else {
      j.state = SiteJobState::kRunning;
    }
    jobs.push_back(std::move(j));
  }
  return jobs;
}

}  // namespace polycloud::sites
