#!/usr/bin/env bash
# `polycloud serve` against two real Slurm 22.05 clusters on loopback (issue
# 12): the broker binary, its HTTP API and the CLI client, end to end. Two
# sites, alpha and beta, each backed by one cluster that
# scripts/slurm-clusters.sh starts in a fresh directory on free ports; the
# broker on SQLite in the same directory. It checks that
#   - a submission appears at the right cluster as pc-<job>-r<run> with
#     --gres=gpu:N, completes, and the job is `done`, billed for the run time
#     Slurm recorded (the job's spend and the contract's ledger);
#   - cancel reaches Slurm (scancel: the job leaves squeue's queue);
#   - with alpha's slurmctld killed, alpha is marked down within the grace
#     period (--site-grace 5s, --tick 1s), its running job moves to beta, and
#     explain and the event stream say why; the run left at alpha is cancelled
#     there when its controller is back; alpha comes back up in /v1/sites.
# CTest runs it as `serve_slurm` (label slurm). Needs root, the Debian Slurm
# packages (scripts/install-deps.sh test), curl and jq; exits 77 (skipped)
# with the reason when any is missing.
#
#   bash tests/integration/serve_slurm_test.sh [path/to/polycloud]
#   KEEP=1 ...   keep the directory (scenario, broker log, Slurm logs)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
H="$ROOT/scripts/slurm-clusters.sh"
PC=${1:-$ROOT/build/release/apps/polycloud}
export PATH="$PATH:/usr/sbin:/sbin"
unset SLURM_CONF POLYCLOUD_TOKEN POLYCLOUD_SERVER

now_ms() { date +%s%3N; }
T_START=$(now_ms)
D=""
SERVE_PID=""
failed=0

step() { echo "-- $* ($(( $(now_ms) - T_START ))ms)"; }
skip() { echo "SKIP serve_slurm: $*"; exit 77; }
fail() {
  echo "FAIL: $*" >&2
  failed=1
  exit 1
}

