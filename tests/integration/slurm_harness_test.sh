#!/usr/bin/env bash
# Integration test of scripts/slurm-clusters.sh: two real Slurm 22.05 clusters
# on loopback (alpha, beta; one node of 8 fake GPUs each), started in a fresh
# temporary directory on free ports, exercised the way the `serve` site driver
# will use them (issue 12), then stopped with no process left behind; then a
# cluster of two nodes (--nodes 2) places two jobs on different nodes.
# Registered in CTest as `slurm_harness` (label slurm). Needs the Debian Slurm
# packages: `scripts/install-deps.sh test` (what `make test` runs) installs them.
#
#   bash tests/integration/slurm_harness_test.sh
#   SUBMITS=500 bash tests/integration/slurm_harness_test.sh   # longer intake measurement
#   KEEP=1 ...                                                 # keep the directory (logs) on success
# Prints "sbatch intake: ..." (the figure of docs/performance.md) and PASS/FAIL.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
H="$ROOT/scripts/slurm-clusters.sh"
SUBMITS=${SUBMITS:-200}
GPUS=8
MESSAGE_TIMEOUT=3                      # as written by slurm-clusters.sh
OUTAGE_BOUND_MS=$(( (2 * MESSAGE_TIMEOUT + 2) * 1000 ))   # a client of a dead site must give up by then
export PATH="$PATH:/usr/sbin:/sbin"
unset SLURM_CONF

now_ms() { date +%s%3N; }
T_START=$(now_ms)
D=""
failed=0

step() { echo "-- $* ($(( $(now_ms) - T_START ))ms)"; }
fail() {
  echo "FAIL: $*" >&2
  failed=1
  exit 1
}
check() { local what="$1"; shift; "$@" || fail "$what"; }

