#include "polycloud/io/scenario.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "overlay_internal.h"
#include "polycloud/base/parse.h"
#include "polycloud/base/portable_math.h"
#include "polycloud/base/rng.h"
#include "polycloud/base/text.h"
#include "polycloud/world/magnitudes.h"
#include "polycloud/world/power.h"

namespace polycloud::io {

std::string Diagnostic::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line) + ":" + std::to_string(column);
  } else if (column > 0) {  // a command-line argument (--set): a column of its text
    out += ", column " + std::to_string(column);
  }
  return out + ": " + message;
}

namespace {

using world::World;

const char* NodeTypeName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "nothing (null)";
    default:
      return "nothing";
  }
}

std::string Found(const YAML::Node& n) {
  if (n.IsScalar()) return QuoteExcerpt(n.Scalar());
  return NodeTypeName(n);
}

// Collects diagnostics for one scenario and its overrides. Each input
// occupies its own range of lines in one line space (the scenario from line
// 0, then each --with fragment, then one line per --set/--unset), so a mark
// says which input a node came from and where.
class Diags {
 public:
  Diags(std::string file, std::vector<Diagnostic>* out) : file_(std::move(file)), out_(out) {
    sources_.push_back({0, file_, false});
  }

  // The input starting at `first_line`; an argument (--set) has no lines and
  // its positions are columns of the argument's text.
  void AddSource(int first_line, std::string name, bool argument) {
    sources_.push_back({first_line, std::move(name), argument});
  }

  void Add(const YAML::Mark& mark, std::string message) {
    if (out_->size() >= kMaxDiagnostics) {
      truncated_ = true;
      return;
    }
    Diagnostic d;
    d.file = file_;
    if (mark.line >= 0) {
      const Source& s = SourceOf(mark);
      d.file = s.name;
      d.line = s.argument ? 0 : mark.line - s.first_line + 1;
      d.column = mark.column + 1;
    }
    d.message = std::move(message);
    out_->push_back(std::move(d));
  }
  void Add(const YAML::Node& n, std::string message) { Add(n.Mark(), std::move(message)); }
  bool any() const { return !out_->empty(); }
  const std::string& file() const { return file_; }
  bool truncated() const { return truncated_; }

  // "FILE:LINE:COLUMN" (or "--set #N `...`, column C") of a mark.
  std::string Where(const YAML::Mark& mark) const {
    if (mark.line < 0) return file_;
    const Source& s = SourceOf(mark);
    if (s.argument) return s.name + ", column " + std::to_string(mark.column + 1);
    return s.name + ":" + std::to_string(mark.line - s.first_line + 1) + ":" +
           std::to_string(mark.column + 1);
  }
  // "line L:C" in the scenario file, Where() in any other input.
  std::string LineOf(const YAML::Mark& mark, bool with_column = true) const {
    if (mark.line >= 0 && &SourceOf(mark) == &sources_.front()) {
      return "line " + std::to_string(mark.line + 1) +
             (with_column ? ":" + std::to_string(mark.column + 1) : "");
    }
    return Where(mark);
  }

 private:
  struct Source {
    int first_line;
    std::string name;
    bool argument;
  };
  const Source& SourceOf(const YAML::Mark& mark) const {
    const Source* found = &sources_.front();
    for (const Source& s : sources_) {
      if (s.first_line <= mark.line) found = &s;
    }
    return *found;
  }

  std::string file_;
  std::vector<Diagnostic>* out_;
  std::vector<Source> sources_;
  bool truncated_ = false;
};

// Reads one YAML mapping: each Take() marks a key as known; Finish() reports
// every key that nobody took, so a typo is an error instead of being ignored.
class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string what, Diags& diags)
      : node_(node), what_(std::move(what)), diags_(diags) {
    valid_ = node.IsMap();
    if (!valid_)
      diags_.Add(node, "expected " + what_ + " as a mapping of keys, found " + Found(node));
  }
  bool valid() const { return valid_; }
  const YAML::Node& node() const { return node_; }

  // The value of `key`, or an undefined node when absent.
  YAML::Node Take(const std::string& key) {
    taken_.insert(key);
    if (!valid_) return YAML::Node(YAML::NodeType::Undefined);
    return node_[key];
  }
  bool Has(const std::string& key) const { return valid_ && node_[key]; }

  YAML::Node Require(const std::string& key) {
    YAML::Node v = Take(key);
    if (valid_ && !v) diags_.Add(node_, what_ + " is missing required key \"" + key + "\"");
    return v;
  }

  void Finish() {
    if (!valid_) return;
    for (const auto& kv : node_) {
      std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      if (!taken_.count(key)) {
        std::string known;
        for (const std::string& k : taken_) known += (known.empty() ? "" : ", ") + k;
        std::string message = "unknown key " + QuoteExcerpt(key) + " in ";
        message.append(what_).append(" (expected one of: ").append(known).append(")");
        diags_.Add(kv.first, std::move(message));
      }
    }
  }

 private:
  YAML::Node node_;
  std::string what_;
  Diags& diags_;
  std::set<std::string> taken_;
  bool valid_ = false;
};

// Typed scalar readers: report on failure and return std::nullopt.
std::optional<std::string> AsString(const YAML::Node& n, Diags& d, const std::string& what) {
  if (!n.IsScalar() || n.Scalar().empty()) {
    d.Add(n, "expected " + what + " as a non-empty string, found " + Found(n));
    return std::nullopt;
  }
  return n.Scalar();
}

template <typename T>
std::optional<T> FromResult(const YAML::Node& n, Diags& d, const std::string& what, Result<T> r) {
  if (!r.ok()) {
    d.Add(n, what + ": " + r.status().message());
    return std::nullopt;
  }
  return std::move(r).value();
}

std::optional<int64_t> AsInteger(const YAML::Node& n, Diags& d, const std::string& what,
                                 int64_t min, int64_t max = std::numeric_limits<int64_t>::max()) {
  if (!n.IsScalar()) {
    d.Add(n, what + ": expected an integer, found " + Found(n));
    return std::nullopt;
  }
  auto v = FromResult(n, d, what, ParseInteger(n.Scalar()));
  if (v && (*v < min || *v > max)) {
    std::string range = max == std::numeric_limits<int64_t>::max()
                            ? ">= " + std::to_string(min)
                            : "between " + std::to_string(min) + " and " + std::to_string(max);
    d.Add(n, what + ": expected an integer " + range + ", found " + Excerpt(n.Scalar()));
    return std::nullopt;
  }
  return v;
}

// A decimal scaled by 10^digits ("2.5" with digits 6 → 2'500'000).
std::optional<int64_t> AsDecimal(const YAML::Node& n, Diags& d, const std::string& what,
                                 int digits) {
  if (!n.IsScalar()) {
    d.Add(n, what + ": expected a decimal number, found " + Found(n));
    return std::nullopt;
  }
  return FromResult(n, d, what, ParseScaledDecimal(n.Scalar(), digits));
}

