#!/usr/bin/env bash
# Durable submissions/s of `polycloud serve` and the latency of an
# acknowledged submit (issue 12), loaded with wrk (Debian `wrk`:
# scripts/install-deps.sh bench) through a Lua script that POSTs /v1/jobs
# with a tenant token and a fresh Idempotency-Key per request. For each store
# (SQLite in a temp folder; PostgreSQL 15 started by scripts/postgres.sh,
# fsync on): a run at the highest rate wrk reaches with C connections, then
# one paced at half that rate (each connection waits before its next
# request). Each request is an 8-GPU research gang (H100, GB200 or GB300).
# Stores: sqlite (synchronous=FULL, the default: an fsync per group commit),
# sqlite-normal (synchronous=normal: survives a kill -9, not a power loss;
# docs/store.md) and postgres.
# The submit table runs on a small fleet (ten pools of 64 GPUs at five
# providers, sim sites): the first 80 jobs run and the rest wait, so it
# measures the submit path itself. The decisions table runs at the highest
# rate on the shipped example's fleet (examples/openai-2025.yaml, sim
# sites), where every job is placed and dispatched: the placement decisions
# the scheduling passes make under that load, per second of wall time and of
# the loop thread's CPU time (from /metrics), beside the offline figure of
# bench/placement_benchmark, and the runs dispatched (the dispatch journal
# shares the store with the submits). Beside them, sbatch submissions/s to a
# loopback Slurm cluster (root and the Slurm packages; skipped otherwise).
# Prints both tables.
#
#   bench/serve_wrk.sh                                   # 10 s per run, 256 connections, every store
#   SECONDS_EACH=20 CONNECTIONS=128 SERVER_THREADS=16 STORES=sqlite bench/serve_wrk.sh
# SERVER_THREADS defaults to 2 (the cores): POST /v1/jobs is answered
# asynchronously, so more threads only add context switches (16, serve's
# default for its blocking routes, measured about half the rate).
#   NO_SLURM=1 NO_OFFLINE=1 NO_DECISIONS=1 bench/serve_wrk.sh
#
# wrk is closed-loop: a stalled server sends fewer requests rather than
# showing the stall as latency (coordinated omission), so p99 is a floor.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build/release}
SECONDS_EACH=${SECONDS_EACH:-10}
CONNECTIONS=${CONNECTIONS:-256}
WRK_THREADS=${WRK_THREADS:-2}
SERVER_THREADS=${SERVER_THREADS:-2}
STORES=${STORES:-"sqlite sqlite-normal postgres"}

command -v wrk >/dev/null || { echo "serve_wrk: wrk is not installed (scripts/install-deps.sh bench)" >&2; exit 1; }
command -v jq >/dev/null || { echo "serve_wrk: jq is not installed (scripts/install-deps.sh test)" >&2; exit 1; }
targets=(polycloud)
[[ -z "${NO_OFFLINE:-}" ]] && targets+=(placement_benchmark)
cmake --build "$BUILD" -j2 --target "${targets[@]}" >/dev/null
PC="$BUILD/apps/polycloud"