cleanup() {
  local rc=$?
  [[ $failed -eq 1 && $rc -eq 0 ]] && rc=1
  local d
  for d in "$D" "$D/multi"; do
    if [[ -n "$D" && -f "$d/harness.conf" ]]; then
      "$H" stop --dir "$d" >/dev/null 2>&1 || echo "WARN: stop failed for $d" >&2
    fi
  done
  if [[ -n "$D" ]]; then
    if [[ $rc -ne 0 || -n "${KEEP:-}" ]]; then
      echo "logs kept in $D (rm -rf $D when done)" >&2
    else
      rm -rf "$D"
    fi
  fi
  if [[ $rc -eq 0 ]]; then
    echo "PASS slurm_harness in $(( $(now_ms) - T_START ))ms"
  else
    echo "FAIL slurm_harness (rc $rc) after $(( $(now_ms) - T_START ))ms" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'fail "interrupted"' INT TERM

# ------------------------------------------------------------------ prerequisites
for b in munged sbatch squeue scontrol sinfo scancel slurmctld slurmd; do
  command -v "$b" >/dev/null 2>&1 ||
    fail "'$b' not found: the Debian Slurm packages are not installed. Run 'scripts/install-deps.sh test' (make test does) or 'scripts/slurm-clusters.sh install'."
done
[[ $(id -u) -eq 0 ]] || fail "needs root (the clusters run SlurmUser=root and slurmd needs root)"

# Free ports below the ephemeral range: cluster i uses BASE+10i .. BASE+10i+1;
# the two-node set at the end uses BASE+20 .. BASE+22.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
BASE=""
for _ in $(seq 50); do
  b=$(( 20000 + (RANDOM % 1200) * 10 ))
  ok=1
  for p in $b $((b + 1)) $((b + 10)) $((b + 11)) $((b + 20)) $((b + 21)) $((b + 22)); do port_free "$p" || { ok=0; break; }; done
  if [[ $ok -eq 1 ]]; then BASE=$b; break; fi
done
[[ -n "$BASE" ]] || fail "no free port range found in 20000-32000"

# Long jobs sleep for a duration unique to this run, so that their processes
# are told apart from those of another run of this test on the machine.
LONG1=$(( 3000 + (RANDOM % 3000) * 3 )); LONG2=$((LONG1 + 1)); LONG3=$((LONG1 + 2))

D=$(mktemp -d /tmp/polycloud-slurm-test.XXXXXX)
chmod 755 "$D"
mkdir -p "$D/out"

# ------------------------------------------------------------------ start
step "start alpha,beta in $D, ports $BASE/$((BASE + 10))"
t=$(now_ms)
"$H" start --dir "$D" --clusters alpha,beta --nodes 1 --gpus-per-node $GPUS --port-base "$BASE" >"$D/start.out" 2>"$D/start.err" ||
  { cat "$D/start.err" >&2; fail "slurm-clusters.sh start failed"; }
echo "   started and ready in $(( $(now_ms) - t ))ms"
grep -qx "export SLURM_CONF_ALPHA=$D/alpha/slurm.conf" "$D/start.out" || fail "start did not print alpha's SLURM_CONF export line"
grep -qx "export SLURM_CONF_BETA=$D/beta/slurm.conf" "$D/start.out" || fail "start did not print beta's SLURM_CONF export line"
[[ -f "$D/clusters.env" ]] || fail "no $D/clusters.env"
# shellcheck disable=SC1091
source "$D/clusters.env"
[[ "${SLURM_CONF_ALPHA:-}" == "$D/alpha/slurm.conf" && "${SLURM_CONF_BETA:-}" == "$D/beta/slurm.conf" ]] ||
  fail "clusters.env does not export SLURM_CONF_ALPHA/BETA"
A="$SLURM_CONF_ALPHA"
B="$SLURM_CONF_BETA"

# Starting again is harmless and says so; different settings are refused.
"$H" start --dir "$D" >/dev/null 2>"$D/start2.err" || fail "second start on a running set failed: $(cat "$D/start2.err")"
grep -q "already running" "$D/start2.err" || fail "second start did not say 'already running'"
"$H" start --dir "$D" --gpus-per-node 4 >/dev/null 2>&1 && fail "start with other settings on a running set succeeded"
"$H" status --dir "$D" >"$D/status.out" 2>&1 || { cat "$D/status.out"; fail "status reports a problem right after start"; }

# Helpers; all take the cluster's slurm.conf first.
jstate() { SLURM_CONF="$1" scontrol -o show job "$2" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
jfield() { SLURM_CONF="$1" scontrol -o show job "$2" 2>/dev/null | tr ' ' '\n' | grep "^$3=" | cut -d= -f2-; }
wait_state() {  # conf id state timeout_s
  local end=$(( $(now_ms) + $4 * 1000 )) s
  while :; do
    s=$(jstate "$1" "$2")
    [[ "$s" == "$3" ]] && return 0
    if [[ $(now_ms) -ge $end ]]; then
      echo "job $2 is '$s', wanted $3 after $4 s: $(SLURM_CONF="$1" scontrol -o show job "$2" 2>&1 | head -c 600)" >&2
      return 1
    fi
    sleep 0.1
  done
}
submit() {  # conf args... -> job id
  SLURM_CONF="$1" sbatch --parsable --chdir "$D/out" "${@:2}" | cut -d';' -f1
}
count_list() { [[ -z "$1" ]] && echo 0 || tr ',' '\n' <<<"$1" | grep -c .; }

# A long job on alpha, submitted early so that it is in alpha's saved state by
# the time its controller is killed (below).
long_alpha=$(submit "$A" --gres=gpu:1 --job-name polycloud-long-a --comment polycloud:long-a -o /dev/null --wrap "sleep $LONG1")
[[ -n "$long_alpha" ]] || fail "sbatch of the long job on alpha failed"

# ------------------------------------------------------------------ gres honoured, name/comment round trip
step "gres jobs on both clusters"
declare -A want=([alpha]=3 [beta]=5) jid=()
for c in alpha beta; do
  conf="$A"; [[ $c == beta ]] && conf="$B"
  n=${want[$c]}
  jid[$c]=$(submit "$conf" --gres=gpu:$n --job-name "polycloud-$c-g$n" --comment "polycloud:$c-g$n" -o "$D/out/%x-%j.out" \
              --wrap 'echo "CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"; echo "SLURM_JOB_GPUS=$SLURM_JOB_GPUS"')
  [[ "${jid[$c]}" =~ ^[0-9]+$ ]] || fail "sbatch --gres=gpu:$n on $c returned '${jid[$c]}'"
done
for c in alpha beta; do
  conf="$A"; [[ $c == beta ]] && conf="$B"
  n=${want[$c]}; id=${jid[$c]}
  # Reconciliation finds jobs by their polycloud name, whatever their state.
  line=$(SLURM_CONF="$conf" squeue -h -t all --name "polycloud-$c-g$n" -o '%i|%j|%k|%b')
  [[ "$line" == "$id|polycloud-$c-g$n|polycloud:$c-g$n|gres:gpu:$n" ]] ||
    fail "squeue --name polycloud-$c-g$n on $c gave '$line', wanted '$id|polycloud-$c-g$n|polycloud:$c-g$n|gres:gpu:$n'"
  check "job $id on $c did not complete" wait_state "$conf" "$id" COMPLETED 30
  [[ "$(jfield "$conf" "$id" TresPerNode)" == "gres:gpu:$n" ]] || fail "job $id on $c: TresPerNode is not gres:gpu:$n"
  [[ "$(jfield "$conf" "$id" ExitCode)" == "0:0" ]] || fail "job $id on $c: ExitCode $(jfield "$conf" "$id" ExitCode)"
  out="$D/out/polycloud-$c-g$n-$id.out"
  [[ -f "$out" ]] || fail "no job output $out"
  cvd=$(sed -n 's/^CUDA_VISIBLE_DEVICES=//p' "$out"); jg=$(sed -n 's/^SLURM_JOB_GPUS=//p' "$out")
  echo "   $c job $id gpu:$n -> CUDA_VISIBLE_DEVICES=$cvd SLURM_JOB_GPUS=$jg"
  [[ $(count_list "$cvd") -eq $n ]] || fail "$c job $id: CUDA_VISIBLE_DEVICES='$cvd' does not list $n GPUs"
  [[ $(count_list "$jg") -eq $n ]] || fail "$c job $id: SLURM_JOB_GPUS='$jg' does not list $n GPUs"
  # History without accounting: the jobcomp/filetxt record (kept past MinJobAge).
  end=$(( $(now_ms) + 5000 ))
  until grep -q "JobId=$id .*Name=polycloud-$c-g$n .*JobState=COMPLETED" "$D/$c/jobcomp.txt" 2>/dev/null; do
    [[ $(now_ms) -lt $end ]] || fail "job $id not in $D/$c/jobcomp.txt"
    sleep 0.1
  done
done

# ------------------------------------------------------------------ packing, pending, scancel
step "packing on alpha: two gpu:4 jobs run, a third waits for Resources; scancel"
# alpha's node has 8 GPUs, 1 held by the long job: gpu:4 + gpu:3 fit, another gpu:4 does not.
p1=$(submit "$A" --gres=gpu:4 --job-name polycloud-p1 -o /dev/null --wrap "sleep $LONG2")
p2=$(submit "$A" --gres=gpu:3 --job-name polycloud-p2 -o /dev/null --wrap "sleep $LONG2")
check "p1 not running" wait_state "$A" "$p1" RUNNING 20
check "p2 not running" wait_state "$A" "$p2" RUNNING 20
check "long job on alpha not running" wait_state "$A" "$long_alpha" RUNNING 20
used=$(SLURM_CONF="$A" sinfo -h -N -O 'GresUsed:40' | tr -d ' ')
[[ "$used" == gpu:8* ]] || fail "alpha GresUsed is '$used' with 1+4+3 GPUs allocated, wanted gpu:8"
p3=$(submit "$A" --gres=gpu:4 --job-name polycloud-p3 -o /dev/null --wrap "sleep $LONG2")
end=$(( $(now_ms) + 15000 ))
while :; do
  st=$(jstate "$A" "$p3"); why=$(jfield "$A" "$p3" Reason)
  [[ "$st" == PENDING && "$why" == Resources ]] && break
  [[ "$st" == PENDING ]] || fail "job $p3 (gpu:4 on a full node) is $st, wanted PENDING"
  [[ $(now_ms) -lt $end ]] || fail "job $p3 pending with Reason=$why, wanted Resources"
  sleep 0.2
done
echo "   $p3 PENDING (Resources) while $p1, $p2, $long_alpha hold 8 GPUs: $used"
SLURM_CONF="$A" scancel "$p1" || fail "scancel $p1 failed"
check "scancel'ed job $p1 not CANCELLED" wait_state "$A" "$p1" CANCELLED 15
check "p3 did not start after p1 was cancelled" wait_state "$A" "$p3" RUNNING 20
SLURM_CONF="$A" scancel "$p2" "$p3" || fail "scancel $p2 $p3 failed"
check "p2 not CANCELLED" wait_state "$A" "$p2" CANCELLED 15
check "p3 not CANCELLED" wait_state "$A" "$p3" CANCELLED 15
end=$(( $(now_ms) + 10000 ))
while pgrep -f "^sleep $LONG2\$" >/dev/null; do
  [[ $(now_ms) -lt $end ]] || fail "processes of cancelled jobs still run: $(pgrep -af "^sleep $LONG2\$")"
  sleep 0.1
done
end=$(( $(now_ms) + 10000 ))
while [[ -n "$(SLURM_CONF="$A" squeue -h -t CG -o %i)" ]]; do
  [[ $(now_ms) -lt $end ]] || fail "cancelled jobs on alpha still COMPLETING after 10 s"
  sleep 0.1
done
# slurmctld writes its state (StateSaveLocation/job_state) at most every 5 s
# (SAVE_MAX_WAIT); a SIGKILL loses the changes since, and the restart would
# then resurrect cancelled jobs and re-run started ones (docs/slurm.md). So
# alpha is killed (below) only after a save that follows its last change: a
# held marker job submitted now shows up (by name, in clear) in that save.
marker="polycloud-statemark-$LONG1"
mark=$(submit "$A" --hold --job-name "$marker" -o /dev/null --wrap true)
[[ "$mark" =~ ^[0-9]+$ ]] || fail "sbatch of the marker job on alpha failed"

# ------------------------------------------------------------------ more GPUs than a node has
step "gpu:$((GPUS + 1)) on an $GPUS-GPU node is refused or stays pending"
if big=$(submit "$B" --gres=gpu:$((GPUS + 1)) --job-name polycloud-too-big -o /dev/null --wrap true 2>"$D/big.err"); then
  sleep 2
  st=$(jstate "$B" "$big")
  [[ "$st" == PENDING ]] || fail "job $big asking gpu:$((GPUS + 1)) is $st, wanted PENDING or refused"
  echo "   accepted as $big and PENDING ($(jfield "$B" "$big" Reason))"
  SLURM_CONF="$B" scancel "$big"
else
  grep -q "Requested node configuration is not available" "$D/big.err" ||
    fail "sbatch gpu:$((GPUS + 1)) refused for an unexpected reason: $(cat "$D/big.err")"
  echo "   refused: $(tr -d '\n' <"$D/big.err")"
fi

# ------------------------------------------------------------------ intake
step "sbatch intake on beta: $SUBMITS held submissions, one client"
t=$(now_ms)
for ((i = 0; i < SUBMITS; i++)); do
  SLURM_CONF="$B" sbatch -Q --hold -o /dev/null --chdir "$D/out" --job-name polycloud-intake --wrap true ||
    fail "submission $i of the intake loop failed"
done
ms=$(( $(now_ms) - t ))
held=$(SLURM_CONF="$B" squeue -h -t PD --name polycloud-intake -o %i | wc -l)
[[ $held -eq $SUBMITS ]] || fail "$held of $SUBMITS intake jobs found by squeue --name polycloud-intake"
rate=$(awk -v n="$SUBMITS" -v ms="$ms" 'BEGIN { printf "%.0f", n * 1000 / ms }')
echo "sbatch intake: $SUBMITS submissions in ${ms} ms = $rate submissions/s (one client, sbatch -Q --hold, loopback, load $(cut -d' ' -f1-3 /proc/loadavg))"
SLURM_CONF="$B" scancel --name polycloud-intake || fail "scancel --name polycloud-intake failed"

# ------------------------------------------------------------------ site goes dark
step "wait for alpha's state save"
end=$(( $(now_ms) + 12000 ))
until grep -qa "$marker" "$D/alpha/state/job_state" 2>/dev/null; do
  [[ $(now_ms) -lt $end ]] || fail "alpha's slurmctld did not save its job state within 12 s of a submission"
  sleep 0.2
done

step "kill-controller alpha: alpha's clients fail fast, beta keeps working"
"$H" kill-controller alpha --dir "$D" >/dev/null 2>&1 || fail "kill-controller alpha failed"
t=$(now_ms)
SLURM_CONF="$A" scontrol ping >/dev/null 2>&1 && fail "scontrol ping on alpha succeeded after kill-controller"
ping_ms=$(( $(now_ms) - t ))
t=$(now_ms)
SLURM_CONF="$A" squeue -h >/dev/null 2>"$D/squeue-dark.err" && fail "squeue on alpha succeeded after kill-controller"
squeue_ms=$(( $(now_ms) - t ))
t=$(now_ms)
SLURM_CONF="$A" sbatch -o /dev/null --wrap true >/dev/null 2>"$D/sbatch-dark.err" && fail "sbatch on alpha succeeded after kill-controller"
sbatch_ms=$(( $(now_ms) - t ))
echo "   alpha dark: scontrol ping fails in ${ping_ms}ms, squeue in ${squeue_ms}ms, sbatch in ${sbatch_ms}ms (MessageTimeout=$MESSAGE_TIMEOUT)"
grep -q "Unable to contact slurm controller" "$D/squeue-dark.err" || fail "squeue on dark alpha: unexpected error $(cat "$D/squeue-dark.err")"
grep -q "Unable to contact slurm controller" "$D/sbatch-dark.err" || fail "sbatch on dark alpha: unexpected error $(cat "$D/sbatch-dark.err")"
[[ $squeue_ms -le $OUTAGE_BOUND_MS && $sbatch_ms -le $OUTAGE_BOUND_MS ]] ||
  fail "a client of dark alpha took more than ${OUTAGE_BOUND_MS}ms to fail"
[[ $ping_ms -le 2000 ]] || fail "scontrol ping on dark alpha took ${ping_ms}ms (expected well under a second)"
b1=$(submit "$B" --gres=gpu:2 --job-name polycloud-beta-after -o /dev/null --wrap true)
[[ "$b1" =~ ^[0-9]+$ ]] || fail "beta refused work while alpha is dark"
check "beta job $b1 did not complete while alpha is dark" wait_state "$B" "$b1" COMPLETED 30

# ------------------------------------------------------------------ site comes back
step "restart-controller alpha: jobs recovered, accepts work again"
"$H" restart-controller alpha --dir "$D" >/dev/null 2>"$D/restart.err" || { cat "$D/restart.err" >&2; fail "restart-controller alpha failed"; }
st=$(jstate "$A" "$long_alpha")
[[ "$st" == RUNNING ]] || fail "long job $long_alpha on alpha is '$st' after the controller restart, wanted RUNNING (recovered from state)"
st=$(jstate "$A" "$mark")
[[ "$st" == PENDING ]] || fail "held marker job $mark on alpha is '$st' after the controller restart, wanted PENDING"
for id in $p1 $p2 $p3; do
  st=$(jstate "$A" "$id")
  [[ "$st" == CANCELLED ]] || fail "job $id, cancelled before the crash, is '$st' after the controller restart"
done
a1=$(submit "$A" --gres=gpu:2 --job-name polycloud-alpha-back -o /dev/null --wrap true)
check "alpha job $a1 did not complete after restart" wait_state "$A" "$a1" COMPLETED 30
SLURM_CONF="$A" scancel "$long_alpha"
check "long job not CANCELLED" wait_state "$A" "$long_alpha" CANCELLED 15

# ------------------------------------------------------------------ stop
step "stop: no process of the set left"
# A job left running, to check that stop takes it down too.
b2=$(submit "$B" --gres=gpu:1 --job-name polycloud-left -o /dev/null --wrap "sleep $LONG3")
check "job left running on beta" wait_state "$B" "$b2" RUNNING 20
"$H" stop --dir "$D" >/dev/null 2>"$D/stop.err" || { cat "$D/stop.err" >&2; fail "stop failed"; }
left=""
for p in $(ps -eo pid=,stat= | awk '$2 !~ /Z/ {print $1}'); do
  [[ $p -eq $$ ]] && continue
  if tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qE "^SLURM_CONF=$D/" ||
     tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF "$D/"; then
    # our own shell pipeline and this test's parent carry SLURM_CONF only if exported; we never export it
    left+=" $p:$(ps -o comm= -p "$p" 2>/dev/null)"
  fi
done
[[ -z "$left" ]] || fail "processes left after stop:$left"
pgrep -f "^sleep $LONG3\$" >/dev/null && fail "the job left running on beta survived stop"
"$H" status --dir "$D" >/dev/null 2>&1 && fail "status says all is up after stop"
"$H" stop --dir "$D" >/dev/null 2>&1 || fail "a second stop failed"

# ------------------------------------------------------------------ several nodes
step "--nodes 2: one cluster, two slurmd of 2 GPUs each"
M="$D/multi"
"$H" start --dir "$M" --clusters gamma --nodes 2 --gpus-per-node 2 --port-base $((BASE + 20)) >/dev/null 2>"$D/multi.err" ||
  { cat "$D/multi.err" >&2; fail "start --nodes 2 failed"; }
G="$M/gamma/slurm.conf"
nodes=$(SLURM_CONF="$G" sinfo -h -N -o '%N %T %G' | sort | tr '\n' ';')
[[ "$nodes" == "gamma-n1 idle gpu:2;gamma-n2 idle gpu:2;" ]] || fail "two-node cluster shows '$nodes'"
m1=$(submit "$G" --gres=gpu:2 --job-name polycloud-m1 -o /dev/null --wrap "sleep $LONG1")
m2=$(submit "$G" --gres=gpu:2 --job-name polycloud-m2 -o /dev/null --wrap "sleep $LONG1")
check "m1 not running" wait_state "$G" "$m1" RUNNING 20
check "m2 not running" wait_state "$G" "$m2" RUNNING 20
n1=$(jfield "$G" "$m1" NodeList); n2=$(jfield "$G" "$m2" NodeList)
[[ "$n1" != "$n2" ]] || fail "two gpu:2 jobs on 2-GPU nodes share node $n1"
echo "   gpu:2 jobs on $n1 and $n2"
"$H" stop --dir "$M" >/dev/null 2>"$D/multi-stop.err" || { cat "$D/multi-stop.err" >&2; fail "stop of the two-node set failed"; }
pgrep -f "^sleep $LONG1\$" >/dev/null && fail "a job of the two-node set survived stop"
exit 0
