#!/usr/bin/env bash
# Durable submissions/s of `polycloud serve` and the latency of an
# acknowledged submit (issue 12), loaded with wrk (Debian `wrk`:
# scripts/install-deps.sh bench) through a Lua script that POSTs /v1/jobs
# with a tenant token and a fresh Idempotency-Key per request. For each store
# (SQLite in a temp folder; PostgreSQL 15 started by scripts/postgres.sh,
# fsync on): a run at the highest rate wrk reaches with C connections, then
# one paced at half that rate (each connection waits before its next
# request). The broker serves the shipped example's fleet
# (examples/openai-2025.yaml, sim sites) and places what arrives, so the
# scheduling passes run under the load: their placement decisions/s, from
# /metrics, stand beside the offline figure of bench/placement_benchmark.
# Beside them, sbatch submissions/s to a loopback Slurm cluster (root and the
# Slurm packages; skipped otherwise). Prints a table.
#
#   bench/serve_wrk.sh                                   # 10 s per run, 64 connections, SQLite and PostgreSQL
#   SECONDS_EACH=20 CONNECTIONS=128 STORES=sqlite bench/serve_wrk.sh
#   NO_SLURM=1 NO_OFFLINE=1 bench/serve_wrk.sh
#
# wrk is closed-loop: a stalled server sends fewer requests rather than
# showing the stall as latency (coordinated omission), so p99 is a floor.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build/release}
SECONDS_EACH=${SECONDS_EACH:-10}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-2}
SERVER_THREADS=${SERVER_THREADS:-16}
STORES=${STORES:-"sqlite postgres"}

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
rate() { awk '/^Requests\/sec:/ { printf "%d", $2 }' "$1"; }
non2xx() { awk '/Non-2xx or 3xx responses:/ { print $5 }' "$1"; }

start_broker() {  # store-location
  rm -f "$W/serve.log"
  "$PC" serve --scenario examples/openai-2025.yaml --store "$1" --listen 127.0.0.1:0 \
    --threads "$SERVER_THREADS" --tick 1s >"$W/serve.log" 2>&1 &
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

rows=()
# One wrk run: label delay_ms -> a table row; sets LAST_RATE.
load() {
  local label="$1" pause="$2" out="$W/wrk-$1-$2.txt"
  local c0 b0 d0 s0 p0
  c0=$(metric polycloud_commands_total); b0=$(metric polycloud_group_commits_total)
  d0=$(metric polycloud_placement_decisions_total); s0=$(metric polycloud_scheduling_pass_seconds_total)
  p0=$(metric polycloud_scheduling_passes_total)
  KEY_PREFIX="$label-$pause-$RANDOM" DELAY_MS="$pause" TOKEN="$TOKEN" \
    wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency -s "$W/submit.lua" "$URL/v1/jobs" >"$out"
  local c1 b1 d1 s1 p1
  c1=$(metric polycloud_commands_total); b1=$(metric polycloud_group_commits_total)
  d1=$(metric polycloud_placement_decisions_total); s1=$(metric polycloud_scheduling_pass_seconds_total)
  p1=$(metric polycloud_scheduling_passes_total)
  LAST_RATE=$(rate "$out")
  local bad; bad=$(non2xx "$out"); bad=${bad:-0}
  local per_commit decisions passes
  per_commit=$(awk -v c=$((c1 - c0)) -v b="$b1" -v a="$b0" 'BEGIN { if (b > a) printf "%.1f", c / (b - a); else print "-" }')
  decisions=$(awk -v d="$d1" -v e="$d0" -v s="$s1" -v t="$s0" 'BEGIN { if (s > t) printf "%d", (d - e) / (s - t); else print "-" }')
  passes=$(awk -v p="$p1" -v q="$p0" -v s="$s1" -v t="$s0" -v d="$d1" -v e="$d0" 'BEGIN {
    if (p > q) printf "%d passes, %.0f decisions and %.1f ms each", p - q, (d - e) / (p - q), 1000 * (s - t) / (p - q); else print "-" }')
  rows+=("| $STORE_LABEL | $([[ $pause == 0 ]] && echo "max, $CONNECTIONS conn." || echo "paced: ${pause} ms between requests") | **$LAST_RATE** | $(pct_ms 50 "$out") | $(pct_ms 90 "$out") | $(pct_ms 99 "$out") | $bad | $per_commit | $decisions ($passes) |")
  echo "  $label pause ${pause} ms: $LAST_RATE submits/s, p50 $(pct_ms 50 "$out") ms, p99 $(pct_ms 99 "$out") ms, non-2xx $bad" >&2
}

for store in $STORES; do
  case "$store" in
    sqlite) LOC="sqlite:$W/sqlite/broker.db"; mkdir -p "$W/sqlite"; STORE_LABEL=SQLite ;;
    postgres)
      rc=0; bash scripts/postgres.sh start "$W/pg" >"$W/pg.log" 2>&1 || rc=$?
      if [[ $rc -ne 0 ]]; then echo "serve_wrk: no PostgreSQL ($(tail -1 "$W/pg.log")); skipped" >&2; continue; fi
      LOC=$(bash scripts/postgres.sh url "$W/pg"); STORE_LABEL="PostgreSQL 15" ;;
    *) echo "serve_wrk: unknown store $store" >&2; exit 2 ;;
  esac
  TOKEN=$("$PC" token create --store "$LOC" --role tenant --tenant bench 2>/dev/null)
  start_broker "$LOC"
  echo "== $STORE_LABEL: $URL" >&2
  # Warm up (connections, statement caches, the first passes).
  KEY_PREFIX="warm-$RANDOM" DELAY_MS=0 TOKEN="$TOKEN" wrk -t1 -c8 -d2s -s "$W/submit.lua" "$URL/v1/jobs" >/dev/null
  load "$store" 0
  max=$LAST_RATE
  # Half the rate: each connection waits so that C connections send max/2 a second.
  pause=$(awk -v c="$CONNECTIONS" -v m="$max" 'BEGIN { p = int(1000 * c / (m / 2)); print (p < 1 ? 1 : p) }')
  load "$store" "$pause"
  queued=$(curl -s "$URL/metrics" | awk '$1 ~ /^polycloud_queue_length/ { s += $2 } END { print s + 0 }')
  echo "  queued at the end: $queued; dispatched: $(metric polycloud_dispatches_total 2>/dev/null)" >&2
  stop_broker
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
  offline=$("$BUILD/bench/placement_benchmark" --benchmark_filter='BM_PlaceJob/8/0' --benchmark_format=json 2>/dev/null |
    jq -r '.benchmarks[0].decisions_per_s // empty' | awk '{ printf "%d", $1 }')
fi

echo
echo "polycloud serve, $SECONDS_EACH s per run, wrk -t$WRK_THREADS -c$CONNECTIONS (closed loop), $SERVER_THREADS server threads, $(nproc) cores shared by wrk, the broker and the store; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| store | load | acknowledged submits/s | p50 ms | p90 ms | p99 ms | non-2xx | submits per group commit | decisions/s in the passes |"
echo "|---|---|---|---|---|---|---|---|---|"
for r in "${rows[@]}"; do echo "$r"; done
[[ -n "$sbatch_row" ]] && echo "$sbatch_row"
[[ -n "$offline" ]] && echo && echo "Offline (bench/placement_benchmark BM_PlaceJob/8/0, the same 8-GPU request on the same fleet, nothing bound): $offline decisions/s"
