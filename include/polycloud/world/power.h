// Site power checks of a loaded World (docs/scenario.md, "sites"): what the
// installed GPUs of a site need at full board power against the site's power
// limit, and how fast a site's power grows against its build rate.
//
// The validation rule: at every instant of any pool's or the site's schedule,
// the GPUs installed at the site (all its pools), each at its accelerator's
// board power × the site's PUE, must fit within the site's power limit — a
// site must be able to run everything installed in it. Installed GPUs that
// are not allocated draw idle power in the simulation (placement::FleetState),
// which is less, so a valid site never runs out of power for what it holds.
//
// Thread-safety: pure functions of an immutable World.
#ifndef POLYCLOUD_WORLD_POWER_H_
#define POLYCLOUD_WORLD_POWER_H_

#include <string>
#include <vector>

#include "polycloud/base/units.h"
#include "polycloud/world/world.h"

namespace polycloud::world {

struct PowerProblem {
  enum class Kind { kOverLimit, kTooFast };
  Kind kind = Kind::kOverLimit;
  SiteIndex site = kNone;
  // The schedule point that breaks the rule: a pool's `gpus` point at `at`
  // (pool != kNone) or else the site's `power_mw` point at `at`.
  PoolIndex pool = kNone;
  Time at;
  std::string message;
};

// Facility power the GPUs installed at site `s` at `t` need at full board
// power (Σ installed × watts, × PUE).
Power InstalledPowerAt(const World& world, SiteIndex s, Time t);

// The first problem of each site, in site order; empty when every site fits.
std::vector<PowerProblem> FindPowerProblems(const World& world);

// "1,200 MW", "219.456 MW": watts as megawatts, exact, trailing zeros dropped.
std::string FormatMegawatts(Power p);

}  // namespace polycloud::world

#endif  // POLYCLOUD_WORLD_POWER_H_
