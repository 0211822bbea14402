#!/usr/bin/env bash
# kill -9 under load for `polycloud serve` (issue 12): client processes
# submit jobs with unique idempotency keys while the broker is SIGKILLed at
# random moments and restarted on the same store; then 0 acknowledged
# submissions lost, 0 runs dispatched twice, 0 left disagreeing with the
# sites (tests/integration/serve_chaos.cc says exactly what is checked).
# This script sets up what the driver needs (a PostgreSQL, Slurm clusters)
# and tears it down after; CTest runs it bounded (serve_chaos_sqlite,
# serve_chaos_postgres), a longer run is by hand:
#
#   scripts/serve-chaos.sh                                  # 500 submissions, SQLite, local sites
#   scripts/serve-chaos.sh --submissions 10000 --kills 10 --run-kills 3
#   scripts/serve-chaos.sh --store postgres --submissions 10000 --kills 10
#   scripts/serve-chaos.sh --sites slurm --submissions 10000 --kills 10 --observe 20
#
# Options: --store sqlite|postgres, --sites local|slurm, --submissions N,
# --clients C (4), --kills K (3, while submitting), --run-kills R (2, while
# jobs run), --seed S, --keep (keep the folders), --settle S / --observe S
# (how long to wait for the end / watch the sites), --polycloud BIN and
# --chaos BIN (default: build/release, built when missing).
# --store postgres starts a throwaway PostgreSQL 15 with scripts/postgres.sh
# (fsync on); --sites slurm starts two loopback clusters of 2 nodes x 64 GPUs
# with scripts/slurm-clusters.sh (needs root). Exit codes: 0 pass, 1 a check
# failed, 77 a service it needs is not installed (CTest's skip).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build/release}
STORE=sqlite
SITES=local
PC=""
CHAOS=""
pass=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --store) STORE="$2"; shift 2 ;;
    --sites) SITES="$2"; shift 2 ;;
    --polycloud) PC="$2"; shift 2 ;;
    --chaos) CHAOS="$2"; shift 2 ;;
    --keep) pass+=(--keep); KEEP=1; shift ;;
    --submissions|--clients|--kills|--run-kills|--seed|--settle|--observe) pass+=("$1" "$2"); shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "serve-chaos: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$STORE" == sqlite || "$STORE" == postgres ]] || { echo "serve-chaos: --store sqlite or postgres" >&2; exit 2; }
[[ "$SITES" == local || "$SITES" == slurm ]] || { echo "serve-chaos: --sites local or slurm" >&2; exit 2; }
if [[ -z "$PC" || -z "$CHAOS" ]]; then
  cmake --build "$BUILD" -j2 --target polycloud serve_chaos >/dev/null
  PC=${PC:-$BUILD/apps/polycloud}
  CHAOS=${CHAOS:-$BUILD/tests/serve_chaos}
fi

D=$(mktemp -d /tmp/polycloud-chaos.XXXXXX)
chmod 755 "$D"
chaos_pid=""
cleanup() {
  local rc=$?
  # The driver runs in a process group of its own (set -m below): when it
  # failed, died or was stopped, its clients, its broker and the runs they
  # started may still be alive; they go with the whole group.
  if [[ -n "$chaos_pid" ]] && kill -0 -- "-$chaos_pid" 2>/dev/null; then
    kill -TERM -- "-$chaos_pid" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 -- "-$chaos_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$chaos_pid" 2>/dev/null || true
  fi
  [[ -f "$D/pg/url" ]] && bash "$ROOT/scripts/postgres.sh" stop "$D/pg" --immediate >/dev/null 2>&1 || true
  [[ -f "$D/slurm/harness.conf" ]] && bash "$ROOT/scripts/slurm-clusters.sh" stop --dir "$D/slurm" >/dev/null 2>&1 || true
  if [[ $rc -eq 0 && -z "${KEEP:-}" ]] || [[ $rc -eq 77 ]]; then rm -rf "$D"; else echo "serve-chaos: kept $D" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
# A signal (CTest's timeout, ^C) ends the script through cleanup too.
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

store_arg=sqlite
if [[ "$STORE" == postgres ]]; then
  rc=0
  bash "$ROOT/scripts/postgres.sh" start "$D/pg" >"$D/pg.log" 2>&1 || rc=$?
  if [[ $rc -eq 77 ]]; then echo "SKIP serve-chaos: $(cat "$D/pg/unavailable" 2>/dev/null || tail -1 "$D/pg.log")"; exit 77; fi
  [[ $rc -eq 0 ]] || { cat "$D/pg.log" >&2; echo "serve-chaos: postgres.sh start failed" >&2; exit 1; }
  store_arg=$(bash "$ROOT/scripts/postgres.sh" url "$D/pg")
fi

slurm_args=()
if [[ "$SITES" == slurm ]]; then
  command -v slurmctld >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v slurmctld >/dev/null 2>&1 ||
    { echo "SKIP serve-chaos: Slurm is not installed (scripts/install-deps.sh test)"; exit 77; }
  [[ $(id -u) -eq 0 ]] || { echo "SKIP serve-chaos: Slurm sites need root"; exit 77; }
  export PATH="$PATH:/usr/sbin:/sbin"
  base=""
  for _ in $(seq 50); do
    b=$(( 20000 + (RANDOM % 1200) * 10 )); ok=1
    for p in $b $((b + 1)) $((b + 2)) $((b + 10)) $((b + 11)) $((b + 12)); do
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && { ok=0; break; }
    done
    [[ $ok -eq 1 ]] && { base=$b; break; }
  done
  [[ -n "$base" ]] || { echo "serve-chaos: no free ports for Slurm" >&2; exit 1; }
  bash "$ROOT/scripts/slurm-clusters.sh" start --dir "$D/slurm" --clusters alpha,beta --nodes 2 \
    --gpus-per-node 64 --port-base "$base" >"$D/slurm.log" 2>&1 || { cat "$D/slurm.log" >&2; exit 1; }
  slurm_args=(--sites slurm --slurm-dir "$D/slurm" --slurm-clusters alpha,beta --site-gpus 128)
fi

# In its own process group (job control on for this one start), so that
# cleanup can end everything it started, however it ends.
set -m
"$CHAOS" --polycloud "$PC" --store "$store_arg" --dir "$D/run" "${slurm_args[@]}" "${pass[@]}" &
chaos_pid=$!
set +m
rc=0
wait "$chaos_pid" || rc=$?
exit "$rc"
