#!/usr/bin/env bash
# Local Slurm 22.05 clusters on loopback, with fake GPU gres: the "sites" the
# integration tests of `polycloud serve` and a user trying it talk to.
# docs/slurm.md explains the files and ports; the recipe it follows is
# ../shared/notes/infra-recipes.md section 1.
#
#   slurm-clusters.sh install                    apt-get the Debian packages (skips what is installed)
#   slurm-clusters.sh start [--dir DIR] [--clusters alpha,beta] [--nodes N]
#                           [--gpus-per-node G] [--port-base P] [--timeout S]
#   slurm-clusters.sh stop [--dir DIR]           SIGKILL daemons, job processes and munged; keeps DIR
#   slurm-clusters.sh status [--dir DIR]         exit 0 when every daemon answers
#   slurm-clusters.sh env CLUSTER [--dir DIR]    prints `export SLURM_CONF=...` for one cluster
#   slurm-clusters.sh kill-controller CLUSTER [--dir DIR]      SIGKILL its slurmctld (site goes dark)
#   slurm-clusters.sh restart-controller CLUSTER [--dir DIR]   start it again, recovering its jobs
#
# DIR defaults to $POLYCLOUD_SLURM_DIR or /tmp/polycloud-slurm. Each cluster gets
# its own munged (key, socket), slurm.conf, gres.conf, state and ports:
# cluster i (0-based) uses slurmctld port P+10i and slurmd ports P+10i+1..P+10i+N
# (P = 16817: alpha 16817/16818, beta 16827/16828).
set -euo pipefail

readonly PACKAGES=(slurm-wlm slurmctld slurmd slurm-client munge slurmrestd)
DIR="${POLYCLOUD_SLURM_DIR:-/tmp/polycloud-slurm}"
CLUSTERS="alpha,beta"
NODES=1
GPUS=8
PORT_BASE=16817
TIMEOUT=30
explicit=()   # settings given on the command line (checked against a running set)

die() { echo "slurm-clusters: $*" >&2; exit 1; }
say() { echo "slurm-clusters: $*" >&2; }

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

need_slurm() {
  local b
  for b in munged munge slurmctld slurmd sbatch squeue scontrol sinfo scancel; do
    command -v "$b" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$b" >/dev/null 2>&1 ||
      die "'$b' not found: Slurm/munge are not installed; run: $0 install (or scripts/install-deps.sh test)"
  done
  export PATH="$PATH:/usr/sbin:/sbin"
}

# A live process (kill -0 also succeeds on a zombie, which is dead for us).
alive() {
  [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null || return 1
  local st; st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ "$st" != Z* ]]
}
pidof_file() { [[ -s "$1" ]] && tr -dc '0-9' <"$1" || true; }

# ---------------------------------------------------------------- install
cmd_install() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then say "installed already: ${PACKAGES[*]}"; return 0; fi
  say "installing ${missing[*]}"
  local sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ---------------------------------------------------------------- settings
