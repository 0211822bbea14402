#!/usr/bin/env bash
# `polycloud sweep --slurm` against a real Slurm 22.05 cluster on loopback
# (docs/whatif.md): scripts/slurm-clusters.sh starts cluster alpha in a fresh
# directory on free ports; the sweep submits a grid of four variants as one
# job array (sbatch --array --wait), each task runs `polycloud simulate` and
# writes its report into the output folder, and the sweep gathers one table.
# It checks that
#   - Slurm ran one array job with one task per variant (squeue/scontrol
#     show the array; each task left its Slurm output file);
#   - the gathered table equals, figure for figure, the table of the same
#     grid run locally (the same reports: simulate is deterministic);
#   - a variant that fails on the cluster is reported as failed, by name.
# CTest runs it as `sweep_slurm` (label slurm). Needs root and the Debian Slurm
# packages (scripts/install-deps.sh test); exits 77 (skipped) with the reason
# when any is missing.
#
#   bash tests/integration/sweep_slurm_test.sh [path/to/polycloud]
#   KEEP=1 ...   keep the directory
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
H="$ROOT/scripts/slurm-clusters.sh"
PC=${1:-$ROOT/build/release/apps/polycloud}
export PATH="$PATH:/usr/sbin:/sbin"
unset SLURM_CONF

now_ms() { date +%s%3N; }
T_START=$(now_ms)
D=""
failed=0

step() { echo "-- $* ($(( $(now_ms) - T_START ))ms)"; }
skip() { echo "SKIP sweep_slurm: $*"; exit 77; }
fail() {
  echo "FAIL: $*" >&2
  failed=1
  exit 1
}

cleanup() {
  local rc=$?
  [[ $failed -eq 1 && $rc -eq 0 ]] && rc=1
  if [[ -n "$D" && -f "$D/slurm/harness.conf" ]]; then
    "$H" stop --dir "$D/slurm" >/dev/null 2>&1 || echo "WARN: slurm-clusters.sh stop failed for $D/slurm" >&2
  fi
  if [[ -n "$D" ]]; then
    if [[ ($rc -ne 0 && $rc -ne 77) || -n "${KEEP:-}" ]]; then
      echo "kept $D (rm -rf $D when done)" >&2
    else
      rm -rf "$D"
    fi
  fi
  if [[ $rc -eq 0 ]]; then
    echo "PASS sweep_slurm in $(( $(now_ms) - T_START ))ms"
  elif [[ $rc -ne 77 ]]; then
    echo "FAIL sweep_slurm (rc $rc) after $(( $(now_ms) - T_START ))ms" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'fail "interrupted"' INT TERM

for b in munged sbatch squeue scontrol slurmctld slurmd; do
  command -v "$b" >/dev/null 2>&1 ||
    skip "'$b' not found: the Debian Slurm packages are not installed (scripts/install-deps.sh test installs them)"
done
[[ $(id -u) -eq 0 ]] || skip "needs root (the clusters run SlurmUser=root and slurmd needs root)"
[[ -x "$PC" ]] || fail "no polycloud binary at $PC (cmake --build build/release --target polycloud)"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
BASE=""
for _ in $(seq 50); do
  b=$(( 20000 + (RANDOM % 1200) * 10 ))
  ok=1
  for p in $b $((b + 1)); do port_free "$p" || { ok=0; break; }; done
  if [[ $ok -eq 1 ]]; then BASE=$b; break; fi
done
[[ -n "$BASE" ]] || fail "no free port range found in 20000-32000"

D=$(mktemp -d /tmp/polycloud-sweep-slurm.XXXXXX)
chmod 755 "$D"
step "start Slurm cluster alpha (port $BASE)"
"$H" start --dir "$D/slurm" --clusters alpha --port-base "$BASE" >"$D/slurm-start.out" 2>&1 ||
  { cat "$D/slurm-start.out" >&2; fail "slurm-clusters.sh start failed"; }
CONF="$D/slurm/alpha/slurm.conf"

SC="$ROOT/tests/scenarios/rofr.yaml"
GRID=(--vary 'pools.inc-h100.price_per_gpu_hour=2,3' --vary 'jobs.*.work_gpu_hours.scale=1,1.5')

step "sweep of 4 variants as a Slurm job array"
cd "$D" || fail "cd $D"
"$PC" sweep "$SC" "${GRID[@]}" --slurm --slurm-conf "$CONF" --partition gpu --out "$D/out" \
  --csv "$D/slurm.csv" >"$D/slurm.txt" 2>"$D/slurm.err" ||
  { cat "$D/slurm.err" >&2; fail "sweep --slurm exited $?"; }
cat "$D/slurm.txt"
grep -q "sweep ran as Slurm job array [0-9]" "$D/slurm.err" || fail "no job array reported: $(cat "$D/slurm.err")"
job=$(sed -n 's/.*Slurm job array \([0-9]*\).*/\1/p' "$D/slurm.err")
for i in 0 1 2 3; do
  [[ -s "$D/out/variant-$i.json" ]] || fail "variant $i has no report"
  ls "$D/out/slurm-${job}_$i.out" >/dev/null 2>&1 || fail "array task $i left no Slurm output (slurm-${job}_$i.out)"
done
SLURM_CONF=$CONF scontrol -o show job "$job" >"$D/job.txt" 2>&1 || true
grep -q "ArrayJobId=$job" "$D/job.txt" || fail "scontrol does not show array job $job: $(head -c 400 "$D/job.txt")"

step "the same grid here: the same table"
"$PC" sweep "$SC" "${GRID[@]}" -j 2 --csv "$D/local.csv" >/dev/null 2>"$D/local.err" ||
  { cat "$D/local.err" >&2; fail "local sweep failed"; }
cmp -s "$D/slurm.csv" "$D/local.csv" || { diff "$D/slurm.csv" "$D/local.csv" >&2; fail "slurm and local tables differ"; }
[[ $(wc -l <"$D/slurm.csv") -eq 5 ]] || fail "expected 4 rows: $(cat "$D/slurm.csv")"

step "a variant that fails on the cluster is named"
# Valid when checked, but its report cannot be written on the cluster: the
# output folder's variant-1.json is a directory.
mkdir -p "$D/out2/variant-1.json/keep"
"$PC" sweep "$SC" --vary 'pools.inc-h100.price_per_gpu_hour=2,3' --slurm --slurm-conf "$CONF" \
  --out "$D/out2" >"$D/fail.txt" 2>"$D/fail.err"
rc=$?
[[ $rc -ne 0 ]] || fail "a failed variant did not fail the sweep"
grep -q "sweep variant pools.inc-h100.price_per_gpu_hour=3 failed" "$D/fail.err" ||
  fail "the failed variant is not named: $(cat "$D/fail.err")"
grep -q "failed" "$D/fail.txt" || fail "the table does not mark the failed variant"
exit 0
