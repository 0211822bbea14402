#include "polycloud/scheduler/command_log.h"

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>
#include <unordered_map>

#include "polycloud/base/parse.h"
#include "polycloud/io/scenario.h"

namespace polycloud::scheduler {
namespace {

using nlohmann::json;

json JobToJson(const world::World& w, const world::Job& j) {
  json accelerators = json::array();
  for (world::AcceleratorIndex a : j.accelerators) accelerators.push_back(w.accelerators[a].name);
  json out{{"id", j.id},
           {"kind", world::WorkloadKindName(j.kind)},
           {"class", j.workload_class},
           {"model_family", j.model_family},
           {"gpus", j.gpus},
           {"work_gpu_seconds", j.work_gpu_seconds},
           {"accelerators", std::move(accelerators)},
           {"checkpoint_seconds", j.checkpoint_interval.seconds()},
           {"priority", j.priority},
           {"preemptible", j.preemptible}};
  // A share, CPU and memory only when asked for: older logs read the same.
  if (j.gpu_milli > 0) out["gpu_milli"] = j.gpu_milli;
  if (j.cpu_milli > 0) out["cpu_milli"] = j.cpu_milli;
  if (j.memory_mib > 0) out["memory_mib"] = j.memory_mib;
  return out;
}

json ServiceToJson(const world::World& w, const world::Service& s) {
  json accelerators = json::array();
  for (world::AcceleratorIndex a : s.accelerators) accelerators.push_back(w.accelerators[a].name);
  return json{{"id", s.id},
              {"model", s.model},
              {"model_family", s.model_family},
              {"class", s.workload_class},
              {"gpus_per_replica", s.gpus_per_replica},
              {"replica_tokens_per_s", s.replica_tokens_per_s},
              {"accelerators", std::move(accelerators)},
              {"min_providers", s.min_providers},
              {"priority", s.priority}};
}

// Reads one JSON object strictly: every key must be consumed (Done), every
// value of the expected type; the first problem is kept with its pointer.
class ObjectReader {
 public:
  ObjectReader(const json& object, std::string pointer, std::string* error)
      : object_(object), pointer_(std::move(pointer)), error_(error) {
    if (!object_.is_object()) Fail(pointer_, "an object", object_);
  }
  bool ok() const { return error_->empty(); }

  const json* Get(const char* key, bool required = true) {
    if (!ok()) return nullptr;
    seen_.insert(key);
    auto it = object_.find(key);
    if (it == object_.end()) {
      if (required) Fail(pointer_ + "/" + key, "a value", json());
      return nullptr;
    }
    return &*it;
  }
  std::string String(const char* key, bool required = true) {
    const json* v = Get(key, required);
    if (v == nullptr) return {};
    if (!v->is_string()) return Fail(pointer_ + "/" + key, "a string", *v), std::string();
    return v->get<std::string>();
  }
  int64_t Int(const char* key, int64_t min, int64_t max, bool required = true) {
    const json* v = Get(key, required);
    if (v == nullptr) return min < 0 && max > 0 ? 0 : min;
    if (!v->is_number_integer()) return Fail(pointer_ + "/" + key, "an integer", *v), 0;
    const int64_t x =
        v->is_number_unsigned() && v->get<uint64_t>() > INT64_MAX ? INT64_MAX : v->get<int64_t>();
    if (x < min || x > max) {
      Fail(pointer_ + "/" + key,
           "an integer from " + std::to_string(min) + " to " + std::to_string(max), *v);
      return 0;
    }
    return x;
  }
  bool Bool(const char* key) {
    const json* v = Get(key);
    if (v == nullptr) return false;
    if (!v->is_boolean()) return Fail(pointer_ + "/" + key, "true or false", *v), false;
    return v->get<bool>();
  }
  Time TimeAt(const char* key) {
    const std::string text = String(key);
    if (!ok()) return Time();
    Result<Time> t = ParseTime(text);
    if (!t.ok()) return Fail(pointer_ + "/" + key, "a UTC time", json(text)), Time();
    return *t;
  }
  std::vector<world::AcceleratorIndex> Accelerators(const world::World& w) {
    std::vector<world::AcceleratorIndex> out;
    const json* v = Get("accelerators");
    if (v == nullptr) return out;
    if (!v->is_array()) return Fail(pointer_ + "/accelerators", "an array", *v), out;
    for (size_t i = 0; i < v->size(); ++i) {
      const json& a = (*v)[i];
      const std::string where = pointer_ + "/accelerators/" + std::to_string(i);
      if (!a.is_string()) return Fail(where, "an accelerator name", a), out;
      const world::AcceleratorIndex x = w.FindAccelerator(a.get<std::string>());
      if (x == world::kNone) return Fail(where, "an accelerator of the scenario", a), out;
      out.push_back(x);
    }
    return out;
  }
  // Fails on any key not read.
  void Done() {
    if (!ok()) return;
    for (auto it = object_.begin(); it != object_.end(); ++it) {
      if (seen_.count(it.key()) == 0) {
        *error_ = pointer_ + "/" + it.key() + ": unknown key";
        return;
      }
    }
  }
  void Fail(const std::string& where, const std::string& expected, const json& found) {
    if (!ok()) return;
    std::string text =
        found.is_null() ? "nothing" : found.dump(-1, ' ', false, json::error_handler_t::replace);
    if (text.size() > 40) text = text.substr(0, 40) + "...";
    *error_ = where + ": expected " + expected + ", found " + text;
  }