cleanup() {
  local rc=$?
  [[ $failed -eq 1 && $rc -eq 0 ]] && rc=1
  if [[ -n "$SERVE_PID" ]]; then kill "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null; fi
  if [[ -n "$D" && -f "$D/slurm/harness.conf" ]]; then
    "$H" stop --dir "$D/slurm" >/dev/null 2>&1 || echo "WARN: slurm-clusters.sh stop failed for $D/slurm" >&2
  fi
  if [[ -n "$D" ]]; then
    if [[ $rc -ne 0 && $rc -ne 77 ]]; then
      echo "--- the broker's log (last 30 lines):" >&2
      tail -n 30 "$D/serve.log" >&2 2>/dev/null
    fi
    if [[ ($rc -ne 0 && $rc -ne 77) || -n "${KEEP:-}" ]]; then
      echo "kept $D (rm -rf $D when done)" >&2
    else
      rm -rf "$D"
    fi
  fi
  if [[ $rc -eq 0 ]]; then
    echo "PASS serve_slurm in $(( $(now_ms) - T_START ))ms"
  elif [[ $rc -ne 77 ]]; then
    echo "FAIL serve_slurm (rc $rc) after $(( $(now_ms) - T_START ))ms" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'fail "interrupted"' INT TERM

# ------------------------------------------------------------------ prerequisites
for b in munged sbatch squeue scontrol scancel slurmctld slurmd; do
  command -v "$b" >/dev/null 2>&1 ||
    skip "'$b' not found: the Debian Slurm packages are not installed (scripts/install-deps.sh test installs them)"
done
for b in curl jq; do
  command -v "$b" >/dev/null 2>&1 || skip "'$b' not found (scripts/install-deps.sh test installs it)"
done
[[ $(id -u) -eq 0 ]] || skip "needs root (the clusters run SlurmUser=root and slurmd needs root)"
[[ -x "$PC" ]] || fail "no polycloud binary at $PC (cmake --build build/release --target polycloud)"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
BASE=""
for _ in $(seq 50); do
  b=$(( 20000 + (RANDOM % 1200) * 10 ))
  ok=1
  for p in $b $((b + 1)) $((b + 10)) $((b + 11)); do port_free "$p" || { ok=0; break; }; done
  if [[ $ok -eq 1 ]]; then BASE=$b; break; fi
done
[[ -n "$BASE" ]] || fail "no free port range found in 20000-32000"

D=$(mktemp -d /tmp/polycloud-serve-slurm.XXXXXX)
chmod 755 "$D"

# ------------------------------------------------------------------ clusters and scenario
step "start Slurm clusters alpha, beta (ports $BASE, $((BASE + 10)))"
"$H" start --dir "$D/slurm" --clusters alpha,beta --port-base "$BASE" >"$D/slurm-start.out" 2>&1 ||
  { cat "$D/slurm-start.out" >&2; fail "slurm-clusters.sh start failed"; }
A="$D/slurm/alpha/slurm.conf"
B="$D/slurm/beta/slurm.conf"

# An accelerator 100 times an H100, so that a job of 1 reference GPU-hour
# runs 3600 / (100 x GPUs) seconds: 5 s on 8 GPUs, 9 s on 4 (the slurm
# driver runs `sleep <expected seconds>`). alpha is cheaper and holds a
# take-or-pay contract, so work goes there first.
cat >"$D/fleet.yaml" <<EOF
name: serve-slurm-test
start: 2026-01-01
end: 2031-01-01
accelerators:
  - {name: FAST, memory_gb: 80, watts: 700, speed: 100}
providers: [{id: alpha-cloud}, {id: beta-cloud}]
contracts:
  - {id: alpha-deal, provider: alpha-cloud, start: 2026-01-01, end: 2031-01-01, committed_usd: 1K, take_or_pay: true}
sites:
  - id: alpha
    provider: alpha-cloud
    backend: {kind: slurm, slurm_conf: $A, history: jobcomp, timeout: 20s}
  - id: beta
    provider: beta-cloud
    backend: {kind: slurm, slurm_conf: $B, history: jobcomp, timeout: 20s}
pools:
  - {id: alpha-gpu, site: alpha, accelerator: FAST, pricing: on-demand, gpus: 8, price_per_gpu_hour: 2, partition: gpu, contract: alpha-deal}
  - {id: beta-gpu, site: beta, accelerator: FAST, pricing: on-demand, gpus: 8, price_per_gpu_hour: 4, partition: gpu}
EOF

STORE="sqlite:$D/broker.db"
token() { "$PC" token create --store "$STORE" "$@" 2>>"$D/tokens.err"; }
ADMIN=$(token --role admin) || fail "token create --role admin failed: $(cat "$D/tokens.err")"
TENANT=$(token --role tenant --tenant research) || fail "token create --role tenant failed"
[[ "$TENANT" == pc_* ]] || fail "a token should start with pc_, got '${TENANT:0:6}...'"

step "start polycloud serve (SQLite, --tick 1s --site-grace 5s)"
"$PC" serve --scenario "$D/fleet.yaml" --store "$STORE" --listen 127.0.0.1:0 --tick 1s \
  --site-grace 5s >"$D/serve.log" 2>&1 &
SERVE_PID=$!
end=$(( $(now_ms) + 20000 ))
until grep -q 'listening on http://' "$D/serve.log"; do
  kill -0 "$SERVE_PID" 2>/dev/null || fail "serve exited: $(cat "$D/serve.log")"
  [[ $(now_ms) -lt $end ]] || fail "serve did not listen within 20 s"
  sleep 0.05
done
URL=$(sed -n 's|.*listening on \(http://[0-9.:]*\).*|\1|p' "$D/serve.log" | head -1)
[[ -n "$URL" ]] || fail "no address in: $(cat "$D/serve.log")"
echo "   $URL"
grep -q "$TENANT" "$D/serve.log" && fail "a token's secret appears in the broker's log"

api() {  # token method path -> body on stdout; fails on a non-2xx
  local out code
  out=$(curl -s -S -X "$2" -H "Authorization: Bearer $1" -w '\n%{http_code}' "$URL$3") || return 1
  code=${out##*$'\n'}
  [[ "$code" == 2* ]] || { echo "$2 $3 -> HTTP $code: ${out%$'\n'*}" >&2; return 1; }
  printf '%s\n' "${out%$'\n'*}"
}
client() { POLYCLOUD_TOKEN="$TENANT" "$PC" "$@" --server "$URL"; }
job_field() { client status "$1" --json | jq -r ".$2"; }
wait_job() {  # job jq-condition timeout_s -> 0 when the job's JSON satisfies it
  local end=$(( $(now_ms) + $3 * 1000 )) j
  while :; do
    j=$(client status "$1" --json 2>/dev/null)
    [[ -n "$j" ]] && jq -e "$2" >/dev/null 2>&1 <<<"$j" && return 0
    if [[ $(now_ms) -ge $end ]]; then echo "job $1 never satisfied $2 in $3 s; last: $j" >&2; return 1; fi
    sleep 0.2
  done
}
sfield() { SLURM_CONF="$1" scontrol -o show job "$2" 2>/dev/null | tr ' ' '\n' | grep "^$3=" | cut -d= -f2-; }
sjob_by_name() {  # conf name -> "id|state|gres" of the newest such job
  SLURM_CONF="$1" squeue -h -a -t all --name "$2" -o '%i|%T|%b' 2>/dev/null | sort -t'|' -k1,1n | tail -1
}

# ------------------------------------------------------------------ submit -> Slurm -> done, billed
step "submit an 8-GPU job: it runs at alpha as pc-<job>-r<run> with gpu:8"
cat >"$D/job8.yaml" <<EOF
gpus: 8
work_gpu_hours: 1
class: training
EOF
J1=$(client submit "$D/job8.yaml" --key k-one) || fail "polycloud submit failed"
[[ "$J1" =~ ^j-[0-9]+$ ]] || fail "submit printed '$J1', wanted a job id"
again=$(client submit "$D/job8.yaml" --key k-one) || fail "second submit with the same key failed"
[[ "$again" == "$J1" ]] || fail "the same --key gave another job: $again, first $J1"
wait_job "$J1" '.site_job != null' 15 || fail "$J1 was not dispatched"
[[ $(job_field "$J1" site) == alpha ]] || fail "$J1 placed at $(job_field "$J1" site), wanted alpha (cheaper, contracted)"
RUN1=$(job_field "$J1" run)
SID1=$(job_field "$J1" site_job)
name=$(sfield "$A" "$SID1" JobName)
[[ "$name" == "pc-$J1-r$RUN1" ]] || fail "alpha's job $SID1 is named '$name', wanted pc-$J1-r$RUN1"
[[ $(sfield "$A" "$SID1" TresPerNode) == "gres:gpu:8" ]] || fail "alpha's job $SID1: TresPerNode $(sfield "$A" "$SID1" TresPerNode), wanted gres:gpu:8"
[[ $(sfield "$A" "$SID1" Partition) == gpu ]] || fail "alpha's job $SID1 is not in partition gpu"
[[ -z $(sjob_by_name "$B" "pc-$J1-r$RUN1") ]] || fail "$J1 also reached beta"
echo "   $J1 run $RUN1 = alpha job $SID1 ($name, gres:gpu:8)"

step "$J1 completes; the job is done and billed for the run Slurm recorded"
wait_job "$J1" '.status == "done"' 40 || fail "$J1 did not finish"
[[ $(sfield "$A" "$SID1" JobState) == COMPLETED ]] || fail "alpha's job $SID1 is $(sfield "$A" "$SID1" JobState)"
# Slurm's own start and end (Unix seconds with SLURM_TIME_FORMAT=%s).
start=$(SLURM_TIME_FORMAT=%s sfield "$A" "$SID1" StartTime)
stop=$(SLURM_TIME_FORMAT=%s sfield "$A" "$SID1" EndTime)
ran=$((stop - start))
(( ran >= 4 && ran <= 8 )) || fail "Slurm ran $SID1 for $ran s, expected about 5 (sleep 5)"
spend=$(job_field "$J1" spend_usd)
# 8 GPUs x \$2/h: \$0.004444/s. The broker bills from Slurm's start until the
# look that saw the end (at most a tick, plus the look itself, later).
micros=$(awk -v s="$spend" 'BEGIN { printf "%d", s * 1000000 + 0.5 }')
lo=$(( ran * 16000000 / 3600 ))
hi=$(( (ran + 3) * 16000000 / 3600 ))
(( micros >= lo && micros <= hi )) ||
  fail "$J1 billed \$$spend for a $ran s run at 8 x \$2/h; wanted \$$(awk -v m=$lo 'BEGIN{printf "%.6f", m/1e6}')..\$$(awk -v m=$hi 'BEGIN{printf "%.6f", m/1e6}')"
ledger=$(api "$ADMIN" GET /v1/contracts) || fail "GET /v1/contracts failed"
spent=$(jq -r '.contracts[] | select(.id == "alpha-deal") | .spent_usd' <<<"$ledger")
# The contract bills the pool's GPUs from the placement (they are held for the
# job while Slurm starts it), the job from Slurm's start: the contract's spend
# is the job's plus at most a few seconds of the dispatch.
spent_micros=$(awk -v s="$spent" 'BEGIN { printf "%d", s * 1000000 + 0.5 }')
(( spent_micros >= micros && spent_micros <= micros + 4 * 16000000 / 3600 )) ||
  fail "the ledger's alpha-deal spent \$$spent for the job's \$$spend"
echo "   ran $ran s at Slurm; billed \$$spend to the job, \$$spent to alpha-deal (from the placement)"
api "$TENANT" GET /v1/contracts >/dev/null 2>&1 && fail "a tenant token read the ledger"

# ------------------------------------------------------------------ cancel -> scancel
step "submit, then cancel while it runs: scancel at alpha"
cat >"$D/job1.yaml" <<EOF
gpus: 1
work_gpu_hours: 2
EOF
J2=$(client submit "$D/job1.yaml" --key k-two) || fail "submit failed"
wait_job "$J2" '.site_job != null' 15 || fail "$J2 was not dispatched"
SID2=$(job_field "$J2" site_job)
end=$(( $(now_ms) + 20000 ))
until [[ $(sfield "$A" "$SID2" JobState) == RUNNING ]]; do
  [[ $(now_ms) -lt $end ]] || fail "alpha's job $SID2 never ran: $(sfield "$A" "$SID2" JobState)"
  sleep 0.2
done
client cancel "$J2" >/dev/null || fail "polycloud cancel $J2 failed"
[[ $(job_field "$J2" status) == cancelled ]] || fail "$J2 is not cancelled after cancel"
end=$(( $(now_ms) + 15000 ))
while SLURM_CONF="$A" squeue -h -o %i | grep -qx "$SID2"; do
  [[ $(now_ms) -lt $end ]] || fail "alpha's job $SID2 is still queued/running 15 s after cancel"
  sleep 0.2
done
echo "   alpha's job $SID2: $(sfield "$A" "$SID2" JobState), gone from squeue"

# ------------------------------------------------------------------ failover
step "a 4-GPU job runs at alpha; kill alpha's slurmctld"
cat >"$D/job4.yaml" <<EOF
gpus: 4
work_gpu_hours: 2
class: training
EOF
J3=$(client submit "$D/job4.yaml" --key k-three) || fail "submit failed"
wait_job "$J3" '.site_job != null' 15 || fail "$J3 was not dispatched"
[[ $(job_field "$J3" site) == alpha ]] || fail "$J3 placed at $(job_field "$J3" site), wanted alpha"
RUN3=$(job_field "$J3" run)
SID3=$(job_field "$J3" site_job)
end=$(( $(now_ms) + 20000 ))
until [[ $(sfield "$A" "$SID3" JobState) == RUNNING ]]; do
  [[ $(now_ms) -lt $end ]] || fail "alpha's job $SID3 never ran"
  sleep 0.2
done
"$H" kill-controller alpha --dir "$D/slurm" >/dev/null 2>&1 || fail "kill-controller alpha failed"
t_kill=$(now_ms)

step "within the grace period (5 s) plus a tick, $J3 moves to beta"
wait_job "$J3" '.site == "beta" and .site_job != null' 25 || fail "$J3 did not move to beta"
moved_ms=$(( $(now_ms) - t_kill ))
(( moved_ms <= 15000 )) || fail "$J3 moved $moved_ms ms after the kill; the grace is 5 s and a tick 1 s"
RUN3B=$(job_field "$J3" run)
SID3B=$(job_field "$J3" site_job)
[[ "$RUN3B" != "$RUN3" ]] || fail "the run at beta has the run id of alpha's ($RUN3)"
[[ $(sfield "$B" "$SID3B" JobName) == "pc-$J3-r$RUN3B" ]] || fail "beta's job $SID3B is named $(sfield "$B" "$SID3B" JobName)"
[[ $(sfield "$B" "$SID3B" TresPerNode) == "gres:gpu:4" ]] || fail "beta's job $SID3B is not gres:gpu:4"
[[ $(job_field "$J3" interruptions) == 1 ]] || fail "$J3 should count one interruption"
sites=$(api "$ADMIN" GET /v1/sites) || fail "GET /v1/sites failed"
[[ $(jq -r '.sites[] | select(.id == "alpha") | .down' <<<"$sites") == true ]] || fail "alpha is not down in /v1/sites: $sites"
echo "   moved $moved_ms ms after the kill: beta job $SID3B (pc-$J3-r$RUN3B, gres:gpu:4)"
echo "   alpha in /v1/sites: $(jq -c '.sites[] | select(.id == "alpha") | {down, last_error}' <<<"$sites")"
pools=$(api "$ADMIN" GET /v1/pools) || fail "GET /v1/pools failed"
[[ $(jq -r '.pools[] | select(.id == "alpha-gpu") | .installed_gpus' <<<"$pools") == 0 ]] ||
  fail "alpha-gpu still has capacity while alpha is down: $pools"

# explain and the event stream say why.
why=$(POLYCLOUD_TOKEN="$TENANT" "$PC" explain "$J3" --server "$URL") || fail "polycloud explain $J3 failed"
echo "$why" >"$D/explain.txt"
grep -q "job $J3 is running in beta-gpu" <<<"$why" || fail "explain $J3 does not say it runs in beta-gpu: $why"
grep -q 'alpha-gpu  \[capacity\].* 0 usable' <<<"$why" || fail "explain $J3 does not say alpha-gpu has no capacity: $why"
grep -q '^Site alpha is down: it has not answered since .*scontrol ping' <<<"$why" ||
  fail "explain $J3 does not say alpha is down and why: $why"
curl -s -N --max-time 2 -H "Authorization: Bearer $ADMIN" -H 'Accept: text/event-stream' \
  "$URL/v1/events" >"$D/events.txt" 2>/dev/null
sed -n 's/^data: //p' "$D/events.txt" >"$D/events.json"
n_down=$(jq -c 'select(.type == "site-down" and .site == "alpha")' "$D/events.json" | head -1)
[[ -n "$n_down" ]] || fail "no site-down event for alpha in the stream: $(tail -5 "$D/events.json")"
jq -e '.reason | test("scontrol ping")' <<<"$n_down" >/dev/null || fail "the site-down event gives no reason: $n_down"
order=$(jq -r 'select((.type == "site-down" and .site == "alpha") or (.type == "job-interrupted" and .job == "'"$J3"'")
                      or (.type == "pool-capacity" and .pool == "alpha-gpu" and .usable == 0)
                      or (.type == "job-started" and .job == "'"$J3"'" and .pool == "beta-gpu")) | .type' "$D/events.json" | tr '\n' ' ')
[[ "$order" == "site-down job-interrupted pool-capacity job-started " ]] ||
  fail "the stream should say site-down, job-interrupted, pool-capacity (alpha-gpu 0), job-started (beta-gpu) in that order; it says: $order"
echo "   explain: $(grep '^Site alpha is down' <<<"$why" | cut -c1-150)..."
echo "   events: $order"

# ------------------------------------------------------------------ controller back
step "restart alpha's slurmctld: alpha is up again and its stale run is cancelled"
"$H" restart-controller alpha --dir "$D/slurm" >/dev/null 2>&1 || fail "restart-controller alpha failed"
end=$(( $(now_ms) + 20000 ))
while :; do
  sites=$(api "$ADMIN" GET /v1/sites) || fail "GET /v1/sites failed"
  [[ $(jq -r '.sites[] | select(.id == "alpha") | .down' <<<"$sites") == false ]] && break
  [[ $(now_ms) -lt $end ]] || fail "alpha is still down 20 s after its controller restarted: $sites"
  sleep 0.3
done
pools=$(api "$ADMIN" GET /v1/pools) || fail "GET /v1/pools failed"
[[ $(jq -r '.pools[] | select(.id == "alpha-gpu") | .installed_gpus' <<<"$pools") == 8 ]] ||
  fail "alpha-gpu's capacity did not come back: $pools"
# The run alpha's slurmd kept going while its controller was dark is not
# current any more: the broker cancels it at the first look.
end=$(( $(now_ms) + 20000 ))
while [[ $(sfield "$A" "$SID3" JobState) == RUNNING ]]; do
  [[ $(now_ms) -lt $end ]] || fail "the stale run $SID3 (pc-$J3-r$RUN3) still runs at alpha"
  sleep 0.3
done
st=$(sfield "$A" "$SID3" JobState)
echo "   alpha up; its stale run $SID3 (pc-$J3-r$RUN3) is ${st:-not known to the restarted controller}; $J3 stays at beta"
[[ $(job_field "$J3" site) == beta ]] || fail "$J3 left beta"

step "$J3 completes at beta"
wait_job "$J3" '.status == "done"' 40 || fail "$J3 did not finish at beta"
[[ $(sfield "$B" "$SID3B" JobState) == COMPLETED ]] || fail "beta's job $SID3B is $(sfield "$B" "$SID3B" JobState)"
# No name was sent twice: every pc- job name at both clusters is unique.
dups=$( { SLURM_CONF="$A" squeue -h -a -t all -o '%j'; SLURM_CONF="$B" squeue -h -a -t all -o '%j'; } | grep '^pc-' | sort | uniq -d)
[[ -z "$dups" ]] || fail "job names sent twice: $dups"
metrics=$(curl -s "$URL/metrics")
grep -q '^polycloud_site_down{site="alpha"} 0' <<<"$metrics" || fail "/metrics does not show alpha up"