W=$(mktemp -d /tmp/polycloud-serve-wrk.XXXXXX)
chmod 755 "$W"
SERVE_PID=""
cleanup() {
  [[ -n "$SERVE_PID" ]] && { kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; }
  [[ -f "$W/pg/url" ]] && bash scripts/postgres.sh stop "$W/pg" --immediate >/dev/null 2>&1 || true
  [[ -f "$W/slurm/harness.conf" ]] && bash scripts/slurm-clusters.sh stop --dir "$W/slurm" >/dev/null 2>&1 || true
  [[ -n "${KEEP:-}" ]] && echo "kept $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT

QUEUE_FLEET="$W/fleet.yaml"
{
  echo "name: serve-wrk-queue"; echo "start: 2026-01-01"; echo "end: 2031-01-01"
  echo "providers: [{id: azure}, {id: aws}, {id: oracle}, {id: gcp}, {id: coreweave}]"
  echo "sites:"
  for p in azure aws oracle gcp coreweave; do echo "  - {id: $p-1, provider: $p}"; done
  echo "pools:"
  i=0
  for p in azure aws oracle gcp coreweave; do
    for a in H100 GB200; do
      [[ $p == oracle && $a == GB200 ]] && a=GB300
      echo "  - {id: $p-$a, site: $p-1, accelerator: $a, pricing: on-demand, gpus: 64, price_per_gpu_hour: $((2 + i % 4))}"
      i=$((i + 1))
    done
  done
} >"$QUEUE_FLEET"

# A research gang of 8 GPUs on H100/GB200/GB300, as placement_benchmark
# decides; a fresh idempotency key per request (thread id, random, counter).
cat >"$W/submit.lua" <<'LUA'
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  math.randomseed(os.time() + tid)
  prefix = os.getenv("KEY_PREFIX") .. "-" .. tid .. "-" .. math.random(1, 1000000000) .. "-"
  counter = 0
  pause = tonumber(os.getenv("DELAY_MS") or "0")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
  wrk.body = '{"gpus":8,"work_gpu_hours":8,"class":"research","accelerators":["H100","GB200","GB300"],"priority":100}'
end
function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = prefix .. counter
  return wrk.format(nil, "/v1/jobs")
end
function delay()
  return pause
end
LUA

metric() {  # name -> value from /metrics
  curl -s "$URL/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
# wrk's "Latency Distribution" line for a percentile, in ms.
pct_ms() {
  awk -v p="$1%" '$1 == p { v = $2; u = v; gsub(/[0-9.]/, "", u); gsub(/[a-z]/, "", v);
    if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000; printf "%.2f", v }' "$2"
}
# The slowest request (wrk's thread statistics: Latency avg stdev max).
max_ms() {
  awk '$1 == "Latency" && NF >= 4 { v = $4; u = v; gsub(/[0-9.]/, "", u); gsub(/[a-z]/, "", v);
    if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000; printf "%.1f", v; exit }' "$1"
}
rate() { awk '/^Requests\/sec:/ { printf "%d", $2 }' "$1"; }
non2xx() { awk '/Non-2xx or 3xx responses:/ { print $5 }' "$1"; }

start_broker() {  # scenario store-location
  rm -f "$W/serve.log"
  "$PC" serve --scenario "$1" --store "$2" --listen 127.0.0.1:0 \
    --threads "$SERVER_THREADS" --tick "${TICK:-1s}" >"$W/serve.log" 2>&1 &
  SERVE_PID=$!
  for _ in $(seq 600); do
    grep -q 'listening on http://' "$W/serve.log" 2>/dev/null && break
    kill -0 "$SERVE_PID" 2>/dev/null || { cat "$W/serve.log" >&2; exit 1; }
    sleep 0.05
  done
  URL=$(sed -n 's|.*listening on \(http://[0-9.:]*\).*|\1|p' "$W/serve.log" | head -1)
}
stop_broker() {
  kill "$SERVE_PID" 2>/dev/null || true
  wait "$SERVE_PID" 2>/dev/null || true
  SERVE_PID=""
}

# The counters a run's figures come from, as "name value" lines.
COUNTERS="polycloud_commands_total polycloud_group_commits_total polycloud_placement_decisions_total
polycloud_scheduling_pass_seconds_total polycloud_scheduling_pass_cpu_seconds_total
polycloud_scheduling_passes_total"
snapshot() {
  curl -s "$URL/metrics" | awk -v names="$COUNTERS" 'BEGIN { n = split(names, a); for (i = 1; i <= n; i++) want[a[i]] = 1 }
    $1 in want { print $1, $2 } $1 == "polycloud_dispatches_total{outcome=\"submitted\"}" { print "dispatched", $2 }'
}
delta() {  # before after name
  awk -v n="$3" 'FNR == NR { if ($1 == n) b = $2; next } $1 == n { printf "%.6f", $2 - b }' "$1" "$2"
}

