#include "polycloud/world/power.h"

#include <algorithm>

#include "polycloud/base/parse.h"

namespace polycloud::world {
namespace {

constexpr int64_t kWeekSeconds = 7 * 86400;

std::string FormatPue(int64_t milli) {
  std::string s = std::to_string(milli / 1000) + "." + std::to_string(milli % 1000 / 100) +
                  std::to_string(milli % 100 / 10) + std::to_string(milli % 10);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

// The instant for people: a date at midnight, else the full time.
std::string When(Time t) { return FormatTime(t); }

}  // namespace

std::string FormatMegawatts(Power p) {
  const int64_t w = p.watts();
  std::string whole = std::to_string(w / 1'000'000);
  // Thousands separators for the whole megawatts.
  for (int i = static_cast<int>(whole.size()) - 3; i > 0; i -= 3) whole.insert(i, ",");
  std::string frac = std::to_string(w % 1'000'000);
  frac = std::string(6 - frac.size(), '0') + frac;
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return whole + (frac.empty() ? "" : "." + frac) + " MW";
}

Power InstalledPowerAt(const World& world, SiteIndex s, Time t) {
  __int128 watts = 0;
  for (const Pool& p : world.pools) {
    if (p.site != s) continue;
    watts += static_cast<__int128>(p.gpus.At(t)) * world.accelerators[p.accelerator].watts.watts();
  }
  return Power::Watts(static_cast<int64_t>(watts * world.sites[s].pue_milli / 1000));
}

std::vector<PowerProblem> FindPowerProblems(const World& world) {
  std::vector<PowerProblem> out;
  std::vector<std::vector<PoolIndex>> pools_at(world.sites.size());
  for (size_t p = 0; p < world.pools.size(); ++p) {
    if (world.pools[p].site != kNone)
      pools_at[world.pools[p].site].push_back(static_cast<PoolIndex>(p));
  }
  for (size_t si = 0; si < world.sites.size(); ++si) {
    const Site& site = world.sites[si];
    const SiteIndex s = static_cast<SiteIndex>(si);
    const bool rate = site.build_rate_per_week > Power();
    if (!site.power_limited && !rate) continue;
    std::vector<Time> instants;
    for (PoolIndex p : pools_at[si]) {
      for (const auto& pt : world.pools[p].gpus.points()) instants.push_back(pt.at);
    }
    for (const auto& pt : site.power.points()) instants.push_back(pt.at);
    // From the scenario's start: what a schedule says before it (a constant
    // pool against a limit whose first point is the start) is not the run's.
    for (Time& t : instants) t = std::max(t, world.start);
    std::sort(instants.begin(), instants.end());
    instants.erase(std::unique(instants.begin(), instants.end()), instants.end());
    // The pool whose point at `t` raised what is installed (kNone: none did).
    auto culprit = [&](Time t) {
      for (PoolIndex p : pools_at[si]) {
        const auto& pts = world.pools[p].gpus.points();
        for (size_t k = 0; k < pts.size(); ++k) {
          if (pts[k].at != t) continue;
          const int64_t before = k == 0 ? 0 : pts[k - 1].value;
          if (pts[k].value > before) return p;
        }
      }
      return kNone;
    };
    auto site_has_point = [&](Time t) {
      for (const auto& pt : site.power.points()) {
        if (pt.at == t) return true;
      }
      return false;
    };
    const std::string name = "site \"" + site.id + "\"";
    bool reported = false;
    if (site.power_limited) {
      for (Time t : instants) {
        const Power need = InstalledPowerAt(world, s, t), limit = site.power.At(t);
        if (need <= limit) continue;
        PowerProblem pr;
        pr.kind = PowerProblem::Kind::kOverLimit;
        pr.site = s;
        pr.at = t;
        pr.pool = culprit(t);
        if (pr.pool == kNone && !site_has_point(t)) pr.pool = kNone;
        const std::string when =
            t == world.start ? "at the start (" + When(t) + ")" : "on " + When(t);
        pr.message = name + ": the GPUs installed " + when + " need " + FormatMegawatts(need) +
                     " at full board power (× PUE " + FormatPue(site.pue_milli) +
                     "), above its power limit: expected at most " + FormatMegawatts(limit) +
                     ", found " + FormatMegawatts(need);
        if (pr.pool != kNone) pr.message += " (pool \"" + world.pools[pr.pool].id + "\")";
        out.push_back(std::move(pr));
        reported = true;
        break;
      }
    }
    if (!rate || reported) continue;
    // The level that may not grow faster than the build rate: the power
    // limit, or without one what is installed.
    auto level = [&](Time t) {
      return site.power_limited ? site.power.At(t) : InstalledPowerAt(world, s, t);
    };
    for (size_t i = 1; i < instants.size(); ++i) {
      const Time from = instants[i - 1], to = instants[i];
      const Power before = level(from), after = level(to);
      if (after <= before) continue;
      const __int128 allowed = static_cast<__int128>(site.build_rate_per_week.watts()) *
                               (to - from).seconds() / kWeekSeconds;
      const Power grown = after - before;
      if (static_cast<__int128>(grown.watts()) <= allowed) continue;
      PowerProblem pr;
      pr.kind = PowerProblem::Kind::kTooFast;
      pr.site = s;
      pr.at = to;
      pr.pool = site.power_limited && site_has_point(to) ? kNone : culprit(to);
      pr.message = name + ": " + (site.power_limited ? "power" : "the installed GPUs' power") +
                   " grows by " + FormatMegawatts(grown) + " from " + When(from) + " to " +
                   When(to) + ", faster than build_rate_mw_per_week " +
                   FormatMegawatts(site.build_rate_per_week) + " allows: expected at most " +
                   FormatMegawatts(Power::Watts(static_cast<int64_t>(allowed))) + ", found " +
                   FormatMegawatts(grown);
      if (pr.pool != kNone) pr.message += " (pool \"" + world.pools[pr.pool].id + "\")";
      out.push_back(std::move(pr));
      break;
    }
  }
  return out;
}

}  // namespace polycloud::world
