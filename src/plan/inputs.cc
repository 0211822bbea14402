// The `planning:` section (docs/scenario.md, "planning"), read with the
// scenario loader's strictness: every key known, every value typed and
// bounded, every reference resolved, every error with file:line:column.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "polycloud/base/parse.h"
#include "polycloud/base/text.h"
#include "polycloud/plan/plan.h"
#include "polycloud/world/magnitudes.h"

namespace polycloud::plan {
namespace {

std::string Found(const YAML::Node& n) {
  if (!n) return "nothing";
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return QuoteExcerpt(n.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "nothing";
  }
}

class Diags {
 public:
  explicit Diags(std::string file) : file_(std::move(file)) {}
  void Add(const YAML::Mark& mark, const std::string& message) {
    if (count_ >= 50) return;
    ++count_;
    text_ += file_;
    if (mark.line >= 0)
      text_ += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
    text_ += ": " + message + "\n";
  }
  void Add(const YAML::Node& n, const std::string& message) { Add(n.Mark(), message); }
  bool any() const { return count_ > 0; }
  std::string Message() const {
    return text_ + std::to_string(count_) + (count_ == 1 ? " error" : " errors");
  }

 private:
  std::string file_;
  std::string text_;
  int count_ = 0;
};

class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string what, Diags& d)
      : node_(node), what_(std::move(what)), d_(d), valid_(node.IsMap()) {
    if (!valid_) d_.Add(node, "expected " + what_ + " as a mapping of keys, found " + Found(node));
  }
  bool valid() const { return valid_; }
  YAML::Node Take(const std::string& key) {
    taken_.insert(key);
    return valid_ ? node_[key] : YAML::Node(YAML::NodeType::Undefined);
  }
  YAML::Node Require(const std::string& key) {
    YAML::Node v = Take(key);
    if (valid_ && !v) d_.Add(node_, what_ + " is missing required key \"" + key + "\"");
    return v;
  }
  bool Has(const std::string& key) const { return valid_ && node_[key]; }
  void Finish() {
    if (!valid_) return;
    for (const auto& kv : node_) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      if (taken_.count(key)) continue;
      std::string known;
      for (const std::string& k : taken_) known += (known.empty() ? "" : ", ") + k;
      d_.Add(kv.first, "unknown key " + QuoteExcerpt(key) + " in " + what_ +
                           " (expected one of: " + known + ")");
    }
  }

 private:
  YAML::Node node_;
  std::string what_;
  Diags& d_;
  bool valid_;
  std::set<std::string> taken_;
};

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
                                 int64_t min, int64_t max) {
  if (!n.IsScalar()) {
    d.Add(n, what + ": expected an integer, found " + Found(n));
    return std::nullopt;
  }
  auto v = FromResult(n, d, what, ParseInteger(n.Scalar()));
  if (v && (*v < min || *v > max)) {
    d.Add(n, what + ": expected an integer between " + std::to_string(min) + " and " +
                 std::to_string(max) + ", found " + QuoteExcerpt(n.Scalar()));
    return std::nullopt;
  }
  return v;
}

// Dollars exact to the micro-dollar, optional '$' and K/M/B/T, at most $2.3T.
std::optional<Money> AsUsd(const YAML::Node& n, Diags& d, const std::string& what) {
  if (!n.IsScalar()) {
    d.Add(n, what + ": expected an amount in US dollars, found " + Found(n));
    return std::nullopt;
  }
  std::string s = n.Scalar();
  if (!s.empty() && s[0] == '$') s.erase(0, 1);
  int64_t mult = 1;
  if (!s.empty()) {
    const char c = s.back();
    mult = c == 'K'   ? 1'000
           : c == 'M' ? 1'000'000
           : c == 'B' ? 1'000'000'000
           : c == 'T' ? 1'000'000'000'000
                      : 1;
    if (mult != 1) s.pop_back();
  }
  auto v = ParseScaledDecimal(s, 6);
  if (!v.ok() || *v < 0) {
    d.Add(n, what + ": expected an amount in US dollars such as \"2.50\" or \"50B\", found " +
                 Found(n));
    return std::nullopt;
  }
  const __int128 micros = static_cast<__int128>(*v) * mult;
  if (micros > world::kMaxMoneyMicros) {
    d.Add(n, what + ": amount too large (at most $2.3T): " + Found(n));
    return std::nullopt;
  }
  return Money::FromMicros(static_cast<int64_t>(micros));
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
    d.Add(n, what + ": expected a duration such as \"1w\", found " + Found(n));
    return std::nullopt;
  }
  return FromResult(n, d, what, ParseDuration(n.Scalar()));
}