parse_opts() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --dir) DIR="$2"; shift 2 ;;
      --clusters) CLUSTERS="$2"; explicit+=(CLUSTERS); shift 2 ;;
      --nodes) NODES="$2"; explicit+=(NODES); shift 2 ;;
      --gpus-per-node) GPUS="$2"; explicit+=(GPUS); shift 2 ;;
      --port-base) PORT_BASE="$2"; explicit+=(PORT_BASE); shift 2 ;;
      --timeout) TIMEOUT="$2"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) die "unknown option '$1' (see $0 --help)" ;;
    esac
  done
  [[ "$NODES" =~ ^[1-9]$ ]] || die "--nodes must be 1..9, got '$NODES'"
  [[ "$GPUS" =~ ^[0-9]+$ && "$GPUS" -ge 1 && "$GPUS" -le 64 ]] || die "--gpus-per-node must be 1..64, got '$GPUS'"
  [[ "$PORT_BASE" =~ ^[0-9]+$ && "$PORT_BASE" -ge 1024 && "$PORT_BASE" -le 65000 ]] || die "--port-base must be 1024..65000"
  [[ "$CLUSTERS" =~ ^[a-z][a-z0-9]*(,[a-z][a-z0-9]*)*$ ]] ||
    die "--clusters must be comma-separated lowercase names, got '$CLUSTERS'"
  [[ "$DIR" == /* ]] || DIR="$PWD/$DIR"
  DIR="${DIR%/}"
}

# The settings a started set was made with, so stop/status/restart need only --dir.
load_settings() {
  local f="$DIR/harness.conf"
  [[ -f "$f" ]] || return 1
  local k v
  while IFS='=' read -r k v; do
    case "$k" in
      CLUSTERS) S_CLUSTERS="$v" ;; NODES) S_NODES="$v" ;; GPUS) S_GPUS="$v" ;; PORT_BASE) S_PORT_BASE="$v" ;;
    esac
  done <"$f"
}
use_saved_settings() {
  load_settings || die "nothing started in $DIR (no $DIR/harness.conf)"
  CLUSTERS="$S_CLUSTERS"; NODES="$S_NODES"; GPUS="$S_GPUS"; PORT_BASE="$S_PORT_BASE"
}

cluster_list() { tr ',' ' ' <<<"$CLUSTERS"; }
cluster_index() {
  local i=0 c
  for c in $(cluster_list); do [[ "$c" == "$1" ]] && { echo "$i"; return 0; }; i=$((i + 1)); done
  die "no cluster '$1' in $DIR (clusters: $CLUSTERS)"
}
ctld_port() { echo $((PORT_BASE + 10 * $1)); }
node_port() { echo $((PORT_BASE + 10 * $1 + $2)); }   # $2 = 1..N
node_names() { local n; for ((n = 1; n <= NODES; n++)); do echo "$1-n$n"; done; }
upper() { tr '[:lower:]' '[:upper:]' <<<"$1"; }

# ---------------------------------------------------------------- files
write_cluster_files() {
  local c="$1" i="$2" C="$DIR/$1" M="$DIR/$1/munge" n node
  mkdir -p "$C"/{state,spool,log,gpu} "$M"
  chmod 755 "$DIR" "$C" "$M"           # munged warns "Socket is inaccessible" under a 0700 dir
  dd if=/dev/urandom of="$M/munge.key" bs=1024 count=1 status=none
  chmod 400 "$M/munge.key"
  : >"$C/gres.conf"
  local nodelist=""
  for ((n = 1; n <= NODES; n++)); do
    node="$c-n$n"
    mkdir -p "$C/gpu/$node" "$C/spool/$node"
    local g
    for ((g = 0; g < GPUS; g++)); do
      # Character devices (1,3 = /dev/null's numbers) so slurmd does not log
      # "not a valid character device"; plain files work too when mknod cannot.
      mknod "$C/gpu/$node/nvidia$g" c 1 3 2>/dev/null || : >"$C/gpu/$node/nvidia$g"
    done
    echo "NodeName=$node Name=gpu File=$C/gpu/$node/nvidia[0-$((GPUS - 1))]" >>"$C/gres.conf"
    nodelist+="${nodelist:+,}$node"
  done
  {
    cat <<EOF
# Written by scripts/slurm-clusters.sh; cluster $c of the set in $DIR.
ClusterName=$c
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$(ctld_port "$i")
SlurmdPort=$(node_port "$i" 1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$M/munge.sock
StateSaveLocation=$C/state
SlurmdSpoolDir=$C/spool/%n
SlurmctldPidFile=$C/slurmctld.pid
SlurmdPidFile=$C/slurmd-%n.pid
SlurmctldLogFile=$C/log/slurmctld.log
SlurmdLogFile=$C/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$C/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
MinJobAge=300
MessageTimeout=3
EOF
    for ((n = 1; n <= NODES; n++)); do
      echo "NodeName=$c-n$n NodeHostname=localhost NodeAddr=127.0.0.1 Port=$(node_port "$i" "$n") CPUs=16 RealMemory=64000 Gres=gpu:$GPUS State=UNKNOWN"
    done
    echo "PartitionName=gpu Nodes=$nodelist Default=YES MaxTime=INFINITE State=UP"
  } >"$C/slurm.conf"
}

write_env_file() {
  local c
  {
    echo "# Written by scripts/slurm-clusters.sh start; source it, then e.g. SLURM_CONF=\$SLURM_CONF_ALPHA sinfo"
    echo "export POLYCLOUD_SLURM_DIR=$DIR"
    echo "export POLYCLOUD_SLURM_CLUSTERS=\"$(cluster_list)\""
    for c in $(cluster_list); do echo "export SLURM_CONF_$(upper "$c")=$DIR/$c/slurm.conf"; done
  } >"$DIR/clusters.env"
}

# ---------------------------------------------------------------- daemons
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_munged() {
  local M="$DIR/$1/munge" pid
  pid=$(pidof_file "$M/munged.pid")
  if alive "$pid"; then return 0; fi
  # No --force: a second munged must fail, not steal the socket (recipe).
  munged --socket="$M/munge.sock" --key-file="$M/munge.key" --pid-file="$M/munged.pid" \
         --log-file="$M/munged.log" --seed-file="$M/munged.seed" ||
    die "munged for $1 failed to start; see $M/munged.log"
  local end=$((SECONDS + 10))
  until munge -n -S "$M/munge.sock" 2>/dev/null | unmunge -S "$M/munge.sock" >/dev/null 2>&1; do
    ((SECONDS < end)) || die "munged for $1 does not answer on $M/munge.sock; see $M/munged.log"
    sleep 0.05
  done
}

# $2: "clean" (-c, no saved state) or "recover".
start_slurmctld() {
  local c="$1" C="$DIR/$1" pid
  pid=$(pidof_file "$C/slurmctld.pid")
  # Starting slurmctld with the pidfile of a live one kills the live one (recipe), so guard.
  if alive "$pid"; then return 0; fi
  local flags=(); [[ "$2" == clean ]] && flags=(-c)
  SLURM_CONF="$C/slurm.conf" slurmctld "${flags[@]}" ||
    die "slurmctld for $c failed to start; see $C/log/slurmctld.log"
}

start_slurmd() {
  local c="$1" C="$DIR/$1" node pid
  for node in $(node_names "$c"); do
    pid=$(pidof_file "$C/slurmd-$node.pid")
    alive "$pid" && continue
    SLURM_CONF="$C/slurm.conf" slurmd -N "$node" ||
      die "slurmd $node failed to start; see $C/log/slurmd-$node.log"
  done
}

# Ready = slurmctld answers `scontrol ping`, every node is idle (or busy) and
# its slurmd has registered with this slurmctld. After a controller restart the
# nodes come back from the state file as idle/mixed before their slurmd
# re-registers (~3 s, SlurmdStartTime=None until then); a job submitted in that
# window waits for the next backfill pass (bf_interval, 30 s).
wait_ready() {
  local c="$1" C="$DIR/$1" end=$((SECONDS + TIMEOUT)) states
  export SLURM_CONF="$C/slurm.conf"
  while :; do
    if ! alive "$(pidof_file "$C/slurmctld.pid")"; then
      sleep 0.3   # the pidfile appears just after the fork
      alive "$(pidof_file "$C/slurmctld.pid")" || {
        tail -n 5 "$C/log/slurmctld.log" >&2 2>/dev/null || true
        die "slurmctld of $c died; see $C/log/slurmctld.log"; }
    fi
    if scontrol ping >/dev/null 2>&1; then
      states=$(sinfo -h -N -o '%N %T' 2>/dev/null | sort -u || true)
      if [[ -n "$states" ]] && ! grep -qvE ' (idle|mixed|allocated|completing)$' <<<"$states" &&
         [[ $(wc -l <<<"$states") -eq $NODES ]] &&
         ! scontrol -o show node 2>/dev/null | grep -q 'SlurmdStartTime=None'; then
        unset SLURM_CONF; return 0
      fi
    fi
    if ((SECONDS >= end)); then
      echo "$states" >&2
      tail -n 5 "$C/log/slurmctld.log" "$C"/log/slurmd-*.log >&2 2>/dev/null || true
      die "cluster $c not ready after ${TIMEOUT}s (node states above); logs in $C/log"
    fi
    sleep 0.1
  done
}

print_exports() {
  local c
  for c in $(cluster_list); do echo "export SLURM_CONF_$(upper "$c")=$DIR/$c/slurm.conf"; done
  echo "# also in $DIR/clusters.env; one cluster: export SLURM_CONF=\$SLURM_CONF_$(upper "$(cluster_list | cut -d' ' -f1)")"
}

any_alive() {
  local c C f
  for c in $(cluster_list); do
    C="$DIR/$c"
    for f in "$C/munge/munged.pid" "$C/slurmctld.pid" "$C"/slurmd-*.pid; do
      [[ -f "$f" ]] && alive "$(pidof_file "$f")" && return 0
    done
  done
  return 1
}

cmd_start() {
  parse_opts "$@"
  need_slurm
  local c i k
  if load_settings && (CLUSTERS="$S_CLUSTERS"; any_alive); then
    for k in "${explicit[@]}"; do
      local want="${!k}" have; have="S_$k"; have="${!have}"
      [[ "$want" == "$have" ]] ||
        die "a set with $k=$have is running in $DIR; run '$0 stop --dir $DIR' first, or use another --dir"
    done
    CLUSTERS="$S_CLUSTERS"; NODES="$S_NODES"; GPUS="$S_GPUS"; PORT_BASE="$S_PORT_BASE"
    say "already running in $DIR (clusters $CLUSTERS); starting any daemon that is down"
    i=0
    for c in $(cluster_list); do
      start_munged "$c"; start_slurmctld "$c" recover; start_slurmd "$c"; i=$((i + 1))
    done
  else
    # Fresh start: the ports must be free (another set, or another --dir).
    i=0
    for c in $(cluster_list); do
      local p ports=("$(ctld_port $i)") n
      for ((n = 1; n <= NODES; n++)); do ports+=("$(node_port $i $n)"); done
      for p in "${ports[@]}"; do
        port_in_use "$p" && die "port $p (cluster $c) is in use; another set running? try --port-base or '$0 stop'"
      done
      i=$((i + 1))
    done
    mkdir -p "$DIR"
    for c in $(cluster_list); do rm -rf "${DIR:?}/$c"; done
    printf 'CLUSTERS=%s\nNODES=%s\nGPUS=%s\nPORT_BASE=%s\n' "$CLUSTERS" "$NODES" "$GPUS" "$PORT_BASE" >"$DIR/harness.conf"
    i=0
    for c in $(cluster_list); do write_cluster_files "$c" "$i"; i=$((i + 1)); done
    for c in $(cluster_list); do start_munged "$c"; start_slurmctld "$c" clean; start_slurmd "$c"; done
  fi
  for c in $(cluster_list); do wait_ready "$c"; done
  write_env_file
  i=0
  for c in $(cluster_list); do
    say "$c ready: slurmctld 127.0.0.1:$(ctld_port $i), $NODES node(s) x $GPUS gpu, partition gpu"
    i=$((i + 1))
  done
  print_exports
}

# Live processes of cluster $1, one "pid comm" a line: its daemons and
# slurmstepds (SLURM_CONF=<its slurm.conf> in their environment), its jobs'
# processes (that and SLURM_JOB_ID), and its munged (by socket path).
cluster_procs() {
  local C="$DIR/$1" conf="$DIR/$1/slurm.conf" f p comm st
  {
    grep -lzxF "SLURM_CONF=$conf" /proc/[0-9]*/environ 2>/dev/null | while read -r f; do
      p=${f#/proc/}; p=${p%/environ}
      [[ "$p" == "$$" ]] && continue
      comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
      case "$comm" in
        slurmctld|slurmscriptd|slurmd|slurmstepd) echo "$p $comm" ;;
        *) grep -qz '^SLURM_JOB_ID=' "$f" 2>/dev/null && echo "$p $comm" ;;
      esac
    done
    for p in $(pgrep -x munged 2>/dev/null || true); do
      tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- "--socket=$C/munge/munge.sock" && echo "$p munged"
    done
  } | while read -r p comm; do
    st=$(ps -o stat= -p "$p" 2>/dev/null) && [[ "$st" != Z* ]] && echo "$p $comm"
  done
  return 0
}