submit_rows=()
decision_rows=()
# One wrk run: kind (submit|decisions) pause_ms; sets LAST_RATE.
load() {
  local kind="$1" pause="$2" out="$W/wrk-$STORE-$1-$2.txt"
  snapshot >"$W/before"
  KEY_PREFIX="$STORE-$kind-$pause-$RANDOM" DELAY_MS="$pause" TOKEN="$TOKEN" \
    wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency -s "$W/submit.lua" "$URL/v1/jobs" >"$out"
  snapshot >"$W/after"
  LAST_RATE=$(rate "$out")
  local bad; bad=$(non2xx "$out"); bad=${bad:-0}
  local d=() n
  for n in polycloud_commands_total polycloud_group_commits_total polycloud_placement_decisions_total \
           polycloud_scheduling_pass_seconds_total polycloud_scheduling_pass_cpu_seconds_total \
           polycloud_scheduling_passes_total dispatched; do
    d+=("$(delta "$W/before" "$W/after" "$n")")
  done
  local per_commit
  per_commit=$(awk -v c="${d[0]}" -v b="${d[1]}" 'BEGIN { if (b > 0) printf "%.1f", c / b; else print "-" }')
  local load_text="max, $CONNECTIONS conn."
  [[ $pause != 0 ]] && load_text="paced: $pause ms between requests"
  echo "  $STORE_LABEL $kind, $load_text: $LAST_RATE submits/s, p50 $(pct_ms 50 "$out") ms, p99 $(pct_ms 99 "$out") ms, non-2xx $bad" >&2
  if [[ $kind == submit ]]; then
    submit_rows+=("| $STORE_LABEL | $load_text | **$LAST_RATE** | $(pct_ms 50 "$out") | $(pct_ms 90 "$out") | $(pct_ms 99 "$out") | $(max_ms "$out") | $bad | $per_commit |")
  else
    decision_rows+=("$(awk -v st="$STORE_LABEL" -v r="$LAST_RATE" -v p99="$(pct_ms 99 "$out")" -v dec="${d[2]}" -v wall="${d[3]}" \
      -v cpu="${d[4]}" -v passes="${d[5]}" -v disp="${d[6]}" -v secs="$SECONDS_EACH" 'BEGIN {
      printf "| %s | %d | %s | %d | %d | %.1f | **%d** | **%d** | %d |", st, r, p99, passes, dec,
        (passes > 0 ? 1000 * wall / passes : 0), (wall > 0 ? dec / wall : 0), (cpu > 0 ? dec / cpu : 0), disp / secs }')")
  fi
}

for store in $STORES; do
  STORE=$store
  case "$store" in
    sqlite) STORE_LABEL=SQLite ;;
    sqlite-normal) STORE_LABEL="SQLite synchronous=normal" ;;
    postgres)
      rc=0; bash scripts/postgres.sh start "$W/pg" >"$W/pg.log" 2>&1 || rc=$?
      if [[ $rc -ne 0 ]]; then echo "serve_wrk: no PostgreSQL ($(tail -1 "$W/pg.log")); skipped" >&2; continue; fi
      STORE_LABEL="PostgreSQL 15" ;;
    *) echo "serve_wrk: unknown store $store" >&2; exit 2 ;;
  esac
  fleets=(queue)
  [[ -z "${NO_DECISIONS:-}" ]] && fleets+=(example)
  for fleet in "${fleets[@]}"; do
    # A fresh store for each fleet: an empty log, an empty database.
    if [[ $store == sqlite* ]]; then
      rm -rf "$W/sqlite"; mkdir -p "$W/sqlite"; LOC="sqlite:$W/sqlite/broker.db"
      [[ $store == sqlite-normal ]] && LOC="$LOC?synchronous=normal"
    else
      psql "$(bash scripts/postgres.sh url "$W/pg")" -q -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;' >/dev/null 2>&1 || true
      LOC=$(bash scripts/postgres.sh url "$W/pg")
    fi
    TOKEN=$("$PC" token create --store "$LOC" --role tenant --tenant bench 2>/dev/null)
    scenario=$QUEUE_FLEET
    [[ $fleet == example ]] && scenario=examples/openai-2025.yaml
    start_broker "$scenario" "$LOC"
    echo "== $STORE_LABEL, $fleet fleet: $URL" >&2
    # Warm up (connections, statement caches, the first passes).
    KEY_PREFIX="warm-$RANDOM" DELAY_MS=0 TOKEN="$TOKEN" wrk -t1 -c8 -d2s -s "$W/submit.lua" "$URL/v1/jobs" >/dev/null
    if [[ $fleet == queue ]]; then
      load submit 0
      # Half the rate: each connection waits so that C connections send max/2 a second.
      pause=$(awk -v c="$CONNECTIONS" -v m="$LAST_RATE" 'BEGIN { p = int(1000 * c / (m / 2)); print (p < 1 ? 1 : p) }')
      load submit "$pause"
    else
      load decisions 0
    fi
    stop_broker
  done
  [[ "$store" == postgres ]] && bash scripts/postgres.sh stop "$W/pg" --immediate >/dev/null 2>&1
