// The rebalance (Options::rebalance, rebalance.cc), driven by commands as the
// simulator and the live broker drive it.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "polycloud/scheduler/scheduler.h"
#include "tests/testing/event_recorder.h"
#include "tests/testing/scenario_fixture.h"

namespace polycloud::scheduler {
namespace {

using polycloud::testing::LoadWorld;
using polycloud::testing::T;

// pa: reserved (prepaid) at provider a; pb: on demand at $9/GPU-h at b; pc:
// on demand at $2/GPU-h at b. A replica of s is 8 GB200 and serves 250 tokens/s.
const char* kWorld = R"(
name: rebalance
start: 2026-01-01
end: 2026-03-01
providers: [{id: a}, {id: b}]
sites: [{id: sa, provider: a}, {id: sb, provider: b}]
pools:
  - {id: pa, site: sa, accelerator: GB200, pricing: reserved, gpus: 32, price_per_gpu_hour: 1, gpus_per_node: 4}
  - {id: pb, site: sb, accelerator: GB200, pricing: on-demand, gpus: 32, price_per_gpu_hour: 9, gpus_per_node: 4}
  - {id: pc, site: sb, accelerator: GB200, pricing: on-demand, gpus: 32, price_per_gpu_hour: 2, gpus_per_node: 4}
services:
  - {id: s, model: m, class: chat, gpus_per_replica: 8, replica_tokens_per_s: 100, demand: 0}
)";

void Must(Scheduler& s, const Command& c, Time now) {
  const Status status = s.Apply(c, now);
  ASSERT_TRUE(status.ok()) << CommandName(c) << ": " << status.message();
}

// Checks, at every event, that no pool holds more GPUs than it may use.
class CapacityWatch final : public Observer {
 public:
  void OnEvent(const Event& e) override {
    events.push_back(e);
    if (core == nullptr) return;
    for (size_t p = 0; p < core->world().pools.size(); ++p) {
      const placement::PoolState& ps = core->fleet().pool(static_cast<world::PoolIndex>(p));
      if (ps.used > ps.capacity) ++overcommitted;
    }
  }
  int Count(EventType type) const {
    int n = 0;
    for (const Event& e : events) n += e.type == type;
    return n;
  }
  const Scheduler* core = nullptr;
  std::vector<Event> events;
  int overcommitted = 0;
};

class RebalanceTest : public ::testing::Test {
 protected:
  RebalanceTest() : world_(LoadWorld(kWorld)) {
    pa_ = world_.FindPool("pa");
    pb_ = world_.FindPool("pb");
    pc_ = world_.FindPool("pc");
  }
  // A core at the start with pa holding `pa_gpus`, pb and pc 32, and demand
  // for `replicas` replicas, placed at once.
  std::unique_ptr<Scheduler> Start(const Options& options, int64_t pa_gpus, int replicas,
                                   int64_t pc_gpus = 0) {
    auto core = std::make_unique<Scheduler>(world_, options, world_.start, nullptr, &watch_);
    watch_.core = core.get();
    const Time t = world_.start;
    Must(*core, cmd::SetPoolCapacity{pa_, pa_gpus}, t);
    Must(*core, cmd::SetPoolCapacity{pb_, 32}, t);
    Must(*core, cmd::SetPoolCapacity{pc_, pc_gpus}, t);
    Must(*core, cmd::SetDemand{ServiceId{0}, 250 * replicas}, t);
    Must(*core, cmd::Place{}, t);
    return core;
  }
  int At(const Scheduler& core, world::PoolIndex p) const {
    int n = 0;
    for (int32_t id : core.services()[0].replicas) n += core.allocations()[id].pool == p;
    return n;
  }