# Kills cluster $1: slurmctld and slurmd by pidfile, then every process
# cluster_procs finds. Job tasks run in a slurmstepd's session (setsid'ed; they
# outlive slurmd), so each slurmstepd's session goes with it.
kill_cluster() {
  local C="$DIR/$1" f p comm sid q mysid
  for f in "$C/slurmctld.pid" "$C"/slurmd-*.pid; do
    [[ -f "$f" ]] || continue
    p=$(pidof_file "$f"); alive "$p" && kill -9 "$p" 2>/dev/null || true
  done
  mysid=$(ps -o sid= -p $$ | tr -d ' ')
  while read -r p comm; do
    if [[ "$comm" == slurmstepd ]]; then
      sid=$(ps -o sid= -p "$p" 2>/dev/null | tr -d ' ' || true)
      if [[ -n "$sid" && "$sid" != 0 && "$sid" != "$mysid" ]]; then
        for q in $(ps -eo pid=,sid= | awk -v s="$sid" '$2==s {print $1}'); do kill -9 "$q" 2>/dev/null || true; done
      fi
    fi
    if [[ "$comm" == munged ]]; then kill "$p" 2>/dev/null || true; else kill -9 "$p" 2>/dev/null || true; fi
  done < <(cluster_procs "$1")
  p=$(pidof_file "$C/munge/munged.pid")
  alive "$p" && kill "$p" 2>/dev/null || true
}

