#!/usr/bin/env bash
# The performance regression gate: counts the instructions of a small fixed
# workload (bench/perf_gate.cc) under valgrind --tool=callgrind — repeatable on
# a noisy, shared machine, unlike wall time — and fails when the count exceeds
# the figure recorded in docs/performance.md by more than the tolerance there.
#   scripts/perf-gate.sh            # check (make perf-gate)
#   scripts/perf-gate.sh --print    # only print the count (to record a new figure)
# Counts depend on the compiler and libraries: the recorded figure is for the
# project's Debian 12 machine (g++ 12, release preset).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh bench
cmake --preset release >/dev/null
cmake --build --preset release --target perf_gate >/dev/null

out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null build/release/bench/perf_gate 2>&1)
count=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' <<<"$out")
what=$(grep '^perf_gate:' <<<"$out")
if [[ -z "$count" ]]; then
  echo "perf-gate: no instruction count from callgrind:" >&2
  echo "$out" >&2
  exit 1
fi
if [[ "${1:-}" == "--print" ]]; then
  echo "$count"
  exit 0
fi

doc=docs/performance.md
recorded=$(sed -n 's/^perf-gate instructions: \([0-9_]*\).*/\1/p' "$doc" | tr -d _)
tolerance=$(sed -n 's/^perf-gate tolerance: \([0-9.]*\)%.*/\1/p' "$doc")
if [[ -z "$recorded" || -z "$tolerance" ]]; then
  echo "perf-gate: $doc has no 'perf-gate instructions:' or 'perf-gate tolerance:' line" >&2
  exit 1
fi
limit=$(awk -v r="$recorded" -v t="$tolerance" 'BEGIN { printf "%d", r * (1 + t / 100) }')
change=$(awk -v c="$count" -v r="$recorded" 'BEGIN { printf "%+.2f", (c - r) * 100 / r }')
echo "$what"
echo "perf-gate: $count instructions, recorded $recorded ($change%), limit $limit (+$tolerance%)"
if (( count > limit )); then
  echo "perf-gate: FAILED — the hot path got slower; profile it (docs/performance.md), or record" >&2
  echo "           the new figure with 'scripts/perf-gate.sh --print' if the cost is intended." >&2
  exit 1
fi
echo "perf-gate: ok"
