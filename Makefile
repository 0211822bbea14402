# Thin wrapper over CMake presets (CMakePresets.json). The two commands a new
# user needs, on a fresh Debian 12 machine:
#   make example    install, build, simulate the shipped example
#   make test       install, build, run the whole test suite
.PHONY: example test deps build asan fuzz fuzz-sim bench perf-gate goldens format clean

EXAMPLE ?= examples/openai-2025.yaml
# The example's HTML report (one file, opens without network).
EXAMPLE_HTML ?= build/$(basename $(notdir $(EXAMPLE))).html
FUZZ_SECONDS ?= 30
# 0: a new random seed each run (nightly); CI fixes one so that its minute of
# fuzzing explores the same inputs on every run.
FUZZ_SEED ?= 0

deps:
	@scripts/install-deps.sh

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release

example: build
	build/release/apps/polycloud simulate $(EXAMPLE) --html $(EXAMPLE_HTML)
	@echo "HTML report: $(abspath $(EXAMPLE_HTML))"

# `test` also installs Slurm and munge: the suite starts two local Slurm
# clusters (tests/integration/slurm_harness_test.sh, docs/slurm.md).
test: build
	@scripts/install-deps.sh test
	ctest --preset release -j2

# AddressSanitizer + UBSan over the whole suite.
asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan
	ctest --preset asan -j2

# libFuzzer targets (clang), each run for FUZZ_SECONDS.
fuzz:
	@scripts/install-deps.sh fuzz
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz
	@for t in $$(find build/fuzz -maxdepth 3 -type f -name '*_fuzz' -perm -u+x | sort); do \
	  echo "== $$t"; $$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 >/dev/null 2>&1 || { echo "$$t failed"; exit 1; }; \
	done

# The simulate target alone (load, simulate with re-optimisation and
# procurement, report), seeded with the golden scenarios, for FUZZ_SECONDS.
# Nightly-style: FUZZ_SECONDS=600 make fuzz-sim. New crashes land in build/fuzz/crash-*.
fuzz-sim:
	@scripts/install-deps.sh fuzz
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz --target simulate_fuzz
	@mkdir -p build/fuzz/simulate-corpus
	build/fuzz/src/report/simulate_fuzz -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
	  -seed=$(FUZZ_SEED) -timeout=30 -artifact_prefix=build/fuzz/ build/fuzz/simulate-corpus tests/scenarios

# The whole-run table of issue 5 (docs/performance.md), about eight minutes
# and 4.5 GB: a 1M-GPU fleet, the simulation over a 10M-job year.
# BENCH_ARGS=--quick for a tenth of the fleet and a short run;
# BENCH_ARGS="--jobs 100000" for a lighter year.
BENCH_ARGS ?=
bench: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release --target scale_benchmark
	build/release/bench/scale_benchmark $(BENCH_ARGS)

# Instruction count of a fixed workload under callgrind against the recorded figure.
perf-gate:
	@scripts/perf-gate.sh

# Rewrites tests/scenarios/*.events from the current engine; review the diff.
goldens: build
	POLYCLOUD_UPDATE_GOLDENS=1 build/release/tests/polycloud_sim_tests --gtest_filter='GoldenScenarioTest.*'

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf build