cmd_stop() {
  parse_opts "$@"
  if ! load_settings; then say "nothing started in $DIR"; return 0; fi
  CLUSTERS="$S_CLUSTERS"; NODES="$S_NODES"
  export PATH="$PATH:/usr/sbin:/sbin"
  local c end left
  for c in $(cluster_list); do kill_cluster "$c"; done
  end=$((SECONDS + 10))
  while :; do
    left=""
    for c in $(cluster_list); do left+="$(cluster_procs "$c" | tr ' \n' ': ')"; done
    [[ -z "${left// /}" ]] && break
    if ((SECONDS >= end)); then die "processes still alive after stop: $left"; fi
    for c in $(cluster_list); do kill_cluster "$c"; done
    sleep 0.1
  done
  for c in $(cluster_list); do rm -f "$DIR/$c/slurmctld.pid" "$DIR/$c"/slurmd-*.pid "$DIR/$c/munge/munged.pid"; done
  say "stopped $(cluster_list | tr ' ' ',') in $DIR (logs kept in $DIR/*/log; rm -rf $DIR to clean up)"
}

cmd_status() {
  parse_opts "$@"
  load_settings || { say "nothing started in $DIR"; return 3; }
  CLUSTERS="$S_CLUSTERS"; NODES="$S_NODES"; GPUS="$S_GPUS"; PORT_BASE="$S_PORT_BASE"
  need_slurm
  local c i=0 C ok=0 p node st
  for c in $(cluster_list); do
    C="$DIR/$c"
    p=$(pidof_file "$C/munge/munged.pid"); alive "$p" && st="up (pid $p)" || { st=down; ok=1; }
    echo "$c: munged $st"
    p=$(pidof_file "$C/slurmctld.pid"); alive "$p" && st="up (pid $p)" || { st=down; ok=1; }
    echo "$c: slurmctld $st, port $(ctld_port $i), SLURM_CONF=$C/slurm.conf"
    for node in $(node_names "$c"); do
      p=$(pidof_file "$C/slurmd-$node.pid"); alive "$p" && st="up (pid $p)" || { st=down; ok=1; }
      echo "$c: slurmd $node $st"
    done
    if SLURM_CONF="$C/slurm.conf" scontrol ping >/dev/null 2>&1; then
      SLURM_CONF="$C/slurm.conf" sinfo -h -N -o "$c: node %N %T gres=%G" 2>/dev/null || true
      echo "$c: jobs $(SLURM_CONF="$C/slurm.conf" squeue -h -o %i 2>/dev/null | wc -l) in queue"
    else
      echo "$c: scontrol ping: controller DOWN"; ok=1
    fi
    i=$((i + 1))
  done
  return $ok
}