// A CPU count ("4", "0.5") in thousandths of a core, or memory in GiB
// ("16", "0.25") in MiB, within [min, max] of those units.
std::optional<int64_t> AsCpus(const YAML::Node& n, Diags& d, const std::string& what,
                              int64_t min_milli) {
  auto x = AsDecimal(n, d, what, 3);
  if (x && (*x < min_milli || *x > int64_t{1'000'000'000})) {
    d.Add(n, what + ": expected a number of CPUs " + (min_milli > 0 ? "above 0" : "of 0 or more") +
                 " (at most 1000000, to the thousandth), found " + Excerpt(n.Scalar()));
    return std::nullopt;
  }
  return x;
}
std::optional<int64_t> AsGibToMib(const YAML::Node& n, Diags& d, const std::string& what,
                                  int64_t min_milli) {
  auto x = AsDecimal(n, d, what, 3);
  if (x && (*x < min_milli || *x > int64_t{1'000'000'000})) {
    d.Add(n, what + ": expected GiB " + (min_milli > 0 ? "above 0" : "of 0 or more") +
                 " (at most 1000000, to the thousandth), found " + Excerpt(n.Scalar()));
    return std::nullopt;
  }
  if (!x) return std::nullopt;
  return (*x * 1024 + 500) / 1000;  // thousandths of a GiB -> MiB, rounded
}

// US dollars, exact to the micro-dollar, with an optional K/M/B/T multiplier
// suffix and optional leading '$': "2.50", "$38B", "1.2M".
std::optional<Money> AsUsd(const YAML::Node& n, Diags& d, const std::string& what) {
  if (!n.IsScalar()) {
    d.Add(n, what + ": expected an amount in US dollars, found " + Found(n));
    return std::nullopt;
  }
  std::string s = n.Scalar();
  if (!s.empty() && s[0] == '$') s.erase(0, 1);
  int64_t mult = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'K':
        mult = 1'000;
        break;
      case 'M':
        mult = 1'000'000;
        break;
      case 'B':
        mult = 1'000'000'000;
        break;
      case 'T':
        mult = 1'000'000'000'000;
        break;
      default:
        break;
    }
    if (mult != 1) s.pop_back();
  }
  auto v = ParseScaledDecimal(s, 6);
  if (!v.ok()) {
    d.Add(n, what + ": expected an amount in US dollars such as \"2.50\" or \"38B\", found " +
                 Found(n));
    return std::nullopt;
  }
  __int128 micros = static_cast<__int128>(*v) * mult;
  if (micros > std::numeric_limits<int64_t>::max() / 4) {
    d.Add(n, what + ": amount too large: " + Found(n));
    return std::nullopt;
  }
  return Money::FromMicros(static_cast<int64_t>(micros));
}

std::optional<bool> AsBool(const YAML::Node& n, Diags& d, const std::string& what) {
  if (n.IsScalar() && (n.Scalar() == "true" || n.Scalar() == "false")) return n.Scalar() == "true";
  d.Add(n, what + ": expected true or false, found " + Found(n));
  return std::nullopt;
}

std::optional<Time> AsTime(const YAML::Node& n, Diags& d, const std::string& what) {
  if (!n.IsScalar()) {
    d.Add(n, what + ": expected a UTC date or time, found " + Found(n));
    return std::nullopt;
  }
  return FromResult(n, d, what, ParseTime(n.Scalar()));
}

std::optional<Duration> AsDuration(const YAML::Node& n, Diags& d, const std::string& what) {
  if (!n.IsScalar()) {
    d.Add(n, what + ": expected a duration such as \"2h\", found " + Found(n));
    return std::nullopt;
  }
  return FromResult(n, d, what, ParseDuration(n.Scalar()));
}

template <typename E>
std::optional<E> AsEnum(const YAML::Node& n, Diags& d, const std::string& what,
                        const std::vector<std::pair<std::string, E>>& names) {
  std::string list;
  for (const auto& [name, value] : names) {
    if (n.IsScalar() && n.Scalar() == name) return value;
    list += (list.empty() ? "" : ", ") + name;
  }
  d.Add(n, what + ": expected one of " + list + ", found " + Found(n));
  return std::nullopt;
}

// Calls `each` for every item of a list-valued key (absent = empty list).
void ForEachItem(const YAML::Node& list, Diags& d, const std::string& what,
                 const std::function<void(const YAML::Node&)>& each) {
  if (!list) return;
  if (list.IsNull()) return;
  if (!list.IsSequence()) {
    d.Add(list, "expected " + what + " as a list, found " + Found(list));
    return;
  }
  for (const YAML::Node& item : list) each(item);
}

// Checks ids are unique within a kind; remembers where each was defined.
class IdRegistry {
 public:
  explicit IdRegistry(std::string kind) : kind_(std::move(kind)) {}
  void Add(const std::string& id, const YAML::Node& where, Diags& d) {
    auto [it, inserted] = seen_.emplace(id, where.Mark());
    if (!inserted) {
      d.Add(where, "duplicate " + kind_ + " id " + QuoteExcerpt(id) + " (first defined at " +
                       d.LineOf(it->second, /*with_column=*/false) + ")");
    }
  }
  const std::string& kind() const { return kind_; }
  const std::map<std::string, YAML::Mark>& ids() const { return seen_; }

 private:
  std::string kind_;
  std::map<std::string, YAML::Mark> seen_;
};

class Loader {
 public:
  Loader(Diags& d, const LoadOptions& options) : d_(d), options_(options) {}

  // One contract's terms, read against an existing World's providers and
  // accelerators (an amendment, ParseContractTerms).
  std::optional<world::Contract> LoadContractTerms(const YAML::Node& n, const World& existing) {
    World scratch;
    scratch.accelerators = existing.accelerators;
    IndexAccelerators(scratch);
    for (size_t p = 0; p < existing.providers.size(); ++p)
      provider_ids_[existing.providers[p].id] = static_cast<int32_t>(p);
    LoadContract(n, scratch);
    if (scratch.contracts.size() != 1) return std::nullopt;
    return std::move(scratch.contracts[0]);
  }

  void Load(const YAML::Node& root, Scenario& out) {
    MapReader top(root, "the scenario", d_);
    if (!top.valid()) return;
    World& w = out.world;
    if (auto v = top.Require("name"); v) {
      if (auto s = AsString(v, d_, "name")) w.name = *s;
    }
    YAML::Node start = top.Require("start"), end = top.Require("end");
    std::optional<Time> st, en;
    if (start && (st = AsTime(start, d_, "start"))) w.start = *st;
    if (end && (en = AsTime(end, d_, "end"))) w.end = *en;
    if (st && en && w.end <= w.start) {
      d_.Add(end, "end must be after start (start " + FormatTime(w.start) + ", found end " +
                      FormatTime(w.end) + ")");
    }
    if (auto v = top.Take("seed"); v) {
      if (auto s = AsInteger(v, d_, "seed", 0)) w.seed = static_cast<uint64_t>(*s);
    }
    if (options_.seed) w.seed = *options_.seed;
    horizon_known_ = st && en && w.end > w.start;
    if (auto v = top.Take("scheduler"); v) {
      LoadScheduler(v, out.options);
      if (v.IsMap() && v["reoptimize_every"])
        CheckInterval(v["reoptimize_every"], "scheduler.reoptimize_every",
                      out.options.reoptimize_every, w);
      if (v.IsMap() && v["rebalance"] && v["rebalance"].IsMap() && v["rebalance"]["every"] &&
          out.options.rebalance.every)
        CheckInterval(v["rebalance"]["every"], "scheduler.rebalance.every",
                      *out.options.rebalance.every, w);
    }

    w.accelerators = world::BuiltinAccelerators();
    ForEachItem(top.Take("accelerators"), d_, "accelerators",
                [&](const YAML::Node& n) { LoadAccelerator(n, w); });
    IndexAccelerators(w);
    ForEachItem(top.Require("providers"), d_, "providers",
                [&](const YAML::Node& n) { LoadProvider(n, w); });
    ForEachItem(top.Require("sites"), d_, "sites", [&](const YAML::Node& n) { LoadSite(n, w); });
    ForEachItem(top.Take("contracts"), d_, "contracts",
                [&](const YAML::Node& n) { LoadContract(n, w); });
    ForEachItem(top.Require("pools"), d_, "pools", [&](const YAML::Node& n) { LoadPool(n, w); });
    if (auto v = top.Take("procurement"); v) LoadProcurement(v, w);
    ForEachItem(top.Take("tenants"), d_, "tenants", [&](const YAML::Node& n) { LoadTenant(n, w); });
    ForEachItem(top.Take("jobs"), d_, "jobs", [&](const YAML::Node& n) { LoadJob(n, w); });
    ForEachItem(top.Take("job_streams"), d_, "job_streams",
                [&](const YAML::Node& n) { LoadStream(n, w); });
    ForEachItem(top.Take("services"), d_, "services",
                [&](const YAML::Node& n) { LoadService(n, w); });
    ForEachItem(top.Take("faults"), d_, "faults", [&](const YAML::Node& n) { LoadFault(n, w); });
    ForEachItem(top.Take("traces"), d_, "traces",
                [&](const YAML::Node& n) { LoadTrace(n, out.traces); });
    // `polycloud gateway`'s deployments, keys and routing (docs/gateway.md):
    // read and checked by the gateway (and `validate`), which sits above io.
    out.has_gateway_section = static_cast<bool>(top.Take("gateway"));
    // `planning:` is read by `polycloud plan` (src/plan), which depends on
    // this loader; here it is only required to be a mapping.
    if (YAML::Node v = top.Take("planning"); v && !v.IsMap())
      d_.Add(v, "expected planning as a mapping of keys (docs/scenario.md, \"planning\"), found " +
                    Found(v));
    CheckTraceServices(out.traces);
    CheckIdsAcrossKinds();
    top.Finish();
    if (options_.until_term_end && horizon_known_) {
      for (const world::Contract& c : w.contracts) w.end = std::max(w.end, c.end);
    }
    if (!d_.any()) CheckMagnitudes(w, end);
    if (!d_.any()) CheckPower(w);
    if (!d_.any()) {
      // Jobs in arrival order; ties keep file order (stable) so runs are reproducible.
      std::stable_sort(w.jobs.begin(), w.jobs.end(), [](const world::Job& a, const world::Job& b) {
        return a.arrival < b.arrival;
      });
      w.BuildIndexes();
    }
  }

 private:
  void LoadScheduler(const YAML::Node& n, ScenarioOptions& o) {
    MapReader m(n, "scheduler", d_);
    if (auto v = m.Take("policy"); v) {
      static const std::vector<std::pair<std::string, std::string>> kPolicies = {
          {"priority", "priority"},
          {"fifo", "fifo"},
          {"sjf", "sjf"},
          {"srtf", "srtf"},
          {"cheapest-price", "cheapest-price"}};
      if (auto p = AsEnum(v, d_, "scheduler.policy", kPolicies)) o.policy = *p;
    }
    if (auto v = m.Take("placement"); v) {
      static const std::vector<std::pair<std::string, bool>> kPlacements = {{"spread", false},
                                                                            {"consolidated", true}};
      if (auto p = AsEnum(v, d_, "scheduler.placement", kPlacements)) o.consolidate = *p;
    }
    if (auto v = m.Take("node_choice"); v) {
      static const std::vector<std::pair<std::string, std::string>> kNodeChoices = {
          {"best-fit", "best-fit"},
          {"spread", "spread"},
          {"random", "random"},
          {"fragmentation", "fragmentation"},
          {"pooled", "pooled"}};
      if (auto p = AsEnum(v, d_, "scheduler.node_choice", kNodeChoices)) o.node_choice = *p;
    }
    if (auto v = m.Take("reoptimize_every"); v) {
      if (auto x = AsDuration(v, d_, "scheduler.reoptimize_every")) {
        if (x->seconds() <= 0) {
          d_.Add(v, "scheduler.reoptimize_every must be positive, found " + Found(v));
        }
        o.reoptimize_every = *x;
      }
    }
    if (auto v = m.Take("rebalance"); v) LoadRebalance(v, o.rebalance);
    m.Finish();
  }

  void LoadRebalance(const YAML::Node& n, ScenarioRebalance& r) {
    MapReader m(n, "scheduler.rebalance", d_);
    if (!m.valid()) return;
    if (auto v = m.Take("enabled"); v) r.enabled = AsBool(v, d_, "scheduler.rebalance.enabled");
    auto duration = [&](const char* key, bool zero_ok, std::optional<Duration>& out) {
      auto v = m.Take(key);
      if (!v) return;
      const std::string what = std::string("scheduler.rebalance.") + key;
      auto x = AsDuration(v, d_, what);
      if (!x) return;
      if (x->seconds() < 0 || (!zero_ok && x->seconds() == 0)) {
        d_.Add(v, what + (zero_ok ? " must not be negative" : " must be positive") + ", found " +
                      Found(v));
        return;
      }
      out = *x;
    };
    duration("every", false, r.every);
    duration("horizon", false, r.horizon);
    duration("min_dwell", true, r.min_dwell);
    if (auto v = m.Take("min_saving"); v) {
      // AsUsd takes no negative amounts.
      if (auto x = AsUsd(v, d_, "scheduler.rebalance.min_saving")) r.min_saving = *x;
    }
    if (auto v = m.Take("max_moves"); v) {
      if (auto x = AsInteger(v, d_, "scheduler.rebalance.max_moves", 1, 1'000'000))
        r.max_moves = static_cast<int32_t>(*x);
    }
    m.Finish();
  }

  // A periodic timer fires a bounded number of times over the run.
  void CheckInterval(const YAML::Node& where, const char* what, Duration every, const World& w) {
    if (!horizon_known_) return;
    if (Status s = CheckTimerInterval(what, every, w.start, w.end); !s.ok())
      d_.Add(where, s.message());
  }

  void IndexAccelerators(World& w) {
    accel_index_.clear();
    for (size_t i = 0; i < w.accelerators.size(); ++i) accel_index_[w.accelerators[i].name] = i;
  }

  void LoadAccelerator(const YAML::Node& n, World& w) {
    MapReader m(n, "an accelerator", d_);
    if (!m.valid()) return;
    auto name = AsString(m.Require("name"), d_, "accelerator name");
    if (!name) {
      m.Finish();
      return;
    }
    world::Accelerator* a = nullptr;
    for (auto& existing : w.accelerators) {
      if (existing.name == *name) a = &existing;
    }
    bool is_new = a == nullptr;
    if (is_new) {
      w.accelerators.push_back({*name, 0, Power::Watts(0), 0, Power::Watts(0)});
      a = &w.accelerators.back();
    }
    auto field = [&](const char* key) { return is_new ? m.Require(key) : m.Take(key); };
    YAML::Node idle_node;
    const Power watts_before = a->watts;
    if (auto v = field("memory_gb"); v) {
      if (auto x = AsInteger(v, d_, "memory_gb", 1, world::kMaxMemoryGb)) a->memory_gb = *x;
    }
    if (auto v = field("watts"); v) {
      if (auto x = AsInteger(v, d_, "watts", 1, world::kMaxWattsPerGpu))
        a->watts = Power::Watts(*x);
    }
    if (auto v = m.Take("idle_watts"); v) {
      if (auto x = AsInteger(v, d_, "idle_watts", 0, world::kMaxWattsPerGpu)) {
        a->idle_watts = Power::Watts(*x);
        idle_node = v;
      }
    }
    if (auto v = field("speed"); v) {
      if (auto x = AsDecimal(v, d_, "speed (relative to H100 = 1.0)", 3)) {
        if (*x <= 0) d_.Add(v, "speed must be greater than 0, found " + Found(v));
        if (*x > world::kMaxSpeedMilli) {
          d_.Add(v, "speed must be at most " + std::to_string(world::kMaxSpeedMilli / 1000) +
                        " (docs/scenario.md, Magnitudes), found " + Found(v));
        }
        a->speed_milli = *x;
      }
    }
    if (!idle_node) {
      // A new accelerator, or new board power, idles at the default share.
      if (is_new || a->watts != watts_before) a->idle_watts = world::DefaultIdleWatts(a->watts);
    } else if (a->idle_watts > a->watts) {
      d_.Add(idle_node, "idle_watts must be at most the board power (watts " +
                            std::to_string(a->watts.watts()) + "), found " + Found(idle_node));
    }
    m.Finish();
  }

  // An id, also registered for uniqueness.
  std::optional<std::string> Id(MapReader& m, IdRegistry& reg, const std::string& what) {
    YAML::Node v = m.Require("id");
    if (!v) return std::nullopt;
    auto id = AsString(v, d_, what + " id");
    if (id) reg.Add(*id, v, d_);
    return id;
  }

  // A reference by id to another entity; reports a dangling one.
  int32_t Ref(const YAML::Node& v, const std::map<std::string, int32_t>& ids,
              const std::string& what) {
    if (!v) return world::kNone;
    auto s = AsString(v, d_, what);
    if (!s) return world::kNone;
    auto it = ids.find(*s);
    if (it == ids.end()) {
      std::string known;
      int shown = 0;
      for (const auto& [k, _] : ids) {
        if (shown++ == 8) {
          known += ", ...";
          break;
        }
        known += (known.empty() ? "" : ", ") + k;
      }
      d_.Add(v, what + " \"" + *s +
                    "\" is not defined (known: " + (known.empty() ? "none" : known) + ")");
      return world::kNone;
    }
    return it->second;
  }

  std::vector<world::AcceleratorIndex> AcceleratorList(const YAML::Node& v,
                                                       const std::string& what) {
    std::vector<world::AcceleratorIndex> out;
    if (!v) return out;
    if (!v.IsSequence()) {
      d_.Add(v, what + ": expected a list of accelerator names, found " + Found(v));
      return out;
    }
    for (const YAML::Node& item : v) {
      int32_t a = Ref(item, AccelIds(), "accelerator");
      if (a != world::kNone) out.push_back(a);
    }
    return out;
  }

  const std::map<std::string, int32_t>& AccelIds() {
    if (accel_ids_.size() != accel_index_.size()) {
      accel_ids_.clear();
      for (const auto& [k, v] : accel_index_) accel_ids_[k] = static_cast<int32_t>(v);
    }
    return accel_ids_;
  }

  void LoadProvider(const YAML::Node& n, World& w) {
    MapReader m(n, "a provider", d_);
    if (!m.valid()) return;
    world::Provider p;
    if (auto id = Id(m, provider_reg_, "provider")) p.id = *id;
    p.name = p.id;
    if (auto v = m.Take("name"); v) {
      if (auto s = AsString(v, d_, "provider name")) p.name = *s;
    }
    m.Finish();
    provider_ids_[p.id] = static_cast<int32_t>(w.providers.size());
    w.providers.push_back(std::move(p));
  }

  // Where each written point of a schedule is (its `at`, the item's mark).
  using PointMarks = std::vector<std::pair<Time, YAML::Mark>>;
  struct SiteMarks {
    YAML::Mark site;
    std::optional<YAML::Mark> build_rate;
    PointMarks power;  // the power_mw points
  };

  // A step schedule given either as one scalar or as a list of {at, <key>}.
  template <typename V, typename ParseValue>
  std::optional<world::StepSchedule<V>> Schedule(const YAML::Node& v, const std::string& what,
                                                 const std::string& value_key, ParseValue parse,
                                                 PointMarks* marks = nullptr) {
    world::StepSchedule<V> s;
    if (v.IsScalar()) {
      auto x = parse(v);
      if (!x) return std::nullopt;
      s.Set(Time::Min(), *x);
      if (marks != nullptr) marks->push_back({Time::Min(), v.Mark()});
      return s;
    }
    if (!v.IsSequence() || v.size() == 0) {
      d_.Add(v, what + ": expected a value or a non-empty list of {at, " + value_key + "}, found " +
                    Found(v));
      return std::nullopt;
    }
    bool ok = true;
    Time last = Time::Min();
    for (const YAML::Node& item : v) {
      MapReader m(item, "a point of " + what, d_);
      if (!m.valid()) {
        ok = false;
        continue;
      }
      auto at = m.Require("at") ? AsTime(m.Take("at"), d_, "at") : std::nullopt;
      YAML::Node val = m.Require(value_key);
      auto x = val ? parse(val) : std::nullopt;
      m.Finish();
      if (!at || !x) {
        ok = false;
        continue;
      }
      if (*at <= last) {
        d_.Add(item["at"], what + ": points must be in increasing time order (found " +
                               FormatTime(*at) + " after " + FormatTime(last) + ")");
        ok = false;
      }
      last = *at;
      s.Set(*at, *x);
      if (marks != nullptr) marks->push_back({*at, item.Mark()});
    }
    if (!ok) return std::nullopt;
    return s;
  }

  void LoadSite(const YAML::Node& n, World& w) {
    MapReader m(n, "a site", d_);
    if (!m.valid()) return;
    world::Site s;
    if (auto id = Id(m, site_reg_, "site")) s.id = *id;
    s.provider = Ref(m.Require("provider"), provider_ids_, "provider");
    if (auto v = m.Take("region"); v) {
      if (auto r = AsString(v, d_, "region")) s.region = *r;
    }
    if (auto v = m.Take("backend"); v) LoadBackend(v, s);
    if (auto v = m.Take("pue"); v) {
      if (auto x = AsDecimal(v, d_, "pue", 3)) {
        if (*x < 1000) d_.Add(v, "pue must be at least 1.0, found " + Found(v));
        if (*x > world::kMaxPueMilli) d_.Add(v, "pue must be at most 10.0, found " + Found(v));
        s.pue_milli = *x;
      }
    }
    PointMarks power_marks;
    if (auto v = m.Take("power_mw"); v) {
      auto sched = Schedule<Power>(
          v, "power_mw", "mw",
          [&](const YAML::Node& x) -> std::optional<Power> {
            auto watts = AsDecimal(x, d_, "power in MW", 6);  // 6 decimals of MW = watts
            if (!watts) return std::nullopt;
            if (*watts > world::kMaxSiteWatts) {
              d_.Add(x, "power in MW must be at most 1000000 (1 TW), found " + Found(x));
              return std::nullopt;
            }
            return Power::Watts(*watts);
          },
          &power_marks);
      if (sched) {
        s.power = std::move(*sched);
        s.power_limited = true;
      }
    }
    SiteMarks marks;
    marks.site = n.Mark();
    marks.power = std::move(power_marks);
    if (auto v = m.Take("build_rate_mw_per_week"); v) {
      if (auto watts = AsDecimal(v, d_, "build_rate_mw_per_week", 6)) {
        if (*watts <= 0) {
          d_.Add(v, "build_rate_mw_per_week must be greater than 0, found " + Found(v));
        } else if (*watts > world::kMaxSiteWatts) {
          d_.Add(v, "build_rate_mw_per_week must be at most 1000000 (1 TW), found " + Found(v));
        } else {
          s.build_rate_per_week = Power::Watts(*watts);
          marks.build_rate = v.Mark();
        }
      }
    }
    m.Finish();
    site_marks_.push_back(std::move(marks));
    site_ids_[s.id] = static_cast<int32_t>(w.sites.size());
    w.sites.push_back(std::move(s));
  }

  // `backend: {kind: slurm, slurm_conf: PATH, ...}` (serve only;
  // docs/scenario.md). Every key but kind is a driver option, passed as
  // written; the driver checks them when serve starts (docs/sites.md).
  void LoadBackend(const YAML::Node& n, world::Site& s) {
    if (!n.IsMap()) {
      d_.Add(
          n,
          "expected a site backend as a mapping such as {kind: slurm, slurm_conf: PATH}, found " +
              Found(n));
      return;
    }
    bool kind = false;
    for (const auto& kv : n) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      if (key == "kind") {
        kind = true;
        if (auto k = AsEnum<world::SiteBackend>(kv.second, d_, "backend kind",
                                                {{"sim", world::SiteBackend::kSim},
                                                 {"local", world::SiteBackend::kLocal},
                                                 {"slurm", world::SiteBackend::kSlurm}})) {
          s.backend = *k;
        }
      } else if (auto v = AsString(kv.second, d_, "backend option " + key)) {
        s.backend_options.emplace_back(key, *v);
      }
    }
    if (!kind) d_.Add(n, "a site backend needs kind (sim, local or slurm)");
  }

  // A clause's `from` and `until` (default: the contract's term); until must
  // be after from.
  void ClauseWindow(MapReader& m, const YAML::Node& item, const world::Contract& c,
                    const std::string& what, Time& from, Time& until) {
    from = c.start;
    if (auto v = m.Take("from"); v) {
      if (auto t = AsTime(v, d_, what + " from")) from = *t;
    }
    until = c.end;
    YAML::Node node = m.Take("until");
    if (node) {
      if (auto t = AsTime(node, d_, what + " until")) until = *t;
    }
    if (until <= from) {
      d_.Add(node ? node : item, what + " until must be after from (from " + FormatTime(from) +
                                     ", until " + FormatTime(until) + ")");
    }
  }

  void LoadContract(const YAML::Node& n, World& w) {
    MapReader m(n, "a contract", d_);
    if (!m.valid()) return;
    world::Contract c;
    if (auto id = Id(m, contract_reg_, "contract")) c.id = *id;
    c.provider = Ref(m.Require("provider"), provider_ids_, "provider");
    YAML::Node start = m.Require("start"), end = m.Require("end");
    auto st = start ? AsTime(start, d_, "contract start") : std::nullopt;
    auto en = end ? AsTime(end, d_, "contract end") : std::nullopt;
    if (st) c.start = *st;
    if (en) c.end = *en;
    if (st && en && *en <= *st) {
      d_.Add(end, "contract end must be after its start (start " + FormatTime(*st) + ", found " +
                      FormatTime(*en) + ")");
    }
    if (auto v = m.Take("committed_usd"); v) {
      if (auto x = AsUsd(v, d_, "committed_usd")) c.committed_spend = *x;
    }
    if (auto v = m.Take("take_or_pay"); v) {
      if (auto b = AsBool(v, d_, "take_or_pay")) c.take_or_pay = *b;
    }
    ForEachItem(m.Take("exclusivity"), d_, "exclusivity", [&](const YAML::Node& item) {
      MapReader e(item, "an exclusivity clause", d_);
      if (!e.valid()) return;
      world::ExclusivityClause clause;
      if (auto cls = AsString(e.Require("class"), d_, "workload class"))
        clause.workload_class = *cls;
      if (auto v = e.Take("model_family"); v) {
        if (auto s = AsString(v, d_, "model_family")) clause.model_family = *s;
      }
      ClauseWindow(e, item, c, "exclusivity", clause.from, clause.until);
      if (auto v = e.Take("outage_exception"); v) {
        if (auto b = AsBool(v, d_, "outage_exception")) clause.outage_exception = *b;
      }
      e.Finish();
      c.exclusivity.push_back(std::move(clause));
    });
    if (auto v = m.Take("discount_percent"); v) {
      if (auto x = AsDecimal(v, d_, "discount_percent", 1)) {
        if (*x < 0 || *x > 1000) d_.Add(v, "discount_percent must be 0..100, found " + Found(v));
        c.discount_milli = *x;  // tenths of a percent = thousandths of list
      }
    }
    LoadMinimums(m, c);
    ForEachItem(m.Take("rofr"), d_, "rofr", [&](const YAML::Node& item) {
      MapReader r(item, "a right-of-first-refusal clause", d_);
      if (!r.valid()) return;
      world::RofrClause clause;
      ClauseWindow(r, item, c, "rofr", clause.from, clause.until);
      if (auto v = r.Take("response_window"); v) {
        if (auto x = AsDuration(v, d_, "response_window")) {
          if (x->seconds() <= 0) d_.Add(v, "response_window must be positive, found " + Found(v));
          clause.response_window = *x;
        }
      }
      if (auto v = r.Take("class"); v) {
        if (auto cls = AsString(v, d_, "workload class")) clause.workload_class = *cls;
      }
      clause.accelerators = AcceleratorList(r.Take("accelerators"), "accelerators");
      r.Finish();
      c.rofr.push_back(std::move(clause));
    });
    m.Finish();
    contract_ids_[c.id] = static_cast<int32_t>(w.contracts.size());
    contract_marks_.push_back(n.Mark());
    w.contracts.push_back(std::move(c));
  }

  // `minimums: [{by, spend}]` (consecutive periods from the contract start) or
  // `yearly_minimum: X` (one period per contract year, the last one cut at the
  // contract end). Not both.
  void LoadMinimums(MapReader& m, world::Contract& c) {
    YAML::Node list = m.Take("minimums"), yearly = m.Take("yearly_minimum");
    if (list && yearly) {
      d_.Add(yearly, "give either minimums or yearly_minimum, not both");
      return;
    }
    if (yearly) {
      auto x = AsUsd(yearly, d_, "yearly_minimum");
      if (!x || c.end <= c.start) return;
      for (Time from = c.start; from < c.end;) {
        Time until = AddYears(from, 1);
        if (until > c.end) until = c.end;
        c.minimums.push_back({from, until, *x});
        from = until;
      }
      return;
    }
    Time from = c.start;
    ForEachItem(list, d_, "minimums", [&](const YAML::Node& item) {
      MapReader r(item, "a minimum", d_);
      if (!r.valid()) return;
      world::CommitmentMinimum min;
      min.from = from;
      YAML::Node by = r.Require("by");
      if (by) {
        if (auto t = AsTime(by, d_, "minimum by")) {
          min.until = *t;
          if (min.until <= from || min.until > c.end) {
            d_.Add(by, "a minimum falls due after the previous one (" + FormatTime(from) +
                           ") and by the contract end (" + FormatTime(c.end) + "), found " +
                           FormatTime(min.until));
          }
        }
      }
      if (auto v = r.Require("spend"); v) {
        if (auto x = AsUsd(v, d_, "minimum spend")) min.spend = *x;
      }
      r.Finish();
      if (min.until > from) from = min.until;
      c.minimums.push_back(min);
    });
  }

  // The same calendar date `years` later (29 February becomes 28 February).
  static Time AddYears(Time t, int years) {
    const int64_t secs = t.unix_seconds();
    const int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t y = 0;
    unsigned m = 1, d = 1;
    CivilFromDays(days, y, m, d);
    y += years;
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m == 2 && d == 29 && !leap) d = 28;
    return Time::FromUnixSeconds(DaysFromCivil(y, m, d) * 86400 + (secs - days * 86400));
  }

  void LoadProcurement(const YAML::Node& n, World& w) {
    MapReader m(n, "procurement", d_);
    if (!m.valid()) return;
    world::Procurement& pr = w.procurement;
    pr.enabled = true;
    auto positive = [&](const char* key, Duration& out) {
      if (auto v = m.Take(key); v) {
        if (auto x = AsDuration(v, d_, key)) {
          if (x->seconds() <= 0)
            d_.Add(v, std::string(key) + " must be positive, found " + Found(v));
          out = *x;
        }
      }
    };
    positive("review_every", pr.review_every);
    if (YAML::Node v = m.node()["review_every"]; v)
      CheckInterval(v, "procurement.review_every", pr.review_every, w);
    positive("unmet_after", pr.unmet_after);
    positive("term", pr.term);
    pr.answer_after.assign(w.providers.size(), Duration());
    ForEachItem(m.Take("answers"), d_, "answers", [&](const YAML::Node& item) {
      MapReader a(item, "an answer time", d_);
      if (!a.valid()) return;
      world::ProviderIndex p = Ref(a.Require("provider"), provider_ids_, "provider");
      if (auto v = a.Require("after"); v) {
        if (auto x = AsDuration(v, d_, "after"); x && p != world::kNone) pr.answer_after[p] = *x;
      }
      a.Finish();
    });
    ForEachItem(m.Require("offers"), d_, "offers", [&](const YAML::Node& item) {
      MapReader o(item, "an offer", d_);
      if (!o.valid()) return;
      world::Offer offer;
      world::Pool pool;
      if (auto id = Id(o, pool_reg_, "offer")) offer.id = pool.id = *id;
      pool.site = Ref(o.Require("site"), site_ids_, "site");
      if (pool.site != world::kNone) offer.provider = pool.provider = w.sites[pool.site].provider;
      offer.accelerator = pool.accelerator =
          Ref(o.Require("accelerator"), AccelIds(), "accelerator");
      pool.pricing = world::PricingKind::kReserved;
      if (auto v = o.Require("price_per_gpu_hour"); v) {
        if (auto x = AsPrice(v)) offer.price_per_gpu_hour = pool.price_per_gpu_hour = *x;
      }
      if (auto v = o.Require("lead_time"); v) {
        if (auto x = AsDuration(v, d_, "lead_time")) {
          if (x->seconds() < 0) d_.Add(v, "lead_time must not be negative, found " + Found(v));
          offer.lead_time = *x;
        }
      }
      if (auto v = o.Require("max_gpus"); v) {
        if (auto x = AsInteger(v, d_, "max_gpus", 1, world::kMaxGpus)) offer.max_gpus = *x;
      }
      if (auto v = o.Take("gpus_per_node"); v) {
        if (auto x = AsInteger(v, d_, "gpus_per_node", 1, 1024)) pool.gpus_per_node = *x;
      }
      pool.domain_size = pool.gpus_per_node;
      if (auto v = o.Take("domain_size"); v) {
        if (auto x = AsInteger(v, d_, "domain_size", 1, world::kMaxGpus)) pool.domain_size = *x;
      }
      if (auto v = o.Take("max_gang"); v) {
        if (auto x = AsInteger(v, d_, "max_gang", 1, world::kMaxGpus)) pool.max_gang = *x;
      }
      if (auto v = o.Take("contract"); v) {
        offer.contract = Ref(v, contract_ids_, "contract");
        if (offer.contract != world::kNone && offer.provider != world::kNone &&
            w.contracts[offer.contract].provider != world::kNone &&
            w.contracts[offer.contract].provider != offer.provider) {
          d_.Add(v, "contract \"" + w.contracts[offer.contract].id + "\" is with provider \"" +
                        w.providers[w.contracts[offer.contract].provider].id +
                        "\" but the offer's site belongs to \"" + w.providers[offer.provider].id +
                        "\"");
        }
      }
      o.Finish();
      if (pool.max_gang == 0) pool.max_gang = offer.max_gpus;  // the pool starts empty
      pool.gpus.Set(Time::Min(), 0);
      pool.offer = static_cast<int32_t>(pr.offers.size());
      offer.pool = static_cast<world::PoolIndex>(w.pools.size());
      pool_marks_.push_back(item.Mark());
      pool_point_marks_.emplace_back();
      w.pools.push_back(std::move(pool));
      pr.offers.push_back(std::move(offer));
    });
    m.Finish();
  }

  void LoadPool(const YAML::Node& n, World& w) {
    MapReader m(n, "a pool", d_);
    if (!m.valid()) return;
    world::Pool p;
    if (auto id = Id(m, pool_reg_, "pool")) p.id = *id;
    p.site = Ref(m.Require("site"), site_ids_, "site");
    if (p.site != world::kNone) p.provider = w.sites[p.site].provider;
    p.accelerator = Ref(m.Require("accelerator"), AccelIds(), "accelerator");
    if (auto v = m.Require("pricing"); v) {
      if (auto k = AsEnum<world::PricingKind>(v, d_, "pricing",
                                              {{"reserved", world::PricingKind::kReserved},
                                               {"on-demand", world::PricingKind::kOnDemand},
                                               {"spot", world::PricingKind::kSpot}})) {
        p.pricing = *k;
      }
    }
    if (auto v = m.Require("price_per_gpu_hour"); v) {
      if (auto x = AsPrice(v)) p.price_per_gpu_hour = *x;
    }
    if (auto v = m.Take("gpus_per_node"); v) {
      if (auto x = AsInteger(v, d_, "gpus_per_node", 1, 1024)) p.gpus_per_node = *x;
    }
    if (auto v = m.Take("partition"); v) {
      if (auto x = AsString(v, d_, "partition")) p.partition = *x;
    }
    if (auto v = m.Take("cpus_per_node"); v) {
      if (auto x = AsCpus(v, d_, "cpus_per_node", 1)) p.cpu_milli_per_node = *x;
    }
    if (auto v = m.Take("memory_gib_per_node"); v) {
      if (auto x = AsGibToMib(v, d_, "memory_gib_per_node", 1)) {
        p.memory_mib_per_node = std::max<int64_t>(1, *x);
      }
    }
    if (auto v = m.Take("gpu_sharing"); v) {
      if (auto x = AsBool(v, d_, "gpu_sharing")) p.gpu_sharing = *x;
    }
    p.domain_size = p.gpus_per_node;
    if (auto v = m.Take("domain_size"); v) {
      if (auto x = AsInteger(v, d_, "domain_size", 1, world::kMaxGpus)) p.domain_size = *x;
    }
    if (auto v = m.Take("max_gang"); v) {
      if (auto x = AsInteger(v, d_, "max_gang", 1, world::kMaxGpus)) p.max_gang = *x;
    }
    bool linear = false;
    YAML::Node ramp = m.Take("ramp");
    if (ramp) {
      if (auto r = AsEnum<bool>(ramp, d_, "ramp", {{"step", false}, {"linear", true}})) linear = *r;
    }
    YAML::Node gpus = m.Require("gpus");
    PointMarks gpu_marks;
    if (gpus) {
      auto sched = Schedule<int64_t>(
          gpus, "gpus", "gpus",
          [&](const YAML::Node& x) { return AsInteger(x, d_, "gpus", 0, world::kMaxGpus); },
          &gpu_marks);
      if (sched) p.gpus = linear ? LinearToDailySteps(*sched, p.gpus_per_node) : std::move(*sched);
      if (sched && ramp && gpus.IsScalar() && linear) {
        d_.Add(ramp,
               "ramp: linear needs gpus as a list of {at, gpus} points, found a single value");
      }
    }
    if (auto v = m.Take("contract"); v) {
      p.contract = Ref(v, contract_ids_, "contract");
      // Only when both providers resolved: an undefined one is reported already.
      if (p.contract != world::kNone && p.provider != world::kNone &&
          w.contracts[p.contract].provider != world::kNone &&
          w.contracts[p.contract].provider != p.provider) {
        d_.Add(v, "contract \"" + w.contracts[p.contract].id + "\" is with provider \"" +
                      w.providers[w.contracts[p.contract].provider].id +
                      "\" but the pool's site belongs to \"" + w.providers[p.provider].id + "\"");
      }
    }
    m.Finish();
    pool_marks_.push_back(n.Mark());
    pool_point_marks_.push_back(std::move(gpu_marks));
    w.pools.push_back(std::move(p));
  }

  // A linear ramp between points becomes a step at every midnight between
  // them, rounded down to whole nodes, so the simulator only sees steps.
  static world::StepSchedule<int64_t> LinearToDailySteps(const world::StepSchedule<int64_t>& s,
                                                         int64_t node) {
    world::StepSchedule<int64_t> out;
    const auto& pts = s.points();
    for (size_t i = 0; i < pts.size(); ++i) {
      out.Set(pts[i].at, pts[i].value);
      if (i + 1 == pts.size() || pts[i].at == Time::Min()) continue;
      const int64_t t0 = pts[i].at.unix_seconds(), t1 = pts[i + 1].at.unix_seconds();
      const int64_t v0 = pts[i].value, v1 = pts[i + 1].value;
      for (int64_t day = (t0 / 86400 + 1) * 86400; day < t1; day += 86400) {
        int64_t v = v0 + MulDivRound(v1 - v0, day - t0, t1 - t0);
        out.Set(Time::FromUnixSeconds(day), v / node * node);
      }
    }
    return out;
  }

  // Fields shared by jobs and job streams.
  struct JobCommon {
    world::WorkloadKind kind = world::WorkloadKind::kTraining;
    std::string workload_class, model_family;
    std::vector<world::AcceleratorIndex> accelerators;
    Duration checkpoint;
    std::optional<int32_t> priority;
    std::optional<bool> preemptible;
    world::TenantIndex tenant = world::kNone;
    int64_t gpu_milli = 0, cpu_milli = 0, memory_mib = 0;
    YAML::Node gpu_milli_node;  // for the "needs gpus 1" error
  };

  void LoadJobCommon(MapReader& m, JobCommon& c, const World& w) {
    if (auto v = m.Take("tenant"); v) {
      if (auto t = AsString(v, d_, "tenant")) {
        c.tenant = w.FindTenant(*t);
        if (c.tenant == world::kNone) {
          d_.Add(v, "unknown tenant \"" + *t + "\" (declare it under tenants:)");
        }
      }
    }
    if (auto v = m.Take("kind"); v) {
      if (auto k = AsEnum<world::WorkloadKind>(v, d_, "kind",
                                               {{"training", world::WorkloadKind::kTraining},
                                                {"batch", world::WorkloadKind::kBatch}})) {
        c.kind = *k;
      }
    }
    c.workload_class = world::WorkloadKindName(c.kind);
    if (auto v = m.Take("class"); v) {
      if (auto s = AsString(v, d_, "class")) c.workload_class = *s;
    }
    if (auto v = m.Take("model_family"); v) {
      if (auto s = AsString(v, d_, "model_family")) c.model_family = *s;
    }
    c.accelerators = AcceleratorList(m.Take("accelerators"), "accelerators");
    if (auto v = m.Take("checkpoint_every"); v) {
      if (auto x = AsDuration(v, d_, "checkpoint_every")) c.checkpoint = *x;
    }
    if (auto v = m.Take("priority"); v) {
      if (auto x = AsInteger(v, d_, "priority", -1'000'000, 1'000'000))
        c.priority = static_cast<int32_t>(*x);
    }
    if (auto v = m.Take("preemptible"); v) c.preemptible = AsBool(v, d_, "preemptible");
    if (auto v = m.Take("gpu_milli"); v) {
      c.gpu_milli_node = v;
      if (auto x = AsInteger(v, d_, "gpu_milli", 1, 999)) c.gpu_milli = *x;
    }
    if (auto v = m.Take("cpus"); v) {
      if (auto x = AsCpus(v, d_, "cpus", 0)) c.cpu_milli = *x;
    }
    if (auto v = m.Take("memory_gib"); v) {
      if (auto x = AsGibToMib(v, d_, "memory_gib", 0)) c.memory_mib = *x;
    }
  }

  // A share of a GPU is a share of one GPU.
  void CheckShare(const JobCommon& c, int64_t gpus) {
    if (c.gpu_milli > 0 && gpus != 1) {
      d_.Add(c.gpu_milli_node,
             "gpu_milli: a share of a GPU needs gpus 1, found gpus " + std::to_string(gpus));
    }
  }

  static void ApplyCommon(const JobCommon& c, world::Job& j) {
    j.kind = c.kind;
    j.workload_class = c.workload_class;
    j.model_family = c.model_family;
    j.accelerators = c.accelerators;
    j.checkpoint_interval = c.checkpoint;
    bool batch = c.kind == world::WorkloadKind::kBatch;
    j.priority = c.priority.value_or(batch ? 0 : 100);
    j.preemptible = c.preemptible.value_or(batch);
    j.tenant = c.tenant;
    j.gpu_milli = c.gpu_milli;
    j.cpu_milli = c.cpu_milli;
    j.memory_mib = c.memory_mib;
  }

  // `{id: research, max_gpus: 512, class_max_gpus: {training: 256},
  //   spend_per_month: 2M, class_spend_per_month: {batch: 250K}}`.
  void LoadTenant(const YAML::Node& n, World& w) {
    MapReader m(n, "a tenant", d_);
    if (!m.valid()) return;
    world::Tenant t;
    if (auto v = m.Require("id"); v) {
      if (auto id = AsString(v, d_, "tenant id")) {
        if (w.FindTenant(*id) != world::kNone) d_.Add(v, "duplicate tenant id \"" + *id + "\"");
        t.id = *id;
      }
    }
    if (auto v = m.Take("max_gpus"); v) {
      if (auto x = AsInteger(v, d_, "max_gpus", 0, world::kMaxGpus)) t.max_gpus = *x;
    }
    if (auto v = m.Take("class_max_gpus"); v) {
      if (!v.IsMap()) {
        d_.Add(v, "expected class_max_gpus as a mapping of class to GPUs, found " + Found(v));
      } else {
        for (const auto& kv : v) {
          const std::string cls = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
          if (auto x = AsInteger(kv.second, d_, "class_max_gpus of " + cls, 0, world::kMaxGpus)) {
            t.class_max_gpus.emplace_back(cls, *x);
          }
        }
      }
    }
    if (auto v = m.Take("spend_per_month"); v) {
      if (auto x = AsUsd(v, d_, "spend_per_month")) t.spend_per_month = *x;
    }
    if (auto v = m.Take("class_spend_per_month"); v) {
      if (!v.IsMap()) {
        d_.Add(v, "expected class_spend_per_month as a mapping of class to US dollars, found " +
                      Found(v));
      } else {
        for (const auto& kv : v) {
          const std::string cls = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
          if (auto x = AsUsd(kv.second, d_, "class_spend_per_month of " + cls)) {
            t.class_spend_per_month.emplace_back(cls, *x);
          }
        }
      }
    }
    m.Finish();
    w.tenants.push_back(std::move(t));
  }

  void LoadJob(const YAML::Node& n, World& w) {
    MapReader m(n, "a job", d_);
    if (!m.valid()) return;
    world::Job j;
    if (auto id = Id(m, job_reg_, "job")) j.id = *id;
    JobCommon common;
    LoadJobCommon(m, common, w);
    ApplyCommon(common, j);
    if (auto v = m.Require("gpus"); v) {
      if (auto x = AsInteger(v, d_, "gpus", 1, world::kMaxGpus)) {
        j.gpus = *x;
        CheckShare(common, j.gpus);
      }
    }
    if (auto v = m.Require("work_gpu_hours"); v) {
      // Thousandths of a reference GPU-hour → GPU-seconds (× 3.6), exactly.
      if (auto x = AsDecimal(v, d_, "work_gpu_hours", 3)) {
        if (*x == 0) d_.Add(v, "work_gpu_hours must be greater than 0");
        // The scheduler multiplies work by 1000 (docs/scenario.md, Magnitudes).
        if (*x > world::kMaxWorkGpuSeconds / 36 * 10) {
          d_.Add(v,
                 "work_gpu_hours must be at most 1000000000 (docs/scenario.md, Magnitudes), "
                 "found " +
                     Found(v));
        }
        j.work_gpu_seconds = MulDivRound(*x, 36, 10);
      }
    }
    j.arrival = w.start;
    if (auto v = m.Take("arrival"); v) {
      if (auto t = AsTime(v, d_, "arrival")) j.arrival = *t;
    }
    m.Finish();
    w.jobs.push_back(std::move(j));
  }

  // A seeded stream of jobs: `count` arrivals uniform over [from, until), gang
  // sizes drawn from `gpus` with `gpu_weights`, and a log-uniform duration on
  // the reference accelerator between duration.min and duration.max.
  void LoadStream(const YAML::Node& n, World& w) {
    MapReader m(n, "a job stream", d_);
    if (!m.valid()) return;
    auto id = Id(m, stream_reg_, "job stream");
    JobCommon common;
    LoadJobCommon(m, common, w);
    // A plain integer (0 = missing or invalid, already reported): GCC 12 warns
    // spuriously about std::optional<int64_t> here in optimised builds.
    int64_t job_count = 0;
    if (m.Require("count"))
      job_count = AsInteger(m.Take("count"), d_, "count", 1, kMaxStreamJobs).value_or(0);
    Time from = w.start, until = w.end;
    if (auto v = m.Take("from"); v) {
      if (auto t = AsTime(v, d_, "from")) from = *t;
    }
    YAML::Node until_node = m.Take("until");
    if (until_node) {
      if (auto t = AsTime(until_node, d_, "until")) until = *t;
    }
    if (until <= from) d_.Add(until_node ? until_node : n, "job stream until must be after from");
    std::vector<int64_t> sizes, weights;
    YAML::Node gpus = m.Require("gpus");
    if (gpus && gpus.IsSequence() && gpus.size() > 0) {
      for (const YAML::Node& g : gpus) {
        if (auto x = AsInteger(g, d_, "gpus", 1, world::kMaxGpus)) {
          sizes.push_back(*x);
          CheckShare(common, *x);
        }
      }
    } else if (gpus) {
      d_.Add(gpus, "gpus: expected a non-empty list of gang sizes, found " + Found(gpus));
    }
    YAML::Node wnode = m.Take("gpu_weights");
    if (wnode) {
      if (!wnode.IsSequence() || wnode.size() != gpus.size()) {
        d_.Add(wnode, "gpu_weights: expected a list with one weight per entry of gpus (" +
                          std::to_string(gpus ? gpus.size() : 0) + "), found " + Found(wnode));
      } else {
        for (const YAML::Node& x : wnode) {
          if (auto v = AsInteger(x, d_, "gpu_weights", 0, 1'000'000'000)) weights.push_back(*v);
        }
      }
    }
    if (weights.empty()) weights.assign(sizes.size(), 1);
    Duration dmin, dmax;
    if (YAML::Node dur = m.Require("duration"); dur) {
      MapReader dm(dur, "a duration range", d_);
      if (dm.valid()) {
        auto a = dm.Require("min") ? AsDuration(dm.Take("min"), d_, "duration.min") : std::nullopt;
        auto b = dm.Require("max") ? AsDuration(dm.Take("max"), d_, "duration.max") : std::nullopt;
        if (a) dmin = *a;
        if (b) dmax = *b;
        if (a && b && (dmin.seconds() <= 0 || dmax < dmin)) {
          d_.Add(dur, "duration: expected 0 < min <= max, found min " + FormatDuration(dmin) +
                          ", max " + FormatDuration(dmax));
        }
      }
      dm.Finish();
    }
    m.Finish();
    if (!id || job_count == 0 || sizes.empty() || d_.any()) return;
    if (const int64_t gang = *std::max_element(sizes.begin(), sizes.end());
        dmax.seconds() > world::kMaxWorkGpuSeconds / gang) {
      d_.Add(n, "job stream \"" + *id + "\": a gang of " + std::to_string(gang) + " GPUs for " +
                    FormatDuration(dmax) +
                    " is more than the 1000000000 GPU-hours a job may hold (docs/scenario.md, "
                    "Magnitudes)");
      return;
    }
    stream_jobs_ += job_count;
    streams_.push_back({*id, job_count, n.Mark()});
    if (stream_jobs_ > options_.max_stream_jobs) {
      d_.Add(n, "job streams would generate " + std::to_string(stream_jobs_) +
                    " jobs, more than the limit of " + std::to_string(options_.max_stream_jobs));
      return;
    }
    int64_t total_weight = 0;
    for (int64_t x : weights) total_weight += x;
    if (total_weight <= 0) {
      d_.Add(wnode, "gpu_weights: at least one weight must be positive");
      return;
    }
    if (!options_.expand_job_streams) return;
    Rng rng = Rng::Fork(w.seed, *id);
    const int64_t span = (until - from).seconds();
    int width = static_cast<int>(std::to_string(job_count).size());
    const LogUniform duration(dmin.seconds(), dmax.seconds());
    for (int64_t i = 0; i < job_count; ++i) {
      world::Job j;
      std::string num = std::to_string(i + 1);
      j.id = *id + "-" + std::string(width - num.size(), '0') + num;
      ApplyCommon(common, j);
      j.stream = *id;
      j.arrival =
          from + Duration::Seconds(static_cast<int64_t>(rng.Below(static_cast<uint64_t>(span))));
      int64_t pick = static_cast<int64_t>(rng.Below(static_cast<uint64_t>(total_weight)));
      size_t k = 0;
      while (pick >= weights[k]) pick -= weights[k++];
      j.gpus = sizes[k];
      // Integer-only (portable_math.h): what llround(min * pow(max/min, Unit()))
      // gave on glibc, the same on every platform.
      const int64_t seconds = duration.At(rng.Next() >> 11);
      j.work_gpu_seconds = std::max<int64_t>(1, seconds) * j.gpus;
      w.jobs.push_back(std::move(j));
    }
  }

  void LoadService(const YAML::Node& n, World& w) {
    MapReader m(n, "a service", d_);
    if (!m.valid()) return;
    world::Service s;
    if (auto id = Id(m, service_reg_, "service")) s.id = *id;
    if (auto v = AsString(m.Require("model"), d_, "model")) s.model = *v;
    s.model_family = s.model;
    if (auto v = m.Take("model_family"); v) {
      if (auto x = AsString(v, d_, "model_family")) s.model_family = *x;
    }
    if (auto v = AsString(m.Require("class"), d_, "class")) s.workload_class = *v;
    if (auto v = m.Require("gpus_per_replica"); v) {
      if (auto x = AsInteger(v, d_, "gpus_per_replica", 1, 1 << 20)) s.gpus_per_replica = *x;
    }
    if (auto v = m.Require("replica_tokens_per_s"); v) {
      if (auto x = AsInteger(v, d_, "replica_tokens_per_s", 1, world::kMaxReplicaTokensPerSecond))
        s.replica_tokens_per_s = *x;
    }
    s.accelerators = AcceleratorList(m.Take("accelerators"), "accelerators");
    if (auto v = m.Take("min_providers"); v) {
      if (auto x = AsInteger(v, d_, "min_providers", 1, 64))
        s.min_providers = static_cast<int32_t>(*x);
    }
    if (auto v = m.Take("priority"); v) {
      if (auto x = AsInteger(v, d_, "priority", -1'000'000, 1'000'000))
        s.priority = static_cast<int32_t>(*x);
    }
    if (auto v = m.Require("demand"); v && v.IsScalar() && v.Scalar() == "trace") {
      trace_services_.emplace(s.id, v.Mark());  // filled by an azure-llm entry of `traces:`
    } else if (v) {
      auto sched = Schedule<int64_t>(v, "demand", "tokens_per_s", [&](const YAML::Node& x) {
        return AsInteger(x, d_, "tokens_per_s", 0, world::kMaxDemandTokensPerSecond);
      });
      if (sched) s.demand_tokens_per_s = std::move(*sched);
    }
    m.Finish();
    w.services.push_back(std::move(s));
  }

  void LoadFault(const YAML::Node& n, World& w) {
    MapReader m(n, "a fault", d_);
    if (!m.valid()) return;
    world::Fault f;
    if (auto id = Id(m, fault_reg_, "fault")) f.id = *id;
    if (YAML::Node t = m.Require("target"); t) {
      MapReader tm(t, "a fault target", d_);
      if (tm.valid()) {
        int given = 0;
        if (auto v = tm.Take("provider"); v) {
          ++given;
          f.target_kind = world::FaultTargetKind::kProvider;
          f.target = Ref(v, provider_ids_, "provider");
        }
        if (auto v = tm.Take("site"); v) {
          ++given;
          f.target_kind = world::FaultTargetKind::kSite;
          f.target = Ref(v, site_ids_, "site");
        }
        if (auto v = tm.Take("pool"); v) {
          ++given;
          f.target_kind = world::FaultTargetKind::kPool;
          f.target = Ref(v, PoolIds(w), "pool");
        }
        if (given != 1) {
          d_.Add(t, "a fault target names exactly one of provider, site or pool, found " +
                        std::to_string(given));
        }
      }
      tm.Finish();
    }
    if (auto v = m.Take("kind"); v) {
      if (auto k = AsEnum<world::FaultKind>(v, d_, "kind",
                                            {{"outage", world::FaultKind::kOutage},
                                             {"capacity_cut", world::FaultKind::kCapacityCut}})) {
        f.kind = *k;
      }
    }
    YAML::Node frac = m.Take("fraction");
    if (f.kind == world::FaultKind::kCapacityCut) {
      if (!frac) {
        d_.Add(n,
               "a capacity_cut fault is missing required key \"fraction\" (the share of capacity "
               "removed)");
      } else if (auto x = AsDecimal(frac, d_, "fraction", 3)) {
        if (*x == 0 || *x > 1000)
          d_.Add(frac, "fraction: expected a number in (0, 1], found " + Found(frac));
        f.cut_milli = *x;
      }
    } else if (frac) {
      d_.Add(frac, "fraction applies only to kind capacity_cut (an outage removes all capacity)");
    }
    YAML::Node start = m.Require("start");
    auto st = start ? AsTime(start, d_, "fault start") : std::nullopt;
    YAML::Node end = m.Take("end"), dur = m.Take("duration");
    if (st) f.start = *st;
    if (end && dur) d_.Add(dur, "give either end or duration for a fault, not both");
    if (end) {
      if (auto t = AsTime(end, d_, "fault end")) f.end = *t;
    } else if (dur) {
      if (auto x = AsDuration(dur, d_, "fault duration")) f.end = f.start + *x;
    } else {
      d_.Add(n, "a fault needs an end or a duration");
    }
    if (st && (end || dur) && f.end <= f.start)
      d_.Add(end ? end : dur, "a fault must end after it starts");
    m.Finish();
    w.faults.push_back(std::move(f));
  }

  // One entry of `traces:` (docs/scenario.md "traces"). Only the keys that
  // apply to the entry's format are taken, so any other key is reported as
  // unknown with the list of those that apply. Nothing is read here.
  void LoadTrace(const YAML::Node& n, std::vector<ScenarioTrace>& traces) {
    MapReader m(n, "a trace entry", d_);
    if (!m.valid()) return;
    ScenarioTrace t;
    t.where = d_.Where(n.Mark());
    static const std::vector<std::pair<std::string, std::string>> kFormats = {
        {"philly", "philly"},
        {"alibaba-gpu", "alibaba-gpu"},
        {"alibaba-spot", "alibaba-spot"},
        {"azure-llm", "azure-llm"},
        {"skypilot", "skypilot"}};
    std::optional<std::string> format;
    if (auto v = m.Require("format"); v) format = AsEnum(v, d_, "trace format", kFormats);
    if (auto v = m.Require("path"); v) {
      if (auto p = AsString(v, d_, "trace path")) {
        t.path_as_written = *p;
        std::filesystem::path path(*p);
        if (path.is_relative()) path = std::filesystem::path(d_.file()).parent_path() / path;
        t.path = path.lexically_normal().string();
      }
    }
    if (auto v = m.Take("skip_bad_rows"); v)
      t.skip_bad_rows = AsBool(v, d_, "skip_bad_rows").value_or(false);
    const std::string f = format.value_or("");
    const bool any = f.empty();  // unknown format: take every key, so only the format is reported
    const bool jobs = any || f == "philly" || f == "alibaba-gpu";
    if (jobs || f == "azure-llm") {
      auto time = [&](const char* key, bool& has, Time& out) {
        if (auto v = m.Take(key); v) {
          if (auto x = AsTime(v, d_, key)) {
            has = true;
            out = *x;
          }
        }
      };
      time("from", t.has_from, t.from);
      time("until", t.has_until, t.until);
      time("start_at", t.has_start_at, t.start_at);
      if (t.has_from && t.has_until && t.until <= t.from)
        d_.Add(m.Take("until"), "until must be after from");
      if (m.Has("start_at") && !m.Has("from")) {
        d_.Add(m.Take("start_at"),
               "start_at needs from (the trace instant that moves to start_at)");
      }
    }
    auto text = [&](const char* key, std::string& out) {
      if (auto v = m.Take(key); v) {
        if (auto x = AsString(v, d_, key)) out = *x;
      }
    };
    if (jobs) text("accelerator", t.accelerator);
    if (any || f == "philly") text("id_prefix", t.id_prefix);
    if (any || f == "alibaba-gpu") {
      if (auto v = m.Take("gpu_sharing"); v) {
        if (auto x = AsBool(v, d_, "gpu_sharing")) t.gpu_sharing = *x;
      }
      if (auto v = m.Take("trace_start"); v) {
        if (auto x = AsTime(v, d_, "trace_start")) {
          t.has_trace_start = true;
          t.trace_start = *x;
        }
      }
    }
    if (any || f == "alibaba-gpu" || f == "alibaba-spot" || f == "skypilot")
      text("provider", t.provider);
    if (any || f == "skypilot") {
      if (auto v = m.Take("gpus_per_pool"); v) {
        t.gpus_per_pool = AsInteger(v, d_, "gpus_per_pool", 0, world::kMaxGpus).value_or(0);
      }
    }
    if (any || f == "azure-llm") {
      YAML::Node service = f == "azure-llm" ? m.Require("service") : m.Take("service");
      if (service) {
        if (auto x = AsString(service, d_, "service")) {
          t.service = *x;
          trace_service_refs_.push_back({*x, service.Mark()});
        }
      }
      if (auto v = m.Take("bucket"); v) {
        if (auto x = AsDuration(v, d_, "bucket")) {
          if (x->seconds() <= 0) {
            d_.Add(v, "bucket: expected a positive duration, found " + Found(v));
          } else {
            t.bucket = *x;
          }
        }
      }
      if (auto v = m.Take("tokens"); v) {
        static const std::vector<std::pair<std::string, std::string>> kTokens = {
            {"all", "all"}, {"generated", "generated"}, {"context", "context"}};
        if (auto x = AsEnum(v, d_, "tokens", kTokens)) t.tokens = *x;
      }
    }
    m.Finish();
    if (format) t.format = *format;
    traces.push_back(std::move(t));
  }

  // Jobs and services share one namespace (`explain ID`, the event log): an
  // explicit job, a job a stream generates and a service never share an id.
  void CheckIdsAcrossKinds() {
    auto generated_by = [&](const std::string& id) -> const StreamIds* {
      for (const StreamIds& s : streams_) {
        if (id.size() <= s.id.size() + 1 || id.compare(0, s.id.size(), s.id) != 0 ||
            id[s.id.size()] != '-')
          continue;
        const std::string digits = id.substr(s.id.size() + 1);
        if (digits.size() != std::to_string(s.count).size() ||
            !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
          continue;
        const int64_t n = std::stoll(digits);
        if (n >= 1 && n <= s.count) return &s;
      }
      return nullptr;
    };
    auto where = [this](const YAML::Mark& m) { return d_.LineOf(m); };
    for (const IdRegistry* reg : {&job_reg_, &service_reg_}) {
      for (const auto& [id, mark] : reg->ids()) {
        if (const StreamIds* s = generated_by(id)) {
          d_.Add(mark, reg->kind() + " id " + QuoteExcerpt(id) + " is also the id of a job that " +
                           "job stream \"" + s->id + "\" generates (at " + where(s->mark) + ")");
        }
      }
    }
    for (const auto& [id, mark] : service_reg_.ids()) {
      auto job = job_reg_.ids().find(id);
      if (job != job_reg_.ids().end()) {
        d_.Add(mark, "service id " + QuoteExcerpt(id) + " is also the id of the job at " +
                         where(job->second) + " (jobs and services share one set of ids)");
      }
    }
  }

  // Every azure-llm entry names a service declared with `demand: trace`, and
  // every such service is driven by exactly one entry.
  void CheckTraceServices(const std::vector<ScenarioTrace>&) {
    std::map<std::string, int> uses;
    for (const auto& [id, mark] : trace_service_refs_) {
      if (!trace_services_.count(id)) {
        d_.Add(mark, "service \"" + id +
                         "\" is not a service with `demand: trace` (declare it in services: " +
                         "with demand: trace)");
      } else if (++uses[id] == 2) {
        d_.Add(mark, "service \"" + id + "\" already takes its demand from another trace entry");
      }
    }
    for (const auto& [id, mark] : trace_services_) {
      if (!uses.count(id)) {
        d_.Add(mark, "service \"" + id +
                         "\" has demand: trace but no azure-llm entry in traces: names it");
      }
    }
  }

  const std::map<std::string, int32_t>& PoolIds(const World& w) {
    if (pool_ids_.size() != w.pools.size()) {
      pool_ids_.clear();
      for (size_t i = 0; i < w.pools.size(); ++i)
        pool_ids_[w.pools[i].id] = static_cast<int32_t>(i);
    }
    return pool_ids_;
  }

  // A price per GPU-hour, within the magnitude model.
  std::optional<Money> AsPrice(const YAML::Node& v) {
    auto x = AsUsd(v, d_, "price_per_gpu_hour");
    if (x && x->micros() > world::kMaxPricePerGpuHourMicros) {
      d_.Add(v, "price_per_gpu_hour must be at most $1M, found " + Found(v));
      return std::nullopt;
    }
    return x;
  }

  // The whole-scenario bounds of the magnitude model (docs/scenario.md,
  // "Magnitudes"), once every field is within its own, reported at the pool
  // or contract that crossed one (world::FindMagnitudeProblem).
  void CheckMagnitudes(const World& w, const YAML::Node& end) {
    const auto problem = world::FindMagnitudeProblem(w);
    if (!problem) return;
    YAML::Mark mark = end.Mark();
    using Where = world::MagnitudeProblem::Where;
    if (problem->where == Where::kPool && problem->index < static_cast<int32_t>(pool_marks_.size()))
      mark = pool_marks_[problem->index];
    if (problem->where == Where::kContract &&
        problem->index < static_cast<int32_t>(contract_marks_.size()))
      mark = contract_marks_[problem->index];
    d_.Add(mark, problem->message);
  }

  // Installed GPUs within each site's power limit at full board power, and
  // power growing no faster than the site's build rate (world/power.h),
  // reported at the schedule point that breaks the rule.
  void CheckPower(const World& w) {
    auto nearest = [](const PointMarks& marks, Time t) -> std::optional<YAML::Mark> {
      if (marks.empty()) return std::nullopt;
      for (const auto& [at, mark] : marks) {
        if (at >= t) return mark;  // the point written at t, or the one a linear ramp heads to
      }
      return marks.back().second;
    };
    for (const world::PowerProblem& pr : world::FindPowerProblems(w)) {
      std::optional<YAML::Mark> mark;
      if (pr.pool != world::kNone && pr.pool < static_cast<int32_t>(pool_point_marks_.size())) {
        mark = nearest(pool_point_marks_[pr.pool], pr.at);
        if (!mark) mark = pool_marks_[pr.pool];
      }
      if (!mark && pr.site < static_cast<int32_t>(site_marks_.size())) {
        const SiteMarks& sm = site_marks_[pr.site];
        mark = nearest(sm.power, pr.at);
        if (!mark) mark = sm.build_rate ? *sm.build_rate : sm.site;
      }
      d_.Add(mark ? *mark : YAML::Mark(), pr.message);
    }
  }

  std::vector<YAML::Mark> pool_marks_, contract_marks_;  // parallel to World's pools, contracts
  std::vector<PointMarks> pool_point_marks_;             // parallel to pools: gpus points
  std::vector<SiteMarks> site_marks_;                    // parallel to sites
  Diags& d_;
  const LoadOptions& options_;
  std::map<std::string, YAML::Mark> trace_services_;  // services with demand: trace
  std::vector<std::pair<std::string, YAML::Mark>> trace_service_refs_;
  int64_t stream_jobs_ = 0;
  bool horizon_known_ = false;  // start and end parsed, end after start
  struct StreamIds {  // a job stream's jobs are "<id>-<n>", n from 1 to count, zero-padded
    std::string id;
    int64_t count;
    YAML::Mark mark;
  };
  std::vector<StreamIds> streams_;
  std::map<std::string, size_t> accel_index_;
  std::map<std::string, int32_t> accel_ids_, provider_ids_, site_ids_, contract_ids_, pool_ids_;
  IdRegistry provider_reg_{"provider"}, site_reg_{"site"}, pool_reg_{"pool"},
      contract_reg_{"contract"}, job_reg_{"job"}, stream_reg_{"job stream"},
      service_reg_{"service"}, fault_reg_{"fault"};
};

std::string NestingMessage() {
  return "YAML nesting deeper than " + std::to_string(kMaxYamlDepth) +
         " levels (mappings and lists inside each other): a scenario needs a handful";
}

// Checks the text before the YAML parser sees it: UTF-8 throughout (names
// reach the JSON report, which must stay valid) and no NUL byte (YAML forbids
// it; yaml-cpp would stop there with a raw byte in its message). Reports the
// first bad byte with its line and column.
bool CheckText(std::string_view text, Diags& d, int first_line = 0) {
  YAML::Mark mark;
  if (auto bad = FindInvalidUtf8(text)) {
    mark.line = first_line + static_cast<int>(bad->line - 1);
    mark.column = static_cast<int>(bad->column - 1);
    d.Add(mark, "invalid UTF-8 (byte " + Excerpt(text.substr(bad->offset, 1)) +
                    "): a scenario is UTF-8 text");
    return false;
  }
  if (size_t nul = text.find('\0'); nul != std::string_view::npos) {
    TextPosition p = PositionOf(text, nul);
    mark.line = first_line + static_cast<int>(p.line - 1);
    mark.column = static_cast<int>(p.column - 1);
    d.Add(mark, "a NUL byte (\\0): YAML text cannot contain one");
    return false;
  }
  return true;
}

// Where the second document starts: its node's mark, or the second "---" line.
// Where a second YAML document starts, if the text has one. Documents are
// read one at a time and at most two: yaml-cpp's LoadAll never returns on
// some malformed input ("," alone yields null documents for ever, memory
// growing without bound), and a "document" that starts where the previous one
// did is that loop, not a document.
std::optional<YAML::Mark> SecondDocument(const std::string& text) {
  class DocumentStarts final : public YAML::EventHandler {
   public:
    std::vector<YAML::Mark> starts;
    std::optional<YAML::Mark> second_node;  // the second document's first node
    void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& m, YAML::anchor_t) override { Node(m); }
    void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { Node(m); }
    void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  const std::string&) override {
      Node(m);
    }
    void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {
      Node(m);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {
      Node(m);
    }
    void OnMapEnd() override {}

   private:
    void Node(const YAML::Mark& m) {
      if (starts.size() == 2 && !second_node) second_node = m;
    }
  } handler;
  // Another document can only start at a "---" line or after a "..." one;
  // without either, the text is not parsed a second time.
  if (text.find("\n---") == std::string::npos && text.find("\n...") == std::string::npos &&
      text.rfind("...", 0) != 0) {
    return std::nullopt;
  }
  std::istringstream in(text);
  YAML::Parser parser(in);
  while (handler.starts.size() < 2 && parser.HandleNextDocument(handler)) {
  }
  if (handler.starts.size() < 2 || handler.starts[1].pos <= handler.starts[0].pos) {
    return std::nullopt;
  }
  if (handler.second_node && handler.second_node->line >= 0) return *handler.second_node;
  YAML::Mark mark = handler.starts[1];  // an empty document: point at its "---"
  const size_t at = text.rfind("\n---", static_cast<size_t>(std::max(0, mark.pos)));
  if (at != std::string::npos) {
    TextPosition p = PositionOf(text, at + 1);
    mark.line = static_cast<int>(p.line - 1);
    mark.column = 0;
  }
  return mark;
}

// Nesting depth and duplicate keys, over the whole tree before it is read:
// yaml-cpp keeps every pair of a mapping but looks keys up first-wins, so a
// repeated key would otherwise be silently ignored. False when too deep.
bool CheckStructure(const YAML::Node& node, int depth, Diags& d) {
  if (!node.IsMap() && !node.IsSequence()) return true;
  if (depth > kMaxYamlDepth) {
    d.Add(node, NestingMessage());
    return false;
  }
  bool ok = true;
  if (node.IsSequence()) {
    for (const YAML::Node& item : node) ok = CheckStructure(item, depth + 1, d) && ok;
    return ok;
  }
  std::map<std::string, YAML::Mark> keys;
  for (const auto& kv : node) {
    if (kv.first.IsScalar()) {
      auto [it, inserted] = keys.emplace(kv.first.Scalar(), kv.first.Mark());
      if (!inserted) {
        // Reported, but the tree is still read for the file's other errors.
        d.Add(kv.first, "duplicate key " + QuoteExcerpt(kv.first.Scalar()) + " (first at " +
                            d.LineOf(it->second) + ")");
      }
    }
    ok = CheckStructure(kv.second, depth + 1, d) && ok;
  }
  return ok;
}

}  // namespace

namespace {

int LineCount(std::string_view text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
}

// Parses one YAML document of an input that starts at `first_line` of the
// loader's line space: nullopt on an error that leaves nothing to read
// (reported); a null node for an empty document.
std::optional<YAML::Node> ParseInput(std::string_view text, int first_line, Diags& diags) {
  if (!CheckText(text, diags, first_line)) return std::nullopt;
  try {
    std::string padded(static_cast<size_t>(first_line), '\n');
    // A byte-order mark is allowed only at the very start of a YAML stream.
    if (text.substr(0, 3) == "\xEF\xBB\xBF" && first_line > 0) text.remove_prefix(3);
    padded.append(text);
    YAML::Node root = YAML::Load(padded);
    if (std::optional<YAML::Mark> second = SecondDocument(padded)) {
      diags.Add(*second, "a second YAML document (after \"---\"): a scenario is one document");
      return std::nullopt;
    }
    if (!root || root.IsNull()) return YAML::Node(YAML::NodeType::Null);
    if (!CheckStructure(root, 1, diags)) return std::nullopt;
    return root;
  } catch (const YAML::DeepRecursion& e) {
    diags.Add(e.mark, NestingMessage());
  } catch (const YAML::Exception& e) {
    diags.Add(e.mark, "YAML syntax error: " + Excerpt(e.msg, 200));
  }
  return std::nullopt;
}

// Applies the overrides to the scenario's tree, in order. Errors go to
// `diags`; the tree is not read when there is any.
Status ApplyOverrides(YAML::Node root, int first_line, const std::vector<Override>& overrides,
                      Diags& diags) {
  int line = first_line;
  int sets = 0, unsets = 0;
  const internal::ErrorSink sink = [&](const YAML::Mark& mark, const std::string& message) {
    diags.Add(mark, message);
  };
  for (const Override& o : overrides) {
    if (o.kind == Override::Kind::kWith) {
      std::string text;
      if (o.content) {
        text = *o.content;
      } else {
        Result<std::string> read = ReadRegularFile(o.argument, kMaxScenarioBytes, "overlay");
        if (!read.ok()) {
          if (read.status().code() == StatusCode::kNotFound)
            return IoError(o.argument + ": cannot open the --with fragment (no such file)");
          return read.status();
        }
        text = std::move(*read);
      }
      diags.AddSource(line, o.argument, false);
      const int first = line;
      std::optional<YAML::Node> fragment = ParseInput(text, first, diags);
      line += LineCount(text);
      if (!fragment) continue;  // reported
      if (!fragment->IsMap()) {
        YAML::Mark mark = fragment->Mark();
        if (mark.line < 0) mark.line = first, mark.column = 0;
        diags.Add(mark, std::string("expected the --with fragment as a mapping of scenario keys, "
                                    "found ") +
                            (fragment->IsNull() ? "an empty document" : NodeTypeName(*fragment)));
        continue;
      }
      internal::MergeOverlay(root, *fragment, sink);
      continue;
    }
    const bool set = o.kind == Override::Kind::kSet;
    const int number = set ? ++sets : ++unsets;
    diags.AddSource(line,
                    std::string(set ? "--set #" : "--unset #") + std::to_string(number) + " " +
                        QuoteExcerpt(o.argument, 120),
                    true);
    try {
      internal::ApplyEdit(root, o, line, sink);
    } catch (const YAML::Exception& e) {
      YAML::Mark mark = e.mark;
      if (mark.line < 0) mark.line = line, mark.column = 0;
      diags.Add(mark, "the value is not YAML: " + Excerpt(e.msg, 200));
    }
    ++line;
  }
  return Status::Ok();
}

}  // namespace

Result<Scenario> LoadScenarioString(std::string_view text, std::string_view file_name,
                                    std::vector<Diagnostic>* diagnostics,
                                    const LoadOptions& options) {
  diagnostics->clear();
  Diags diags(std::string(file_name), diagnostics);
  Scenario scenario;
  std::optional<YAML::Node> root = ParseInput(text, 0, diags);
  if (root && root->IsNull()) {
    if (diagnostics->empty()) {
      diags.Add(YAML::Mark::null_mark(),
                "the scenario is empty (expected a mapping with name, start, end, ...)");
    }
  } else if (root) {
    // A file with errors of its own (duplicate keys) is still read for its
    // other errors, without the overrides; overrides with errors stop there.
    bool read = true;
    if (!options.overrides.empty() && diagnostics->empty()) {
      if (!root->IsMap()) {
        diags.Add(*root, std::string("expected the scenario as a mapping of keys, found ") +
                             NodeTypeName(*root));
      } else {
        POLYCLOUD_RETURN_IF_ERROR(ApplyOverrides(*root, LineCount(text), options.overrides, diags));
      }
      read = diagnostics->empty() && CheckStructure(*root, 1, diags);
    }
    if (read) {
      try {
        Loader(diags, options).Load(*root, scenario);
      } catch (const YAML::Exception& e) {
        diags.Add(e.mark, "YAML error: " + Excerpt(e.msg, 200));
      }
    }
  }
  if (!diagnostics->empty()) {
    std::string message;
    for (const Diagnostic& d : *diagnostics) message += d.ToString() + "\n";
    message +=
        std::to_string(diagnostics->size()) + (diagnostics->size() == 1 ? " error" : " errors");
    if (diags.truncated()) message += " (stopped after " + std::to_string(kMaxDiagnostics) + ")";
    return InvalidInput(message);
  }
  for (const Override& o : options.overrides) scenario.overrides.push_back(o.ToString());
  return scenario;
}

Result<Scenario> LoadScenarioString(std::string_view text, std::string_view file_name,
                                    const LoadOptions& options) {
  std::vector<Diagnostic> diagnostics;
  return LoadScenarioString(text, file_name, &diagnostics, options);
}

Result<world::Contract> ParseContractTerms(std::string_view text, const world::World& world,
                                           std::string_view name) {
  std::vector<Diagnostic> diagnostics;
  Diags diags(std::string(name), &diagnostics);
  std::optional<world::Contract> contract;
  const LoadOptions options;
  if (CheckText(text, diags)) {
    try {
      const std::string copy(text);
      YAML::Node root = YAML::Load(copy);
      if (!root || root.IsNull()) {
        diags.Add(
            YAML::Mark::null_mark(),
            "the contract terms are empty (expected a mapping with id, provider, start, end, ...)");
      } else if (CheckStructure(root, 1, diags)) {
        contract = Loader(diags, options).LoadContractTerms(root, world);
      }
    } catch (const YAML::DeepRecursion& e) {
      diags.Add(e.mark, NestingMessage());
    } catch (const YAML::Exception& e) {
      diags.Add(e.mark, "YAML syntax error: " + Excerpt(e.msg, 200));
    }
  }
  if (diagnostics.empty() && contract) {
    // The magnitude model's bounds with the amended contract in place (a
    // World without its workload: the bounds are about money and capacity).
    world::World with;
    with.start = world.start;
    with.end = world.end;
    with.accelerators = world.accelerators;
    with.providers = world.providers;
    with.sites = world.sites;
    with.pools = world.pools;
    with.contracts = world.contracts;
    with.procurement = world.procurement;
    for (world::Contract& c : with.contracts) {
      if (c.id == contract->id) c = *contract;
    }
    if (const auto problem = world::FindMagnitudeProblem(with)) {
      return InvalidInput(std::string(name) + ": " + problem->message);
    }
  }
  if (!diagnostics.empty() || !contract) {
    std::string message;
    for (const Diagnostic& d : diagnostics) message += d.ToString() + "\n";
    if (!message.empty()) message.pop_back();
    return InvalidInput(message.empty() ? std::string(name) + ": no contract" : message);
  }
  return *contract;
}

std::string ContractTermsToJson(const world::World& world, const world::Contract& c) {
  // Scenario keys and formats, so that ParseContractTerms reads it back exactly.
  auto quote = [](const std::string& s) {
    std::string out = "\"";
    for (char ch : s) {
      if (ch == '"' || ch == '\\') out += '\\';
      if (static_cast<unsigned char>(ch) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", ch);
        out += buf;
        continue;
      }
      out += ch;
    }
    return out + "\"";
  };
  auto time = [&](Time t) { return quote(FormatTime(t)); };
  auto usd = [&](Money m) { return quote(FormatMoneyExact(m)); };
  std::string j = "{\"id\":" + quote(c.id) +
                  ",\"provider\":" + quote(world.providers[c.provider].id) +
                  ",\"start\":" + time(c.start) + ",\"end\":" + time(c.end);
  j += ",\"committed_usd\":" + usd(c.committed_spend);
  j += std::string(",\"take_or_pay\":") + (c.take_or_pay ? "true" : "false");
  j += ",\"discount_percent\":" +
       quote(std::to_string(c.discount_milli / 10) + "." + std::to_string(c.discount_milli % 10));
  if (!c.minimums.empty()) {
    j += ",\"minimums\":[";
    for (size_t i = 0; i < c.minimums.size(); ++i) {
      j += std::string(i ? "," : "") + "{\"by\":" + time(c.minimums[i].until) +
           ",\"spend\":" + usd(c.minimums[i].spend) + "}";
    }
    j += "]";
  }
  if (!c.exclusivity.empty()) {
    j += ",\"exclusivity\":[";
    for (size_t i = 0; i < c.exclusivity.size(); ++i) {
      const world::ExclusivityClause& e = c.exclusivity[i];
      j += std::string(i ? "," : "") + "{\"class\":" + quote(e.workload_class);
      if (!e.model_family.empty()) j += ",\"model_family\":" + quote(e.model_family);
      j += ",\"from\":" + time(e.from) + ",\"until\":" + time(e.until);
      j += std::string(",\"outage_exception\":") + (e.outage_exception ? "true" : "false") + "}";
    }
    j += "]";
  }
  if (!c.rofr.empty()) {
    j += ",\"rofr\":[";
    for (size_t i = 0; i < c.rofr.size(); ++i) {
      const world::RofrClause& r = c.rofr[i];
      j += std::string(i ? "," : "") + "{\"from\":" + time(r.from) + ",\"until\":" + time(r.until) +
           ",\"response_window\":" + quote(std::to_string(r.response_window.seconds()) + "s");
      if (!r.workload_class.empty()) j += ",\"class\":" + quote(r.workload_class);
      if (!r.accelerators.empty()) {
        j += ",\"accelerators\":[";
        for (size_t a = 0; a < r.accelerators.size(); ++a)
          j += std::string(a ? "," : "") + quote(world.accelerators[r.accelerators[a]].name);
        j += "]";
      }
      j += "}";
    }
    j += "]";
  }
  return j + "}";
}

Result<Scenario> LoadScenarioFile(const std::string& path, const LoadOptions& options) {
  Result<std::string> text = ReadRegularFile(path, kMaxScenarioBytes, "scenario");
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound)  // exit 4, as before: unreadable input
      return IoError(path + ": cannot open the scenario file (no such file)");
    return text.status();
  }
  return LoadScenarioString(*text, path, options);
}

Status CheckTimerInterval(std::string_view what, Duration every, Time start, Time end) {
  const int64_t span = (end - start).seconds();
  if (span <= 0 || every.seconds() <= 0) return Status::Ok();  // reported elsewhere
  // The shortest interval that fires at most kMaxTimerFirings times.
  const int64_t min_seconds = (span + kMaxTimerFirings - 1) / kMaxTimerFirings;
  if (every.seconds() >= min_seconds) return Status::Ok();
  return InvalidArgument(
      std::string(what) + ": " + FormatDuration(every) + " is too short for a run of " +
      FormatDuration(end - start) + " (at most " + std::to_string(kMaxTimerFirings) +
      " firings per run): use at least " + FormatDuration(Duration::Seconds(min_seconds)));
}

}  // namespace polycloud::io
