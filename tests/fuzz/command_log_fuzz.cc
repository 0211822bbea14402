// Fuzz target: the command log reader and the scheduler core behind it.
//
// Any input must either fail to parse with kInvalidInput and a message that
// names the log, or parse into commands that a fresh core of a small world
// (faults, a power-limited site, preemptible work, a service, a contract
// with minimums and exclusivity that the log may amend)
// applies one by one: each accepted, or refused with a Status and nothing
// changed — never a crash, a check failure or a sanitizer report. Run in the
// regular suite by CommandLogFuzzTargetTest; under libFuzzer with the fuzz
// preset:
//   cmake --preset fuzz && cmake --build --preset fuzz --target command_log_fuzz
//   build/fuzz/src/scheduler/command_log_fuzz -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <string>

#include "polycloud/io/scenario.h"
#include "polycloud/scheduler/command_log.h"
#include "polycloud/scheduler/scheduler.h"

namespace {

const char* kWorld = R"(
name: fuzz
start: 2026-01-01
end: 2026-03-01
providers: [{id: a}, {id: b}]
contracts:
  - id: deal
    provider: a
    start: 2025-06-01
    end: 2027-01-01
    committed_usd: 1M
    take_or_pay: true
    discount_percent: 5
    minimums: [{by: 2026-02-01, spend: 100000}, {by: 2027-01-01, spend: 500000}]
    exclusivity: [{class: api, until: 2026-06-01}]
sites:
  - {id: sa, provider: a, power_mw: 1}
  - {id: sb, provider: b}
pools:
  - {id: pa, site: sa, accelerator: H100, pricing: reserved, gpus: 16, price_per_gpu_hour: 1, contract: deal}
  - {id: pb, site: sb, accelerator: GB200, pricing: on-demand, gpus: 72, price_per_gpu_hour: 9, gpus_per_node: 4}
jobs:
  - {id: j1, gpus: 8, work_gpu_hours: 10, arrival: 2026-01-02, checkpoint_every: 1h}
  - {id: j2, gpus: 64, work_gpu_hours: 1000, arrival: 2026-01-03, priority: 5}
  - {id: b1, kind: batch, gpus: 4, work_gpu_hours: 5, arrival: 2026-01-02, preemptible: true}
services:
  - id: chat
    model: m
    class: consumer
    gpus_per_replica: 4
    replica_tokens_per_s: 100
    demand: 250
faults:
  - {id: f, target: {provider: a}, start: 2026-01-05, duration: 1d}
)";

class NoTimer final : public polycloud::scheduler::Timer {
 public:
  void AtTime(polycloud::Time, polycloud::scheduler::WakeKind, int32_t) override {}
};

}  // namespace

extern "C" int PolycloudFuzzCommandLog(const uint8_t* data, size_t size) {
  using namespace polycloud;
  static const world::World* world = [] {
    auto s = io::LoadScenarioString(kWorld, "fuzz-world.yaml");
    POLYCLOUD_CHECK(s.ok());
    return new world::World(std::move(s->world));
  }();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto commands = scheduler::ParseCommandLog(text, *world, "fuzz.log");
  if (!commands.ok()) {
    POLYCLOUD_CHECK(commands.status().code() == StatusCode::kInvalidInput);
    POLYCLOUD_CHECK(commands.status().message().rfind("fuzz.log:", 0) == 0);
    return 0;
  }
  NoTimer timer;
  world::World amendable = *world;  // amendments change the core's World
  scheduler::Scheduler core(amendable, {}, world->start, &timer, nullptr);
  core.AllowAmendments(&amendable);
  for (const scheduler::LoggedCommand& c : *commands) {
    const size_t queued = core.queued();
    const int32_t jobs = core.job_count();
    const Status s = core.Apply(c.command, c.at);
    if (!s.ok()) {  // refused: nothing changed
      POLYCLOUD_CHECK(core.queued() == queued && core.job_count() == jobs);
    }
  }
  return 0;
}

#ifdef POLYCLOUD_LIBFUZZER_MAIN
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return PolycloudFuzzCommandLog(data, size);
}
#endif