// MW with up to 6 decimals, as watts.
std::optional<Power> AsMegawatts(const YAML::Node& n, Diags& d, const std::string& what) {
  if (!n.IsScalar()) {
    d.Add(n, what + ": expected megawatts such as \"50\" or \"12.5\", found " + Found(n));
    return std::nullopt;
  }
  auto v = FromResult(n, d, what, ParseScaledDecimal(n.Scalar(), 6));
  if (!v) return std::nullopt;
  if (*v < 0 || *v > world::kMaxSiteWatts) {
    d.Add(n, what + ": expected between 0 and 1000000 MW, found " + Found(n));
    return std::nullopt;
  }
  return Power::Watts(*v);
}

void ForEachItem(const YAML::Node& list, Diags& d, const std::string& what,
                 const std::function<void(const YAML::Node&)>& each) {
  if (!list || list.IsNull()) return;
  if (!list.IsSequence()) {
    d.Add(list, "expected " + what + " as a list, found " + Found(list));
    return;
  }
  for (const YAML::Node& item : list) each(item);
}

template <typename Index, typename Find>
Index Ref(const YAML::Node& n, Diags& d, const std::string& kind, Find find) {
  if (!n) return world::kNone;
  auto s = AsString(n, d, kind);
  if (!s) return world::kNone;
  const Index i = find(*s);
  if (i == world::kNone) d.Add(n, "unknown " + kind + " " + QuoteExcerpt(*s));
  return i;
}

class PlanningReader {
 public:
  PlanningReader(const world::World& w, Diags& d) : w_(w), d_(d) {}

