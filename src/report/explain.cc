#include "polycloud/report/explain.h"

#include <algorithm>
#include <sstream>

#include "polycloud/base/parse.h"
#include "polycloud/placement/pipeline.h"
#include "polycloud/report/report.h"

namespace polycloud::report {
namespace {

using placement::CandidateVerdict;
using placement::Explanation;

std::string WorkHours(int64_t gpu_seconds) {
  std::ostringstream s;
  s << gpu_seconds / 3600;
  return s.str();
}

// A score in millionths of its range (placement::kFullScore) on a 0-100
// scale, to two decimals: 873125 -> "87.31".
std::string Hundredths(int64_t millionths) {
  const int64_t h = (millionths + 50) / 100;  // hundredths of a point; scores are not negative
  const int64_t frac = h % 100;
  return std::to_string(h / 100) + (frac < 10 ? ".0" : ".") + std::to_string(frac);
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
    if (!d.node.empty()) out << "  On " << d.node << "\n";
  } else {
    out << "not placed; no pool passed every filter\n";
  }
  // Passing pools ranked by score, then rejected pools in filter order.
  std::vector<const CandidateVerdict*> passed, rejected;
  for (const CandidateVerdict& c : e.candidates) (c.rejected_by ? rejected : passed).push_back(&c);
  std::stable_sort(passed.begin(), passed.end(),
                   [](auto* a, auto* b) { return a->total > b->total; });
  if (!passed.empty()) {
    out << "  Candidates that passed every filter (score = Σ weight × normalised score; a "
           "normalised score places the raw measure in the scorer's fixed range, 100 = its best "
           "end):\n";
    for (const CandidateVerdict* c : passed) {
      out << "    " << (c->pool == e.chosen ? "* " : "  ") << world.pools[c->pool].id << "  total "
          << Hundredths(c->total);
      if (c->via_preemption) out << "  (needs preemption)";
      out << "\n       ";
      for (size_t k = 0; k < e.scorer_names.size(); ++k) {
        out << " " << e.scorer_names[k] << "=" << c->raw[k] << " " << e.scorer_units[k] << " ("
            << Hundredths(c->normalized[k]) << ")";
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

// "req-N" → N-1, or -1.
int32_t RequestIndex(const std::string& id, size_t count) {
  if (id.rfind("req-", 0) != 0 || id.size() < 5) return -1;
  int64_t n = 0;
  for (size_t i = 4; i < id.size(); ++i) {
    if (id[i] < '0' || id[i] > '9' || n > 1'000'000'000) return -1;
    n = n * 10 + (id[i] - '0');
  }
  return n >= 1 && static_cast<size_t>(n) <= count ? static_cast<int32_t>(n - 1) : -1;
}

void WriteRequest(const world::World& world, const scheduler::Scheduler& sched, int32_t i,
                  std::ostream& out) {
  using Q = scheduler::CapacityRequest;
  const Q& q = sched.requests()[i];
  const RequestRow row = RequestRowOf(world, sched, i);
  out << row.id << ": capacity for " << row.capacity_class << ", raised "
      << FormatTimeFull(q.raised) << " after " << q.waiting_jobs
      << " job(s) waited past unmet_after (the oldest, " << row.oldest_job << ", since "
      << FormatTimeFull(sched.jobs()[q.oldest_job].queued_since) << ")\n";
  out << "  asked: " << q.gpus << " GPUs (the class's remaining work within unmet_after; largest "
      << "gang " << q.largest_gang << ") for " << FormatDuration(q.duration) << "\n";
  const auto& offers = world.procurement.offers;
  if (q.rofr_contract != world::kNone) {
    out << "  right of first refusal: contract " << world.contracts[q.rofr_contract].id << " gives "
        << world.providers[q.holder].id << " the first refusal; window " << FormatTimeFull(q.raised)
        << " to " << FormatTimeFull(q.window_closes) << " (exclusive)\n";
    if (q.market_offer >= 0) {
      const world::Offer& m = offers[q.market_offer];
      out << "  terms to match (best other offer then): " << m.id << ", " << q.market_gpus << " "
          << world.accelerators[m.accelerator].name << " at $" << FormatMoney(m.price_per_gpu_hour)
          << "/GPU-h, arriving after " << FormatDuration(m.lead_time) << "\n";
    } else {
      out << "  terms to match: none (no other provider could supply it); the holder may answer "
             "on its own terms\n";
    }
    // How long the holder takes: as it answered, or as the scenario says it does.
    const Time answered = q.answered != Time::Min()
                              ? q.answered
                              : q.raised + world.procurement.answer_after[q.holder];
    out << "  " << world.providers[q.holder].id << " answers after "
        << FormatDuration(answered - q.raised) << ": ";
    switch (q.answer) {
      case Q::Answer::kMatched:
        out << "matched at " << FormatTimeFull(answered) << "\n";
        break;
      case Q::Answer::kDeclined:
        out << "declined at " << FormatTimeFull(answered) << " — " << q.decline_reason << "\n";
        break;
      case Q::Answer::kExpired:
        out << "too late; the window closed at " << FormatTimeFull(q.window_closes)
            << " without an answer\n";
        break;
      case Q::Answer::kNone:
        out << "no answer yet\n";
        break;
    }
  } else {
    out << "  no right of first refusal held: straight to the market\n";
  }
  switch (q.status) {
    case Q::Status::kAwaitingAnswer:
      out << "  outcome: awaiting the holder's answer\n";
      break;
    case Q::Status::kUnavailable:
      out << "  outcome: no provider could supply it; the class may ask again after unmet_after\n";
      break;
    default:
      out << "  outcome: awarded to " << row.provider << " (" << offers[q.offer].id << ", "
          << (q.via_rofr ? "via the right of first refusal" : "on the market")
          << "): " << q.awarded_gpus << " GPUs at $" << FormatMoney(q.price_per_gpu_hour)
          << "/GPU-h, arriving " << FormatTimeFull(q.arrives) << ", held until "
          << FormatTimeFull(q.ends) << "; billed in the run " << FormatMoneyShort(row.spend)
          << "\n";
      break;
  }
}

}  // namespace

Status Explain(const world::World& world, const sim::Options& options, const std::string& id,
               std::optional<Time> at, std::ostream& out) {
  const world::JobIndex job = world.FindJob(id);
  const world::ServiceIndex service = world.FindService(id);
  if (job == world::kNone && service == world::kNone && id.rfind("req-", 0) == 0) {
    sim::Options opts = options;
    opts.stop_at = at;
    opts.progress = nullptr;
    sim::Simulator sim(world, opts);
    std::ostringstream timeline;
    sim::EventLogWriter log(sim.scheduler(), world, timeline);
    sim.AddObserver(&log);
    sim.Run();
    const int32_t r = RequestIndex(id, sim.scheduler().requests().size());
    if (r < 0) {
      return NotFound("no capacity request \"" + id + "\" in scenario " + world.name + " by " +
                      FormatTimeFull(sim.end()) + " (" +
                      std::to_string(sim.scheduler().requests().size()) + " raised)");
    }
    WriteRequest(world, sim.scheduler(), r, out);
    out << "\nTimeline\n";
    std::istringstream in(timeline.str());
    const std::string tag = " " + id + " ";
    for (std::string line; std::getline(in, line);) {
      if ((line + " ").find(tag) != std::string::npos) out << "  " << line << "\n";
    }
    return Status::Ok();
  }
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
  sim::EventLogWriter log(sim.scheduler(), world, timeline);
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
    // Rebalance moves, the latest last.
    std::vector<const scheduler::Scheduler::Move*> moves;
    for (const scheduler::Scheduler::Move& m : sched.moves()) {
      if (m.service == service) moves.push_back(&m);
    }
    if (!moves.empty()) {
      const scheduler::RebalanceOptions& ro = sched.options().rebalance;
      out << "\nMoves to cheaper capacity (" << moves.size() << ")\n";
      constexpr size_t kShownMoves = 20;
      const size_t first = moves.size() > kShownMoves ? moves.size() - kShownMoves : 0;
      if (first > 0) out << "  ... " << first << " earlier moves\n";
      // Moves alike (same instant, pools, prices and saving) on one line.
      for (size_t i = first; i < moves.size();) {
        const scheduler::Scheduler::Move& m = *moves[i];
        size_t n = 1;
        while (i + n < moves.size() && moves[i + n]->at == m.at && moves[i + n]->from == m.from &&
               moves[i + n]->to == m.to && moves[i + n]->price_from == m.price_from &&
               moves[i + n]->price_to == m.price_to && moves[i + n]->saving == m.saving) {
          ++n;
        }
        out << "  moved " << (n == 1 ? "a replica" : std::to_string(n) + " replicas") << " from "
            << world.pools[m.from].id << " to " << world.pools[m.to].id << " at "
            << FormatTimeFull(m.at) << " because the marginal cost falls from $"
            << FormatMoney(m.price_from) << " to $" << FormatMoney(m.price_to) << " per GPU-hour ("
            << m.gpus_from << " GPUs a replica): " << (n == 1 ? "it" : "each") << " saves $"
            << FormatMoney(m.saving) << " over " << FormatDuration(ro.horizon) << ", at least the $"
            << FormatMoney(ro.min_saving)
            << " a move must save; each new replica started before the old one stopped\n";
        i += n;
      }
    }
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
      case scheduler::JobStatus::kCancelled:
        out << "cancelled at " << FormatTimeFull(st.end);
        break;
    }
    out << " (" << st.starts << " start(s), " << st.preemptions << " preemption(s), "
        << st.interruptions << " interruption(s), " << WorkHours(st.lost_work)
        << " reference GPU-hours lost)\n";
    if (st.status == scheduler::JobStatus::kQueued) {
      const std::string quota = sched.QuotaHold(job);
      if (!quota.empty()) out << "Held by its quota: " << quota << "\n";
    }
  }

  if (!is_service) {
    // Capacity requests its class raised while it waited.
    const int32_t shape = sched.JobShape(job);
    const world::Job& j = world.jobs[job];
    const scheduler::JobState& st = sched.jobs()[job];
    const Time waited_until = st.first_start != Time::Min() ? st.first_start : when;
    bool any = false;
    for (size_t i = 0; i < sched.requests().size(); ++i) {
      const scheduler::CapacityRequest& q = sched.requests()[i];
      if (q.shape != shape || q.largest_gang < j.gpus || q.gang_bucket / 2 >= j.gpus ||
          q.raised < j.arrival || q.raised > waited_until) {
        continue;
      }
      if (!any) out << "\nCapacity requests for its class while it waited\n";
      any = true;
      const RequestRow row = RequestRowOf(world, sched, static_cast<int32_t>(i));
      out << "  " << row.id << " raised " << FormatTimeFull(q.raised) << ": " << q.gpus << " GPUs";
      if (!row.holder.empty()) out << "; offered first to " << row.holder << ", " << row.answer;
      if (!row.provider.empty()) {
        out << "; awarded to " << row.provider << " via " << (row.via_rofr ? "rofr" : "market")
            << ", arriving " << FormatTimeFull(row.arrives);
      } else {
        out << "; " << row.outcome;
      }
      out << "  (polycloud explain SCENARIO " << row.id << ")\n";
    }
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

Status ExplainNow(scheduler::Scheduler& sched, const std::string& id, Time now, std::ostream& out) {
  const world::World& world = sched.world();
  const world::JobIndex job = sched.FindJob(id);
  const world::ServiceIndex service = job == world::kNone ? sched.FindService(id) : world::kNone;
  if (job == world::kNone && service == world::kNone) {
    return NotFound("no job or service \"" + id + "\"");
  }
  const bool is_service = service != world::kNone;
  out << "At " << FormatTimeFull(now) << ": ";
  if (is_service) {
    const scheduler::ServiceState& st = sched.services()[service];
    out << "service " << id << ", " << st.replicas.size() << " replica(s), " << st.capacity
        << " of " << st.demand << " tokens/s" << (st.short_now ? " (short)" : "") << "\n";
  } else {
    const scheduler::JobState& st = sched.jobs()[job];
    out << "job " << id << " ";
    switch (st.status) {
      case scheduler::JobStatus::kNotArrived:
        out << "has not arrived";
        break;
      case scheduler::JobStatus::kQueued:
        out << "is queued since " << FormatTimeFull(st.queued_since);
        if (st.reserved_pool != world::kNone)
          out << ", holding " << world.pools[st.reserved_pool].id;
        break;
      case scheduler::JobStatus::kRunning:
        out << "is running in " << world.pools[st.last_pool].id;
        if (st.alloc >= 0 && sched.fleet().has_nodes()) {
          // Where on the pool's nodes: the node(s) and, for a share, its GPU.
          const int32_t handle = sched.allocations()[st.alloc].placed;
          const std::vector<int32_t>& on = sched.fleet().NodesOf(handle);
          const placement::NodeShape* shape = sched.fleet().ShapeOf(handle);
          if (on.size() == 1) {
            out << " on node " << on.front();
            if (shape != nullptr && shape->share()) {
              out << ", GPU " << sched.fleet().ShareGpuOf(handle) << " (" << shape->milli
                  << " milli of it)";
            }
          } else if (!on.empty()) {
            out << " on " << on.size() << " whole nodes";
          }
        }
        break;
      case scheduler::JobStatus::kDone:
        out << "finished at " << FormatTimeFull(st.end);
        break;
      case scheduler::JobStatus::kCancelled:
        out << "was cancelled at " << FormatTimeFull(st.end);
        break;
    }
    out << " (" << st.starts << " start(s), " << st.preemptions << " preemption(s), "
        << st.interruptions << " interruption(s))\n";
    if (st.status == scheduler::JobStatus::kQueued) {
      const std::string quota = sched.QuotaHold(job);
      if (!quota.empty()) out << "Held by its quota: " << quota << "\n";
    }
  }
  if (const auto* d = sched.LastDecision(is_service, is_service ? service : job)) {
    out << "Last start: " << FormatTimeFull(d->at) << " in " << world.pools[d->pool].id << ", "
        << d->gpus << " GPUs, score " << Hundredths(d->total_score)
        << (d->preempted ? ", by preempting lower-priority work" : "") << "\n";
  }
  out << "\nIf it were placed now (" << (is_service ? "one more replica" : "its gang") << "):\n";
  const auto kind = is_service ? world::WorkloadKind::kService : sched.job_spec(job).kind;
  scheduler::Scheduler::WatchedDecision now_decision =
      sched.ExplainNow(kind, is_service ? service : job, now);
  now_decision.explanation.at = now;
  WriteDecision(world, now_decision, out);
  return Status::Ok();
}

}  // namespace polycloud::report