 private:
  const json& object_;
  std::string pointer_;
  std::string* error_;
  std::set<std::string, std::less<>> seen_;
};

}  // namespace

std::string CommandToJson(const Scheduler& scheduler, Time now, const Command& command) {
  const world::World& w = scheduler.world();
  json line{{"at", FormatTimeFull(now)}, {"command", CommandName(command)}};
  std::visit(
      [&](const auto& c) {
        using C = std::decay_t<decltype(c)>;
        auto job = [&](JobId j) { return scheduler.job_spec(j.value).id; };
        auto service = [&](ServiceId s) { return scheduler.service_spec(s.value).id; };
        if constexpr (std::is_same_v<C, cmd::JobArrived> || std::is_same_v<C, cmd::CancelJob>) {
          line["job"] = job(c.job);
        } else if constexpr (std::is_same_v<C, cmd::SubmitJob>) {
          line["job"] = JobToJson(w, c.job);
          if (!c.tenant.empty()) line["tenant"] = c.tenant;
          if (!c.client_key.empty()) line["idempotency_key"] = c.client_key;
        } else if constexpr (std::is_same_v<C, cmd::SubmitService>) {
          line["service"] = ServiceToJson(w, c.service);
          line["demand_tokens_per_s"] = c.initial_demand_tokens_per_s;
        } else if constexpr (std::is_same_v<C, cmd::CancelService>) {
          line["service"] = service(c.service);
        } else if constexpr (std::is_same_v<C, cmd::SetDemand>) {
          line["service"] = service(c.service);
          line["tokens_per_s"] = c.tokens_per_s;
        } else if constexpr (std::is_same_v<C, cmd::SetPoolCapacity>) {
          line["pool"] = w.pools[c.pool].id;
          line["installed_gpus"] = c.installed_gpus;
        } else if constexpr (std::is_same_v<C, cmd::SetSitePower>) {
          line["site"] = w.sites[c.site].id;
          line["watts"] = c.power.watts();
        } else if constexpr (std::is_same_v<C, cmd::FaultStarted> ||
                             std::is_same_v<C, cmd::FaultEnded>) {
          line["fault"] = w.faults[c.fault].id;
        } else if constexpr (std::is_same_v<C, cmd::JobStarted> ||
                             std::is_same_v<C, cmd::JobCompleted> ||
                             std::is_same_v<C, cmd::JobFailed>) {
          line["job"] = job(c.job);
          line["run"] = c.run.value;
          line["time"] = FormatTimeFull(c.at);
        } else if constexpr (std::is_same_v<C, cmd::DispatchFailed>) {
          line["job"] = job(c.job);
          line["run"] = c.run.value;
        } else if constexpr (std::is_same_v<C, cmd::RofrAnswered>) {
          line["request"] = c.request;
          line["offer"] = c.offer >= 0 ? json(w.procurement.offers[c.offer].id) : json();
          line["reason"] = c.reason;
        } else if constexpr (std::is_same_v<C, cmd::CapacityDelivered>) {
          line["request"] = c.request;
        } else if constexpr (std::is_same_v<C, cmd::Wake>) {
          line["kind"] = WakeKindName(c.kind);
          line["index"] = c.index;
        } else if constexpr (std::is_same_v<C, cmd::AmendContract>) {
          line["contract"] = w.contracts[c.contract].id;
          line["terms"] = json::parse(io::ContractTermsToJson(w, c.terms));
        }
      },
      command);
  // Ids come from validated input, but never let a byte end the log.
  return line.dump(-1, ' ', false, json::error_handler_t::replace);
}

void JsonCommandLog::Append(Time now, const Command& command) {
  out_ << CommandToJson(scheduler_, now, command) << '\n';
}

Result<std::vector<LoggedCommand>> ParseCommandLog(std::string_view text, const world::World& world,
                                                   const std::string& name) {
  std::vector<LoggedCommand> out;
  // The registry as a replay builds it: the world's, then submissions.
  std::unordered_map<std::string, int32_t> jobs, services;
  for (size_t j = 0; j < world.jobs.size(); ++j) jobs.emplace(world.jobs[j].id, j);
  for (size_t s = 0; s < world.services.size(); ++s) services.emplace(world.services[s].id, s);
  int32_t job_count = static_cast<int32_t>(world.jobs.size());
  int32_t service_count = static_cast<int32_t>(world.services.size());
  Time last = Time::Min();
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.empty()) continue;
    const std::string at = name + ":" + std::to_string(line_no) + ":";
    json doc;
    try {
      doc = json::parse(line.begin(), line.end());
    } catch (const json::parse_error& e) {
      // nlohmann's text is "[json.exception...] parse error at line 1, column N: why".
      std::string why = e.what();
      const size_t column = why.find("column ");
      const size_t colon = column == std::string::npos ? column : why.find(": ", column);
      if (colon != std::string::npos) why = why.substr(colon + 2);
      return InvalidInput(at + std::to_string(e.byte) + ": not valid JSON: " + why.substr(0, 200));
    } catch (const json::exception& e) {
      // A number too large for a double ("1e999"): nlohmann throws
      // out_of_range, not parse_error, and carries no position.
      std::string why = e.what();
      const size_t tag = why.find("] ");
      if (tag != std::string::npos) why = why.substr(tag + 2);
      return InvalidInput(at + " not valid JSON: " + why.substr(0, 200));
    }
    std::string error;
    ObjectReader r(doc, "", &error);
    const Time now = r.TimeAt("at");
    const std::string kind = r.String("command");
    auto job_ref = [&](ObjectReader& rd) -> JobId {
      const std::string id = rd.String("job");
      if (!rd.ok()) return {};
      auto it = jobs.find(id);
      if (it == jobs.end()) {
        rd.Fail("/job", "the id of a job of the scenario or submitted earlier", json(id));
        return {};
      }
      return JobId{it->second};
    };
    auto service_ref = [&](ObjectReader& rd) -> ServiceId {
      const std::string id = rd.String("service");
      if (!rd.ok()) return {};
      auto it = services.find(id);
      if (it == services.end()) {
        rd.Fail("/service", "the id of a service of the scenario or submitted earlier", json(id));
        return {};
      }
      return ServiceId{it->second};
    };
    auto named = [&](const char* key, int32_t index, const char* what) {
      if (index == world::kNone && r.ok()) {
        r.Fail(std::string("/") + key, std::string("the id of a ") + what + " of the scenario",
               *r.Get(key));
      }
      return index;
    };
    Command command = cmd::Place{};
    if (!r.ok()) {
      // reported below
    } else if (kind == "job-arrived") {
      command = cmd::JobArrived{job_ref(r)};
    } else if (kind == "cancel-job") {
      command = cmd::CancelJob{job_ref(r)};
    } else if (kind == "submit-job") {
      world::Job j;
      const json* spec = r.Get("job");
      if (spec != nullptr) {
        ObjectReader jr(*spec, "/job", &error);
        j.id = jr.String("id");
        const std::string k = jr.String("kind");
        if (k == "training") {
          j.kind = world::WorkloadKind::kTraining;
        } else if (k == "batch") {
          j.kind = world::WorkloadKind::kBatch;
        } else if (jr.ok()) {
          jr.Fail("/job/kind", "training or batch", json(k));
        }
        j.workload_class = jr.String("class");
        j.model_family = jr.String("model_family");
        j.gpus = jr.Int("gpus", 1, int64_t{1} << 31);
        j.work_gpu_seconds = jr.Int("work_gpu_seconds", 1, INT64_MAX / 1000);
        j.accelerators = jr.Accelerators(world);
        j.checkpoint_interval = Duration::Seconds(jr.Int("checkpoint_seconds", 0, INT64_MAX / 4));
        j.priority = static_cast<int32_t>(jr.Int("priority", INT32_MIN, INT32_MAX));
        j.preemptible = jr.Bool("preemptible");
        j.gpu_milli = jr.Int("gpu_milli", 0, 999, /*required=*/false);
        j.cpu_milli = jr.Int("cpu_milli", 0, int64_t{1} << 40, /*required=*/false);
        j.memory_mib = jr.Int("memory_mib", 0, int64_t{1} << 40, /*required=*/false);
        if (j.gpu_milli > 0 && j.gpus != 1 && jr.ok()) {
          jr.Fail("/job/gpu_milli", "a share of one GPU (gpus 1)", json(j.gpu_milli));
        }
        jr.Done();
        if (jr.ok() && !jobs.emplace(j.id, job_count).second) {
          jr.Fail("/job/id", "an id not yet in use", json(j.id));
        }
        ++job_count;
      }
      j.arrival = now;
      std::string tenant = r.String("tenant", /*required=*/false);
      std::string key = r.String("idempotency_key", /*required=*/false);
      command = cmd::SubmitJob{std::move(j), std::move(tenant), std::move(key)};
    } else if (kind == "submit-service") {
      world::Service s;
      const json* spec = r.Get("service");
      const int64_t demand = r.Int("demand_tokens_per_s", 0, INT64_MAX / 4);
      if (spec != nullptr && r.ok()) {
        ObjectReader sr(*spec, "/service", &error);
        s.id = sr.String("id");
        s.model = sr.String("model");
        s.model_family = sr.String("model_family");
        s.workload_class = sr.String("class");
        s.gpus_per_replica = sr.Int("gpus_per_replica", 1, int64_t{1} << 31);
        s.replica_tokens_per_s = sr.Int("replica_tokens_per_s", 1, INT64_MAX / 1000);
        s.accelerators = sr.Accelerators(world);
        s.min_providers = static_cast<int32_t>(sr.Int("min_providers", 0, 1 << 20));
        s.priority = static_cast<int32_t>(sr.Int("priority", INT32_MIN, INT32_MAX));
        sr.Done();
        if (sr.ok() && !services.emplace(s.id, service_count).second) {
          sr.Fail("/service/id", "an id not yet in use", json(s.id));
        }
        ++service_count;
      }
      command = cmd::SubmitService{std::move(s), demand};
    } else if (kind == "cancel-service") {
      command = cmd::CancelService{service_ref(r)};
    } else if (kind == "set-demand") {
      const ServiceId s = service_ref(r);
      command = cmd::SetDemand{s, r.Int("tokens_per_s", 0, INT64_MAX / 4)};
    } else if (kind == "set-pool-capacity") {
      const world::PoolIndex p = named("pool", world.FindPool(r.String("pool")), "pool");
      command = cmd::SetPoolCapacity{p, r.Int("installed_gpus", 0, int64_t{1} << 40)};
    } else if (kind == "set-site-power") {
      const world::SiteIndex s = named("site", world.FindSite(r.String("site")), "site");
      command = cmd::SetSitePower{s, Power(r.Int("watts", 0, INT64_MAX / 4))};
    } else if (kind == "fault-started" || kind == "fault-ended") {
      const std::string id = r.String("fault");
      world::FaultIndex f = world::kNone;
      for (size_t i = 0; i < world.faults.size(); ++i) {
        if (world.faults[i].id == id) f = static_cast<world::FaultIndex>(i);
      }
      named("fault", f, "fault");
      if (kind == "fault-started") {
        command = cmd::FaultStarted{f};
      } else {
        command = cmd::FaultEnded{f};
      }
    } else if (kind == "contracts-changed") {
      command = cmd::ContractsChanged{};
    } else if (kind == "job-started" || kind == "job-completed" || kind == "job-failed") {
      const JobId j = job_ref(r);
      const RunId run{static_cast<uint32_t>(r.Int("run", 0, UINT32_MAX))};
      const Time t = r.TimeAt("time");
      if (kind == "job-started") {
        command = cmd::JobStarted{j, run, t};
      } else if (kind == "job-completed") {
        command = cmd::JobCompleted{j, run, t};
      } else {
        command = cmd::JobFailed{j, run, t};
      }
    } else if (kind == "dispatch-failed") {
      const JobId j = job_ref(r);
      command = cmd::DispatchFailed{j, RunId{static_cast<uint32_t>(r.Int("run", 0, UINT32_MAX))}};
    } else if (kind == "wake") {
      WakeKind w = WakeKind::kProcurementReview;
      const std::string k = r.String("kind");
      if (r.ok() && !ParseWakeKind(k, &w)) {
        r.Fail(
            "/kind",
            "procurement-review, rofr-window-closes, capacity-ends, contract-terms or spend-month",
            json(k));
      }
      command = cmd::Wake{w, static_cast<int32_t>(r.Int("index", 0, INT32_MAX))};
    } else if (kind == "rofr-answered") {
      cmd::RofrAnswered a;
      a.request = static_cast<int32_t>(r.Int("request", 0, INT32_MAX));
      const json* offer = r.Get("offer");
      if (offer != nullptr && !offer->is_null()) {
        const std::string id = offer->is_string() ? offer->get<std::string>() : std::string();
        for (size_t i = 0; i < world.procurement.offers.size(); ++i) {
          if (world.procurement.offers[i].id == id) a.offer = static_cast<int32_t>(i);
        }
        if (a.offer < 0) r.Fail("/offer", "null or the id of an offer of the scenario", *offer);
      }
      a.reason = r.String("reason");
      command = std::move(a);
    } else if (kind == "capacity-delivered") {
      command = cmd::CapacityDelivered{static_cast<int32_t>(r.Int("request", 0, INT32_MAX))};
    } else if (kind == "amend-contract") {
      const std::string id = r.String("contract");
      world::ContractIndex c = world::kNone;
      for (size_t i = 0; i < world.contracts.size(); ++i) {
        if (world.contracts[i].id == id) c = static_cast<world::ContractIndex>(i);
      }
      named("contract", c, "contract");
      const json* terms = r.Get("terms");
      cmd::AmendContract a{c, {}};
      if (terms != nullptr && r.ok()) {
        if (!terms->is_object()) {
          r.Fail("/terms", "an object of contract keys (docs/scenario.md)", *terms);
        } else {
          // The terms are read by the scenario loader's own contract reader,
          // so a log accepts exactly what a scenario would.
          Result<world::Contract> parsed = io::ParseContractTerms(terms->dump(), world, "terms");
          if (parsed.ok()) {
            a.terms = std::move(*parsed);
          } else {
            // The loader names places in the re-serialised terms ("terms:1:73:");
            // the log's reader names the key by pointer instead.
            std::string why = parsed.status().message();
            const size_t newline = why.find('\n');
            if (newline != std::string::npos) why.resize(newline);
            if (why.rfind("terms:", 0) == 0) {
              const size_t colon = why.find(": ");
              if (colon != std::string::npos) why = why.substr(colon + 2);
            }
            error = "/terms: " + why;
          }
        }
      }
      command = std::move(a);
    } else if (kind == "place") {
      command = cmd::Place{};
    } else {
      r.Fail("/command", "a command name (docs/commands.md)", json(kind));
    }
    r.Done();
    if (error.empty() && now < last) {
      error = "/at: expected an instant at or after the previous line's (" + FormatTimeFull(last) +
              "), found " + FormatTimeFull(now);
    }
    if (!error.empty()) return InvalidInput(at + "1: " + error);
    last = now;
    out.push_back({now, std::move(command)});
  }
  return out;
}

}  // namespace polycloud::scheduler