done

sbatch_row=""
if [[ -z "${NO_SLURM:-}" && $(id -u) -eq 0 ]] && PATH="$PATH:/usr/sbin" command -v slurmctld >/dev/null; then
  export PATH="$PATH:/usr/sbin:/sbin"
  base=$(( 20000 + (RANDOM % 1200) * 10 ))
  if bash scripts/slurm-clusters.sh start --dir "$W/slurm" --clusters beta --port-base "$base" >"$W/slurm.log" 2>&1; then
    export SLURM_CONF="$W/slurm/beta/slurm.conf"
    t0=$(date +%s%N)
    for _ in $(seq 200); do sbatch -Q --hold -o /dev/null --job-name polycloud-intake --wrap true; done
    t1=$(date +%s%N)
    seq 200 | xargs -P 4 -I{} sbatch -Q --hold -o /dev/null --job-name polycloud-intake4 --wrap true
    t2=$(date +%s%N)
    one=$(( 200 * 1000000000 / (t1 - t0) )); four=$(( 200 * 1000000000 / (t2 - t1) ))
    sbatch_row="| sbatch --hold to a loopback Slurm 22.05 (the anchor) | one client / 4 in parallel | **$one** / $four | | | | | | |"
    unset SLURM_CONF
  else
    echo "serve_wrk: Slurm did not start; sbatch row skipped ($(tail -1 "$W/slurm.log"))" >&2
  fi
fi

offline=""
if [[ -z "${NO_OFFLINE:-}" ]]; then
  offline=$("$BUILD/bench/placement_benchmark" --benchmark_filter='BM_PlaceJob/gpus:8/explain:0$' --benchmark_format=json 2>/dev/null |
    jq -r '.benchmarks[0].decisions_per_s // empty' | awk '{ printf "%d", $1 }')
fi

echo
echo "polycloud serve, $SECONDS_EACH s per run, wrk -t$WRK_THREADS -c$CONNECTIONS (closed loop), $SERVER_THREADS server threads, $(nproc) cores shared by wrk, the broker and the store; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "Durable submits (small fleet: the first 80 jobs run, the rest wait):"
echo
echo "| store | load | acknowledged submits/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | submits per group commit |"
echo "|---|---|---|---|---|---|---|---|---|"
for r in "${submit_rows[@]}"; do echo "$r"; done
[[ -n "$sbatch_row" ]] && echo "$sbatch_row"
if [[ ${#decision_rows[@]} -gt 0 ]]; then
  echo
  echo "Decisions under load (the example's fleet, every job placed and dispatched to its sim site):"
  echo
  echo "| store | submits/s | p99 ms | passes | decisions | ms per pass | decisions/s (wall) | decisions/s (loop CPU) | runs dispatched/s |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for r in "${decision_rows[@]}"; do echo "$r"; done
fi
if [[ -n "$offline" ]]; then echo; echo "Offline: bench/placement_benchmark BM_PlaceJob/gpus:8/explain:0 (the same request on the same fleet, nothing bound): $offline decisions/s"; fi