  void Read(const YAML::Node& n, PlanningInputs& in) {
    MapReader m(n, "planning", d_);
    if (!m.valid()) return;
    in.from = w_.start;
    // Default horizon: the last end among take-or-pay commitments, at least the scenario's end.
    in.until = w_.end;
    for (const world::Contract& c : w_.contracts)
      if (c.take_or_pay && c.committed_spend > Money()) in.until = std::max(in.until, c.end);
    if (auto v = m.Take("until"); v) {
      if (auto t = AsTime(v, d_, "until")) {
        if (*t <= in.from)
          d_.Add(v, "until must be after the scenario's start (" + FormatTime(in.from) +
                        "), found " + Found(v));
        else if (*t - in.from > Duration::Days(36525))
          d_.Add(v, "until: a horizon of at most 100 years, found " + Found(v));
        else
          in.until = *t;
      }
    }
    if (auto v = m.Take("step"); v) {
      if (auto s = AsDuration(v, d_, "step")) {
        if (s->seconds() <= 0 || s->seconds() % 86400 != 0)
          d_.Add(v, "step must be a positive whole number of days (such as 1w or 4w), found " +
                        Found(v));
        else
          in.step = *s;
      }
    }
    if ((in.until - in.from).seconds() / std::max<int64_t>(in.step.seconds(), 1) > 2000)
      d_.Add(n, "the horizon " + FormatTime(in.from) + " to " + FormatTime(in.until) +
                    " has more than 2000 steps of " + FormatDuration(in.step) +
                    " (use a longer step)");
    if (auto v = m.Take("goal"); v) {
      if (v.IsScalar() && v.Scalar() == "demand")
        in.goal = Goal::kDemand;
      else if (v.IsScalar() && v.Scalar() == "burn-commitments")
        in.goal = Goal::kBurnCommitments;
      else
        d_.Add(v, "goal: expected one of demand, burn-commitments, found " + Found(v));
    }
    YAML::Node burn = m.Take("burn");
    if (burn && in.goal != Goal::kBurnCommitments)
      d_.Add(burn, "burn is for goal: burn-commitments");
    ForEachItem(burn, d_, "burn", [&](const YAML::Node& item) {
      const auto c = Ref<world::ContractIndex>(
          item, d_, "contract", [&](const std::string& s) { return w_.FindContract(s); });
      if (c == world::kNone) return;
      const world::Contract& contract = w_.contracts[c];
      if (contract.committed_spend == Money() && contract.minimums.empty())
        d_.Add(item, "contract " + QuoteExcerpt(contract.id) + " has no commitment to burn");
      else if (std::find(in.burn.begin(), in.burn.end(), c) != in.burn.end())
        d_.Add(item, "contract " + QuoteExcerpt(contract.id) + " is listed twice");
      else
        in.burn.push_back(c);
    });
    if (in.goal == Goal::kBurnCommitments && !burn) {
      for (size_t c = 0; c < w_.contracts.size(); ++c)
        if (w_.contracts[c].take_or_pay && w_.contracts[c].committed_spend > Money())
          in.burn.push_back(static_cast<world::ContractIndex>(c));
      if (in.burn.empty())
        d_.Add(n, "goal burn-commitments: the scenario has no take-or-pay commitment to burn");
    }
    if (auto v = m.Take("unmet_penalty_per_gpu_hour"); v) {
      if (auto x = AsUsd(v, d_, "unmet_penalty_per_gpu_hour")) in.unmet_penalty_per_gpu_hour = *x;
    }
    if (auto v = m.Take("solver"); v) {
      if (v.IsScalar() && (v.Scalar() == "clp" || v.Scalar() == "cbc"))
        in.integer = v.Scalar() == "cbc";
      else
        d_.Add(v, "solver: expected one of clp, cbc, found " + Found(v));
    }
    if (auto v = m.Take("max_solve_time"); v) {
      if (auto x = AsDuration(v, d_, "max_solve_time")) {
        if (x->seconds() < 1 || x->seconds() > 86400)
          d_.Add(v, "max_solve_time must be between 1s and 1d, found " + Found(v));
        else
          in.max_solve_seconds = x->seconds();
      }
    }
    ForEachItem(m.Take("offers"), d_, "offers",
                [&](const YAML::Node& item) { ReadOffer(item, in); });
    ForEachItem(m.Take("sites"), d_, "sites", [&](const YAML::Node& item) { ReadSite(item, in); });
    ForEachItem(m.Take("demand"), d_, "demand",
                [&](const YAML::Node& item) { ReadDemand(item, in); });
    if (in.goal == Goal::kDemand && in.demand.empty() && !d_.any())
      d_.Add(n, "goal demand needs at least one entry under demand");
    if (in.offers.empty() && !d_.any() && in.goal == Goal::kBurnCommitments)
      d_.Add(n, "goal burn-commitments needs at least one entry under offers (capacity to buy)");
    m.Finish();
  }

 private:
  void CheckId(const YAML::Node& n, const std::string& id, std::set<std::string>& seen,
               const std::string& kind) {
    if (!seen.insert(id).second) d_.Add(n, "duplicate " + kind + " id " + QuoteExcerpt(id));
  }

