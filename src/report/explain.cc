#include "polycloud/report/explain.h"

#include <algorithm>
#include <sstream>

#include "polycloud/base/parse.h"
#include "polycloud/placement/pipeline.h"

namespace polycloud::report {
namespace {

using placement::CandidateVerdict;
using placement::Explanation;

std::string WorkHours(int64_t gpu_seconds) {
  std::ostringstream s;
  s << gpu_seconds / 3600;
  return s.str();
}

void WriteDecision(const world::World& world, const scheduler::Scheduler::WatchedDecision& d,
                   std::ostream& out) {
  const Explanation& e = d.explanation;
  out << "Decision at " << FormatTimeFull(e.at);
  if (d.repeats > 1) {
    out << " (the same filters decided " << d.repeats << " attempts until "
        << FormatTimeFull(d.last_at) << "; figures as of then)";
  }
  out << ": " << e.subject << ", " << e.gpus << " GPUs → ";
  if (e.chosen != world::kNone) {
    out << "placed in " << world.pools[e.chosen].id
        << (e.preempts ? " by preempting lower-priority work" : "") << "\n";
  } else {
    out << "not placed; no pool passed every filter\n";
  }
  // Passing pools ranked by score, then rejected pools in filter order.
  std::vector<const CandidateVerdict*> passed, rejected;
  for (const CandidateVerdict& c : e.candidates) (c.rejected_by ? rejected : passed).push_back(&c);
  std::stable_sort(passed.begin(), passed.end(),
                   [](auto* a, auto* b) { return a->total > b->total; });
  if (!passed.empty()) {
    out << "  Candidates that passed every filter (score = Σ weight × normalised score, 100 = "
           "best):\n";
    for (const CandidateVerdict* c : passed) {
      out << "    " << (c->pool == e.chosen ? "* " : "  ") << world.pools[c->pool].id << "  total "
          << c->total;
      if (c->via_preemption) out << "  (needs preemption)";
      out << "\n       ";
      for (size_t k = 0; k < e.scorer_names.size(); ++k) {
        out << " " << e.scorer_names[k] << "=" << c->raw[k] << " " << e.scorer_units[k] << " ("
            << c->normalized[k] << ")";
        if (k + 1 < e.scorer_names.size()) out << ";";
      }
      out << "\n";
    }
  }
  if (!rejected.empty()) {
    out << "  Rejected:\n";
    for (const CandidateVerdict* c : rejected) {
      out << "    " << world.pools[c->pool].id << "  [" << c->rejected_by << "] " << c->reason
          << "\n";
    }
  }
}

std::string Suggest(const world::World& world, const std::string& id) {
  std::vector<std::string> close;
  auto consider = [&](const std::string& candidate) {
    if (close.size() < 5 &&
        (candidate.find(id) != std::string::npos || id.find(candidate) != std::string::npos ||
         candidate.substr(0, 3) == id.substr(0, 3))) {
      close.push_back(candidate);
    }
  };
  for (const auto& s : world.services) consider(s.id);
  for (const auto& j : world.jobs) consider(j.id);
  std::string out;
  for (const auto& c : close) out += (out.empty() ? "" : ", ") + c;
  return out;
}

}  // namespace

Status Explain(const world::World& world, const sim::Options& options, const std::string& id,
               std::optional<Time> at, std::ostream& out) {
  const world::JobIndex job = world.FindJob(id);
  const world::ServiceIndex service = world.FindService(id);
  if (job == world::kNone && service == world::kNone) {
    std::string hint = Suggest(world, id);
    return NotFound("no job or service named \"" + id + "\" in scenario " + world.name +
                    (hint.empty() ? "" : " (did you mean: " + hint + "?)"));
  }
  sim::Options opts = options;
  opts.stop_at = at;
  opts.progress = nullptr;
  sim::Simulator sim(world, opts);
  const bool is_service = job == world::kNone;
  sim.Watch(is_service ? world::WorkloadKind::kService : world.jobs[job].kind,
            is_service ? service : job);
  std::ostringstream timeline;
  sim::EventLogWriter log(world, timeline);
  log.FilterTo(is_service, is_service ? service : job);
  sim.AddObserver(&log);
  sim.Run();
  const Time when = sim.end();
  const scheduler::Scheduler& sched = sim.scheduler();

  if (is_service) {
    const world::Service& s = world.services[service];
    const scheduler::ServiceState& st = sched.services()[service];
    out << "service " << s.id << ": model " << s.model << ", class " << s.workload_class << ", "
        << s.gpus_per_replica << " GPUs per replica, " << s.replica_tokens_per_s
        << " tokens/s per replica on the reference GPU, present at ≥" << s.min_providers
        << " provider(s), priority " << s.priority << "\n";
    out << "At " << FormatTimeFull(when) << ": demand " << st.demand << " tokens/s, capacity "
        << st.capacity << " tokens/s from " << st.replicas.size() << " replicas";
    std::string where;
    for (size_t p = 0; p < world.providers.size(); ++p) {
      if (st.per_provider[p] > 0)
        where += (where.empty() ? "" : ", ") + world.providers[p].id + ":" +
                 std::to_string(st.per_provider[p]);
    }
    out << (where.empty() ? "" : " (" + where + ")") << "\n";
  } else {
    const world::Job& j = world.jobs[job];
    const scheduler::JobState& st = sched.jobs()[job];
    out << "job " << j.id << ": " << world::WorkloadKindName(j.kind) << ", class "
        << j.workload_class << ", gang of " << j.gpus << " GPUs, " << WorkHours(j.work_gpu_seconds)
        << " reference GPU-hours, priority " << j.priority << (j.preemptible ? ", preemptible" : "")
        << ", checkpoint "
        << (j.checkpoint_interval.seconds() > 0 ? "every " + FormatDuration(j.checkpoint_interval)
                                                : "never")
        << ", arrives " << FormatTimeFull(j.arrival) << "\n";
    out << "At " << FormatTimeFull(when) << ": ";
    switch (st.status) {
      case scheduler::JobStatus::kNotArrived:
        out << "not arrived yet";
        break;
      case scheduler::JobStatus::kQueued:
        out << "queued, " << WorkHours(st.remaining_work) << " reference GPU-hours of work left";
        if (st.reserved_pool != world::kNone) {
          out << "; holding " << world.pools[st.reserved_pool].id
              << " (lower-priority work may not start there)";
        }
        break;
      case scheduler::JobStatus::kRunning:
        out << "running in " << world.pools[st.last_pool].id << ", " << WorkHours(st.remaining_work)
            << " reference GPU-hours left at its last (re)start";
        break;
      case scheduler::JobStatus::kDone:
        out << "finished at " << FormatTimeFull(st.end);
        break;
    }
    out << " (" << st.starts << " start(s), " << st.preemptions << " preemption(s), "
        << st.interruptions << " interruption(s), " << WorkHours(st.lost_work)
        << " reference GPU-hours lost)\n";
  }

  out << "\nTimeline\n";
  std::string lines = timeline.str();
  out << (lines.empty() ? "  (no events)\n" : "");
  std::istringstream in(lines);
  for (std::string line; std::getline(in, line);) out << "  " << line << "\n";

  const auto& decisions = sched.watched();
  if (decisions.empty()) {
    out << "\nNo placement decision was made for it before " << FormatTimeFull(when) << ".\n";
    return Status::Ok();
  }
  out << "\nDecisions (" << decisions.size() << ")\n";
  constexpr size_t kShown = 30;
  const size_t first_shown = decisions.size() > kShown + 1 ? decisions.size() - 1 - kShown : 0;
  if (first_shown > 0) out << "  ... " << first_shown << " earlier decisions\n";
  for (size_t i = first_shown; i + 1 < decisions.size(); ++i) {
    const auto& d = decisions[i];
    out << "  " << FormatTimeFull(d.explanation.at) << "  "
        << (d.placed ? "placed in " + world.pools[d.explanation.chosen].id : "not placed");
    if (d.repeats > 1)
      out << " (" << d.repeats << " attempts until " << FormatTimeFull(d.last_at) << ")";
    out << "\n";
  }
  out << "\n";
  WriteDecision(world, decisions.back(), out);
  return Status::Ok();
}

}  // namespace polycloud::report