  world::World world_;
  world::PoolIndex pa_, pb_, pc_;
  CapacityWatch watch_;
};

TEST_F(RebalanceTest, MovesAReplicaToIdlePrepaidCapacityWhenTheSavingIsReal) {
  auto core = Start({}, 8, 2);  // one replica fits in pa, the other goes to pb
  ASSERT_EQ(At(*core, pa_), 1);
  ASSERT_EQ(At(*core, pb_), 1);
  const Time later = world_.start + Duration::Days(1);
  Must(*core, cmd::SetPoolCapacity{pa_, 32}, later);
  Must(*core, cmd::Place{}, later);
  EXPECT_EQ(At(*core, pa_), 2);
  EXPECT_EQ(At(*core, pb_), 0);
  ASSERT_EQ(core->moves().size(), 1u);
  const Scheduler::Move& m = core->moves()[0];
  EXPECT_EQ(m.from, pb_);
  EXPECT_EQ(m.to, pa_);
  EXPECT_EQ(m.at, later);
  EXPECT_EQ(m.price_from, Money::FromDollars(9));
  EXPECT_EQ(m.price_to, Money());
  // 8 GPUs × $9 × 168 h (the 7-day horizon), exactly.
  EXPECT_EQ(m.saving, Money::FromDollars(8 * 9 * 168));
  // Make-before-break: the new replica starts, the old one stops, then the move.
  const size_t n = watch_.events.size();
  ASSERT_GE(n, 3u);
  EXPECT_EQ(watch_.events[n - 3].type, EventType::kReplicaStarted);
  EXPECT_EQ(watch_.events[n - 3].aux, 3);
  EXPECT_EQ(watch_.events[n - 3].pool, pa_);
  EXPECT_EQ(watch_.events[n - 2].type, EventType::kReplicaStopped);
  EXPECT_EQ(watch_.events[n - 2].aux, 1);
  EXPECT_EQ(watch_.events[n - 2].pool, pb_);
  EXPECT_EQ(watch_.events[n - 1].type, EventType::kReplicaMoved);
  EXPECT_EQ(watch_.events[n - 1].value, m.saving.micros());
  EXPECT_EQ(watch_.events[n - 1].aux, pb_);
  // The service never ran short, and served all along.
  EXPECT_EQ(watch_.Count(EventType::kServiceShort), 0);
  EXPECT_EQ(core->services()[0].capacity, 500);
  EXPECT_EQ(watch_.overcommitted, 0);
}

TEST_F(RebalanceTest, NoMoveWhenTheSavingIsBelowTheThreshold) {
  Options o;
  o.rebalance.min_saving = Money::FromDollars(8 * 9 * 168) + Money::FromMicros(1);
  auto core = Start(o, 8, 2);
  const Time later = world_.start + Duration::Days(1);
  Must(*core, cmd::SetPoolCapacity{pa_, 32}, later);
  Must(*core, cmd::Place{}, later);
  EXPECT_TRUE(core->moves().empty());
  EXPECT_EQ(At(*core, pb_), 1);
  // At exactly the saving, it moves.
  Options exact;
  exact.rebalance.min_saving = Money::FromDollars(8 * 9 * 168);
  auto again = Start(exact, 8, 2);
  Must(*again, cmd::SetPoolCapacity{pa_, 32}, later);
  Must(*again, cmd::Place{}, later);
  EXPECT_EQ(again->moves().size(), 1u);
}

TEST_F(RebalanceTest, ACheaperPaidPoolIsAMoveTooButAPrepaidOneComesFirst) {
  // pc ($2) has room, pa does not: pb's replica moves to pc, saving $7 × 8 × 168.
  auto core = Start({}, 8, 2);
  const Time later = world_.start + Duration::Days(1);
  Must(*core, cmd::SetPoolCapacity{pc_, 32}, later);
  Must(*core, cmd::Place{}, later);
  ASSERT_EQ(core->moves().size(), 1u);
  EXPECT_EQ(core->moves()[0].to, pc_);
  EXPECT_EQ(core->moves()[0].saving, Money::FromDollars(7 * 8 * 168));
  // Once pa frees up, the replica on pc moves again, after its dwell.
  const Time freed = later + Duration::Hours(1);
  Must(*core, cmd::SetPoolCapacity{pa_, 32}, freed);
  Must(*core, cmd::Place{}, freed);
  EXPECT_EQ(core->moves().size(), 1u);  // dwell: it arrived in pc an hour ago
  const Time dwelt = later + Duration::Hours(6);
  Must(*core, cmd::Place{}, dwelt);
  ASSERT_EQ(core->moves().size(), 2u);
  EXPECT_EQ(core->moves()[1].from, pc_);
  EXPECT_EQ(core->moves()[1].to, pa_);
}

TEST_F(RebalanceTest, MinimumDwellIsHonoured) {
  Options o;
  o.rebalance.min_dwell = Duration::Hours(12);
  o.rebalance.every = Duration::Hours(1);
  auto core = Start(o, 8, 2);
  const Time t1 = world_.start + Duration::Hours(2);
  Must(*core, cmd::SetPoolCapacity{pa_, 32}, t1);
  Must(*core, cmd::Place{}, t1);
  Must(*core, cmd::Place{}, world_.start + Duration::Hours(11) + Duration::Seconds(3599));
  EXPECT_TRUE(core->moves().empty());
  Must(*core, cmd::Place{}, world_.start + Duration::Hours(12) + Duration::Seconds(3599));
  ASSERT_EQ(core->moves().size(), 1u);
  EXPECT_GE(core->moves()[0].at - world_.start, Duration::Hours(12));
}

TEST_F(RebalanceTest, MoveBudgetPerIntervalIsHonoured) {
  Options o;
  o.rebalance.max_moves = 2;
  o.rebalance.every = Duration::Hours(4);
  auto core = Start(o, 0, 3);  // all three on pb
  ASSERT_EQ(At(*core, pb_), 3);
  const Time t1 = world_.start + Duration::Days(1);
  Must(*core, cmd::SetPoolCapacity{pa_, 32}, t1);
  Must(*core, cmd::Place{}, t1);
  EXPECT_EQ(core->moves().size(), 2u);
  Must(*core, cmd::Place{}, t1 + Duration::Hours(3));  // not due yet
  EXPECT_EQ(core->moves().size(), 2u);
  Must(*core, cmd::Place{}, t1 + Duration::Hours(4));
  EXPECT_EQ(core->moves().size(), 3u);
  EXPECT_EQ(At(*core, pa_), 3);
}

TEST_F(RebalanceTest, MakeBeforeBreakNeverExceedsCapacity) {
  // pa grows from 8 to 16 GPUs, room for one more replica: of the two
  // candidates on pb only one moves.
  auto core = Start({}, 8, 3);
  ASSERT_EQ(At(*core, pb_), 2);
  const Time later = world_.start + Duration::Days(1);
  Must(*core, cmd::SetPoolCapacity{pa_, 16}, later);
  Must(*core, cmd::Place{}, later);
  EXPECT_EQ(core->moves().size(), 1u);
  EXPECT_EQ(At(*core, pa_), 2);
  EXPECT_EQ(At(*core, pb_), 1);
  EXPECT_EQ(core->fleet().pool(pa_).used, 16);
  EXPECT_EQ(watch_.overcommitted, 0);
}

TEST_F(RebalanceTest, KeepsTheServiceAtItsMinimumProviders) {
  world::World w = LoadWorld(std::string(kWorld) + R"(
  - {id: spread, model: m, class: chat, gpus_per_replica: 8, replica_tokens_per_s: 100, demand: 0, min_providers: 2}
)");
  Scheduler core(w, {}, w.start, nullptr, &watch_);
  Must(core, cmd::SetPoolCapacity{pa_, 32}, w.start);
  Must(core, cmd::SetPoolCapacity{pb_, 32}, w.start);
  Must(core, cmd::SetDemand{ServiceId{1}, 500}, w.start);
  Must(core, cmd::Place{}, w.start);
  Must(core, cmd::Place{}, w.start + Duration::Days(1));
  // One replica at each provider: the one at b (pb, $9) may not leave.
  EXPECT_TRUE(core.moves().empty());
  EXPECT_EQ(core.services()[1].per_provider, (std::vector<int32_t>{1, 1}));
}

TEST_F(RebalanceTest, CheapestPriceAndDisabledNeverMove) {
  Options cheapest;
  ASSERT_TRUE(SetPolicy("cheapest-price", &cheapest).ok());
  Options off;
  off.rebalance.enabled = false;
  for (const Options& o : {cheapest, off}) {
    auto core = Start(o, 8, 2);
    const Time later = world_.start + Duration::Days(1);
    Must(*core, cmd::SetPoolCapacity{pa_, 32}, later);
    Must(*core, cmd::Place{}, later);
    EXPECT_TRUE(core->moves().empty());
    EXPECT_EQ(At(*core, pb_), 1);
  }
}

TEST_F(RebalanceTest, ScaleDownStopsTheDearestReplicasFirst) {
  auto core = Start({}, 0, 1);  // the first replica on pb ($9)
  ASSERT_EQ(At(*core, pb_), 1);
  // An hour later (within the dwell, so no move) pa has room and demand
  // doubles: the second replica starts on pa, the newest.
  const Time t1 = world_.start + Duration::Hours(1);
  Must(*core, cmd::SetPoolCapacity{pa_, 32}, t1);
  Must(*core, cmd::SetDemand{ServiceId{0}, 500}, t1);
  Must(*core, cmd::Place{}, t1);
  ASSERT_EQ(At(*core, pa_), 1);
  ASSERT_TRUE(core->moves().empty());
  // Demand falls back: the dearer replica stops, not the newest.
  const Time t2 = world_.start + Duration::Hours(2);
  Must(*core, cmd::SetDemand{ServiceId{0}, 250}, t2);
  Must(*core, cmd::Place{}, t2);
  EXPECT_EQ(At(*core, pa_), 1);
  EXPECT_EQ(At(*core, pb_), 0);
}

TEST_F(RebalanceTest, SameCommandsGiveTheSameMoves) {
  auto run = [&] {
    CapacityWatch w;
    Scheduler core(world_, {}, world_.start, nullptr, &w);
    Time t = world_.start;
    Must(core, cmd::SetPoolCapacity{pa_, 0}, t);
    Must(core, cmd::SetPoolCapacity{pb_, 32}, t);
    Must(core, cmd::SetPoolCapacity{pc_, 32}, t);
    Must(core, cmd::SetDemand{ServiceId{0}, 250 * 6}, t);
    Must(core, cmd::Place{}, t);
    for (int h = 1; h <= 48; ++h) {
      t = world_.start + Duration::Hours(h);
      if (h % 8 == 0) Must(core, cmd::SetPoolCapacity{pa_, 8 * (h / 8)}, t);
      Must(core, cmd::SetDemand{ServiceId{0}, 250 * (4 + h % 3)}, t);
      Must(core, cmd::Place{}, t);
    }
    std::vector<std::tuple<int64_t, int, int32_t, int64_t, int64_t, int64_t>> out;
    for (const Event& e : w.events) {
      out.emplace_back(e.at.unix_seconds(), static_cast<int>(e.type), e.pool, e.gpus, e.value,
                       e.aux);
    }
    EXPECT_EQ(w.overcommitted, 0);
    return std::make_pair(out, core.moves().size());
  };
  const auto a = run(), b = run();
  EXPECT_EQ(a.first, b.first);
  EXPECT_GT(a.second, 0u);
}

}  // namespace
}  // namespace polycloud::scheduler