  void ReadOffer(const YAML::Node& n, PlanningInputs& in) {
    MapReader o(n, "a planning offer", d_);
    if (!o.valid()) return;
    PlanOffer offer;
    bool ok = true;
    if (YAML::Node ref = o.Take("offer"); ref) {
      // Reuse a procurement offer: its terms, plus the ramp.
      auto s = AsString(ref, d_, "offer");
      const world::Offer* found = nullptr;
      if (s) {
        for (const world::Offer& po : w_.procurement.offers)
          if (po.id == *s) found = &po;
        if (!found) d_.Add(ref, "unknown procurement offer " + QuoteExcerpt(*s));
      }
      for (const char* key : {"id", "site", "accelerator", "price_per_gpu_hour", "lead_time",
                              "max_gpus", "gpus_per_node", "domain_size", "max_gang", "contract"})
        if (YAML::Node v = o.Has(key) ? o.Take(key) : YAML::Node(YAML::NodeType::Undefined); v)
          d_.Add(v, std::string(key) +
                        " comes from the procurement offer; give either "
                        "\"offer\" or the offer's own keys");
      if (!found) {
        ok = false;
      } else {
        const world::Pool& pool = w_.pools[found->pool];
        offer.id = found->id;
        offer.site = pool.site;
        offer.provider = found->provider;
        offer.accelerator = found->accelerator;
        offer.price_per_gpu_hour = found->price_per_gpu_hour;
        offer.lead_time = found->lead_time;
        offer.max_gpus = found->max_gpus;
        offer.gpus_per_node = pool.gpus_per_node;
        offer.domain_size = pool.domain_size;
        offer.max_gang = pool.max_gang;
        offer.contract = found->contract;
      }
    } else {
      if (auto v = o.Require("id"); v) {
        if (auto s = AsString(v, d_, "id")) offer.id = *s;
      }
      offer.site = Ref<world::SiteIndex>(o.Require("site"), d_, "site",
                                         [&](const std::string& s) { return w_.FindSite(s); });
      if (offer.site != world::kNone) offer.provider = w_.sites[offer.site].provider;
      offer.accelerator =
          Ref<world::AcceleratorIndex>(o.Require("accelerator"), d_, "accelerator",
                                       [&](const std::string& s) { return w_.FindAccelerator(s); });
      if (auto v = o.Require("price_per_gpu_hour"); v) {
        if (auto x = AsUsd(v, d_, "price_per_gpu_hour")) {
          if (*x > Money::FromDollars(1'000'000))
            d_.Add(v, "price_per_gpu_hour: at most $1,000,000, found " + Found(v));
          offer.price_per_gpu_hour = *x;
        }
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
        if (auto x = AsInteger(v, d_, "gpus_per_node", 1, 1024)) offer.gpus_per_node = *x;
      }
      offer.domain_size = offer.gpus_per_node;
      if (auto v = o.Take("domain_size"); v) {
        if (auto x = AsInteger(v, d_, "domain_size", 1, world::kMaxGpus)) offer.domain_size = *x;
      }
      if (auto v = o.Take("max_gang"); v) {
        if (auto x = AsInteger(v, d_, "max_gang", 1, world::kMaxGpus)) offer.max_gang = *x;
      }
      if (auto v = o.Take("contract"); v) {
        offer.contract = Ref<world::ContractIndex>(
            v, d_, "contract", [&](const std::string& s) { return w_.FindContract(s); });
        if (offer.contract != world::kNone && offer.provider != world::kNone &&
            w_.contracts[offer.contract].provider != offer.provider)
          d_.Add(v, "contract " + QuoteExcerpt(w_.contracts[offer.contract].id) +
                        " is with provider " +
                        QuoteExcerpt(w_.providers[w_.contracts[offer.contract].provider].id) +
                        " but the offer's site belongs to " +
                        QuoteExcerpt(w_.providers[offer.provider].id));
      }
    }
    if (auto v = o.Require("max_ramp_per_week"); v) {
      if (auto x = AsInteger(v, d_, "max_ramp_per_week", 1, world::kMaxGpus))
        offer.max_ramp_per_week = *x;
    }
    o.Finish();
    if (!ok || offer.id.empty()) return;
    CheckId(n, offer.id, offer_ids_, "planning offer");
    if (w_.FindPool("plan-" + offer.id) != world::kNone)
      d_.Add(n,
             "the plan's pool \"plan-" + offer.id + "\" would collide with a pool of the scenario");
    if (offer.max_gang == 0) offer.max_gang = offer.max_gpus;
    fleet_gpus_ += offer.max_gpus;
    if (fleet_gpus_ > world::kMaxGpus)
      d_.Add(n, "the offers' max_gpus with the scenario's pools exceed " +
                    std::to_string(world::kMaxGpus) + " GPUs in all");
    in.offers.push_back(std::move(offer));
  }

  void ReadSite(const YAML::Node& n, PlanningInputs& in) {
    MapReader s(n, "a planning site", d_);
    if (!s.valid()) return;
    PlanSite site;
    YAML::Node ref = s.Require("site");
    site.site = Ref<world::SiteIndex>(ref, d_, "site",
                                      [&](const std::string& x) { return w_.FindSite(x); });
    if (auto v = s.Require("build_mw_per_week"); v) {
      if (auto x = AsMegawatts(v, d_, "build_mw_per_week")) site.build_per_week = *x;
    }
    if (auto v = s.Take("capex_per_gw"); v) {
      if (auto x = AsUsd(v, d_, "capex_per_gw")) site.capex_per_gw = *x;
    }
    if (auto v = s.Take("max_mw"); v) {
      if (auto x = AsMegawatts(v, d_, "max_mw")) {
        site.has_max_power = true;
        site.max_power = *x;
      }
    }
    s.Finish();
    if (site.site == world::kNone) return;
    if (!w_.sites[site.site].power_limited)
      d_.Add(ref, "site " + QuoteExcerpt(w_.sites[site.site].id) +
                      " has no power limit (power_mw), so there is nothing to build");
    for (const PlanSite& other : in.sites)
      if (other.site == site.site)
        d_.Add(ref, "site " + QuoteExcerpt(w_.sites[site.site].id) + " is listed twice");
    in.sites.push_back(site);
  }