cmd_env() {
  [[ $# -ge 1 && "$1" != -* ]] || die "usage: $0 env CLUSTER [--dir DIR]"
  local c="$1"; shift; parse_opts "$@"; use_saved_settings; cluster_index "$c" >/dev/null
  echo "export SLURM_CONF=$DIR/$c/slurm.conf"
}

cmd_kill_controller() {
  [[ $# -ge 1 && "$1" != -* ]] || die "usage: $0 kill-controller CLUSTER [--dir DIR]"
  local c="$1"; shift; parse_opts "$@"; use_saved_settings; cluster_index "$c" >/dev/null
  local C="$DIR/$c" p end
  p=$(pidof_file "$C/slurmctld.pid")
  alive "$p" || { say "slurmctld of $c is not running"; return 0; }
  kill -9 "$p"
  end=$((SECONDS + 5))
  while alive "$p"; do
    ((SECONDS < end)) || die "slurmctld $p of $c survived SIGKILL"
    sleep 0.02
  done
  say "killed slurmctld of $c (pid $p, SIGKILL); its slurmd and jobs keep running"
}

cmd_restart_controller() {
  [[ $# -ge 1 && "$1" != -* ]] || die "usage: $0 restart-controller CLUSTER [--dir DIR]"
  local c="$1"; shift; parse_opts "$@"; use_saved_settings; cluster_index "$c" >/dev/null
  need_slurm
  local C="$DIR/$c" p end
  p=$(pidof_file "$C/slurmctld.pid")
  if alive "$p"; then
    say "slurmctld of $c is running (pid $p); stopping it first"
    kill "$p"; end=$((SECONDS + 10))
    while alive "$p"; do ((SECONDS < end)) || { kill -9 "$p"; }; sleep 0.05; done
  fi
  start_munged "$c"
  start_slurmctld "$c" recover     # no -c: recover jobs from the state directory
  start_slurmd "$c"
  wait_ready "$c"
  say "slurmctld of $c restarted (pid $(pidof_file "$C/slurmctld.pid")), jobs recovered from $C/state"
}

case "${1:-}" in
  install) shift; cmd_install "$@" ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; cmd_status "$@" ;;
  env) shift; cmd_env "$@" ;;
  kill-controller) shift; cmd_kill_controller "$@" ;;
  restart-controller) shift; cmd_restart_controller "$@" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
