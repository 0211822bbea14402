// Placement requests and decisions: what the scheduler asks the placer for a
// job or a replica, the explanations it keeps for a watched workload, the
// decision log, and explain on demand.
#include <algorithm>
#include <string>

#include "polycloud/scheduler/scheduler.h"

namespace polycloud::scheduler {

using world::JobIndex;
using world::PoolIndex;
using world::ServiceIndex;

void Scheduler::Watch(world::WorkloadKind kind, int32_t index) {
  watch_service_ = kind == world::WorkloadKind::kService;
  watch_index_ = index;
}

placement::Context Scheduler::MakeContext(Time now) const {
  placement::Context ctx{world_, fleet_,
                         rules_, now,
                         this,   options_.policy == Policy::kPriority ? &reserved_ : nullptr};
  ctx.ledger = &ledger_;
  ctx.cost_model = options_.cost_model;
  return ctx;
}

placement::Request Scheduler::JobRequest(JobIndex j) const {
  placement::Request r = placement::JobRequest(job_spec(j));
  r.find_best_blocked = options_.policy == Policy::kPriority;  // the only policy that holds
  return r;
}

placement::Request Scheduler::ReplicaRequest(ServiceIndex s) const {
  const world::Service& svc = service_spec(s);
  placement::Request r;
  r.kind = world::WorkloadKind::kService;
  r.id = svc.id;
  r.workload_class = svc.workload_class;
  r.model_family = svc.model_family;
  r.gpus = svc.gpus_per_replica;
  r.accelerators = &svc.accelerators;
  r.priority = svc.priority;
  r.replicas_per_provider = &services_[s].per_provider;
  r.min_providers = svc.min_providers;
  r.find_best_blocked = false;  // a replica that does not fit holds nothing
  return r;
}

placement::Decision Scheduler::Decide(const placement::Request& req, Time now, bool watched) {
  ++attempts_;
  placement::Context ctx = MakeContext(now);
  if (!watched) return placer_.Place(ctx, req, nullptr);
  WatchedDecision wd;
  wd.explanation.subject = req.kind == world::WorkloadKind::kService
                               ? "service " + std::string(req.id) + " replica"
                               : "job " + std::string(req.id);
  placement::Decision d = placer_.Place(ctx, req, &wd.explanation);
  wd.placed = d.pool != world::kNone;
  wd.last_at = now;
  // Fold a blocked attempt into the previous one when nothing about it changed.
  if (!wd.placed && !watched_.empty() && !watched_.back().placed) {
    WatchedDecision& prev = watched_.back();
    bool same = prev.explanation.candidates.size() == wd.explanation.candidates.size();
    // Same filter rejecting each pool: the numbers in the reasons (free GPUs,
    // headroom) may differ, the situation does not.
    for (size_t i = 0; same && i < prev.explanation.candidates.size(); ++i) {
      const char* a = prev.explanation.candidates[i].rejected_by;
      const char* b = wd.explanation.candidates[i].rejected_by;
      same = (a == nullptr) == (b == nullptr) && (a == nullptr || std::string_view(a) == b);
    }
    if (same) {
      const Time first = prev.explanation.at;
      prev.explanation = std::move(wd.explanation);  // the latest figures
      prev.explanation.at = first;
      prev.last_at = now;
      ++prev.repeats;
      return d;
    }
  }
  watched_.push_back(std::move(wd));
  return d;
}

Scheduler::WatchedDecision Scheduler::ExplainNow(world::WorkloadKind kind, int32_t index,
                                                 Time now) {
  const bool service = kind == world::WorkloadKind::kService;
  POLYCLOUD_CHECK(index >= 0 && index < (service ? service_count() : job_count()));
  const placement::Request req = service ? ReplicaRequest(index) : JobRequest(index);
  WatchedDecision wd;
  wd.explanation.subject =
      service ? "service " + service_spec(index).id + " replica" : "job " + job_spec(index).id;
  // SRTF's preemption oracle reads the job being placed.
  if (!service && options_.policy == Policy::kSrtf) {
    placing_remaining_ = RemainingSeconds(index, now);
    placing_now_ = now;
  }
  const placement::Decision d = placer_.Place(MakeContext(now), req, &wd.explanation);
  placing_remaining_ = -1;
  wd.placed = d.pool != world::kNone;
  wd.last_at = now;
  return wd;
}

void Scheduler::Record(bool service, int32_t index, const placement::Decision& d, Time now) {
  if (!options_.record_decisions) return;
  const DecisionRecord record{now,           service,           index, d.pool, d.alloc_gpus,
                              d.total_score, d.needs_preemption};
  auto& last = service ? last_service_decision_ : last_job_decision_;
  if (static_cast<size_t>(index) >= last.size()) last.resize(index + 1);
  last[index] = record;
  ++decisions_recorded_;
  decisions_.push_back(record);
  while (decisions_.size() > std::max<size_t>(options_.decision_log_limit, 1)) {
    decisions_.pop_front();
  }
}

const Scheduler::DecisionRecord* Scheduler::LastDecision(bool service, int32_t index) const {
  const auto& last = service ? last_service_decision_ : last_job_decision_;
  if (index < 0 || static_cast<size_t>(index) >= last.size() || last[index].index == world::kNone) {
    return nullptr;
  }
  return &last[index];
}

std::string Scheduler::DescribeNodePick(PoolIndex pool) const {
  const placement::NodePick& pick = fleet_.last_pick();
  const placement::PoolNodes& nodes = fleet_.nodes(pool);
  const std::string of =
      " of " + std::to_string(nodes.node_count()) + " in pool " + world_.pools[pool].id;
  if (pick.nodes.size() > 1) {
    std::string list;
    for (size_t i = 0; i < pick.nodes.size(); ++i) {
      if (i > 0) list += ", ";
      if (i == 8 && pick.nodes.size() > 10) {
        list += "… (" + std::to_string(pick.nodes.size()) + " in all)";
        break;
      }
      list += std::to_string(pick.nodes[i]);
    }
    return "nodes " + list + of + ": a gang larger than a node takes wholly free nodes (" +
           std::to_string(pick.candidates) + " were free)";
  }
  std::string why;
  switch (fleet_.node_policy()) {
    case placement::NodePolicy::kPooled:
    case placement::NodePolicy::kBestFit:
      why = "best fit, the fullest node with room";
      break;
    case placement::NodePolicy::kSpread:
      why = "spread, the emptiest node";
      break;
    case placement::NodePolicy::kRandom:
      why = "random, drawn among the nodes with room";
      break;
    case placement::NodePolicy::kFragmentation: {
      // Expected GPUs the recent requests could not use on this node, before and after.
      auto gpus = [&](int64_t sum) {
        const int64_t total = pick.mix_total * (pick.frag_milli ? 1000 : 1);
        const int64_t h = total > 0 ? (sum * 100 + total / 2) / total : 0;
        return std::to_string(h / 100) + "." + (h % 100 < 10 ? "0" : "") + std::to_string(h % 100);
      };
      why = "fragmentation, the node whose unusable GPUs against the last " +
            std::to_string(pick.mix_total) + " requests grow least (" + gpus(pick.frag_before) +
            " → " + gpus(pick.frag_after) + " GPUs)";
      break;
    }
  }
  if (pick.gpu >= 0) {
    return "node " + std::to_string(pick.nodes.front()) + " GPU " + std::to_string(pick.gpu) + of +
           ": " + why + "; the GPU had " + std::to_string(pick.share_free_before) +
           " milli free, the node " + std::to_string(pick.free_before) + " of " +
           std::to_string(pick.node_gpus) + " GPUs wholly free; " +
           std::to_string(pick.candidates) + " GPUs and nodes had room";
  }
  return "node " + std::to_string(pick.nodes.front()) + of + ": " + why + "; it had " +
         std::to_string(pick.free_before) + " of " + std::to_string(pick.node_gpus) +
         " GPUs free, " + std::to_string(pick.candidates) + " nodes had room";
}

}  // namespace polycloud::scheduler