  void ReadDemand(const YAML::Node& n, PlanningInputs& in) {
    MapReader m(n, "a demand forecast", d_);
    if (!m.valid()) return;
    PlanDemand dm;
    if (auto v = m.Require("id"); v) {
      if (auto s = AsString(v, d_, "id")) {
        dm.id = *s;
        CheckId(v, dm.id, demand_ids_, "demand");
        if (w_.FindService("plan-" + dm.id) != world::kNone ||
            w_.FindJob("plan-" + dm.id) != world::kNone)
          d_.Add(v, "the plan's service \"plan-" + dm.id +
                        "\" would collide with an id of the scenario");
      }
    }
    if (auto v = m.Require("class"); v) {
      if (auto s = AsString(v, d_, "class")) dm.workload_class = *s;
    }
    if (auto v = m.Take("model_family"); v) {
      if (auto s = AsString(v, d_, "model_family")) dm.model_family = *s;
    }
    ForEachItem(m.Take("accelerators"), d_, "accelerators", [&](const YAML::Node& a) {
      const auto i = Ref<world::AcceleratorIndex>(
          a, d_, "accelerator", [&](const std::string& s) { return w_.FindAccelerator(s); });
      if (i != world::kNone) dm.accelerators.push_back(i);
    });
    YAML::Node g = m.Require("reference_gpus");
    if (g) {
      constexpr int64_t kMax =
          100'000'000;  // × 1000 tokens/s stays within a service's demand bound
      if (g.IsScalar()) {
        if (auto x = AsInteger(g, d_, "reference_gpus", 0, kMax / 100))
          dm.reference_gpus.Set(Time::Min(), *x);
      } else if (g.IsSequence()) {
        std::optional<Time> last;
        for (const YAML::Node& p : g) {
          MapReader pm(p, "a reference_gpus point", d_);
          if (!pm.valid()) continue;
          std::optional<Time> at;
          if (auto v = pm.Require("at"); v) {
            at = AsTime(v, d_, "at");
            if (at && last && *at <= *last) {
              d_.Add(v, "points must be in increasing time, found " + FormatTime(*at) + " after " +
                            FormatTime(*last));
              at.reset();
            }
          }
          if (auto v = pm.Require("gpus"); v) {
            if (auto x = AsInteger(v, d_, "gpus", 0, kMax / 100); x && at) {
              dm.reference_gpus.Set(*at, *x);
              last = at;
            }
          }
          pm.Finish();
        }
      } else {
        d_.Add(g, "reference_gpus: expected an integer or a list of {at, gpus}, found " + Found(g));
      }
    }
    m.Finish();
    in.demand.push_back(std::move(dm));
  }

  const world::World& w_;
  Diags& d_;
  std::set<std::string> offer_ids_, demand_ids_;
  int64_t fleet_gpus_ = 0;

 public:
  void CountFleet() {
    for (const world::Pool& p : w_.pools) fleet_gpus_ += p.gpus.Max();
  }
};

}  // namespace

Result<PlanningInputs> ParsePlanning(std::string_view text, std::string_view file_name,
                                     const world::World& world) {
  Diags d{std::string(file_name)};
  PlanningInputs in;
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    YAML::Node section = root.IsMap() ? root["planning"] : YAML::Node();
    if (!section) {
      d.Add(YAML::Mark::null_mark(),
            "the scenario has no planning: section (docs/scenario.md, \"planning\")");
    } else {
      PlanningReader reader(world, d);
      reader.CountFleet();
      reader.Read(section, in);
    }
  } catch (const YAML::Exception& e) {
    d.Add(e.mark, "YAML syntax error: " + Excerpt(e.msg, 200));
  }
  if (d.any()) return InvalidInput(d.Message());
  return in;
}

}  // namespace polycloud::plan
