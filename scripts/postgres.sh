#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server in one directory, on a free loopback port:
# the server the store's tests start (CTest label `postgres`) and the one a
# user can try `polycloud serve --store postgresql://...` against. Not for
# production: trust authentication on 127.0.0.1. docs/store.md explains it;
# the recipe is ../shared/notes/infra-recipes.md section 2.
#
#   postgres.sh install                        apt-get postgresql-15 (skips it when installed)
#   postgres.sh start [DIR] [--port P] [--fast] [--timeout S]
#                                              initdb (first time), start, create role and
#                                              database `polycloud`; prints the env lines
#   postgres.sh stop [DIR] [--immediate] [--remove]
#                                              stop the server; --remove also deletes DIR
#   postgres.sh status [DIR]                   exit 0 when the server runs
#   postgres.sh env [DIR]                      prints `export PGHOST=... POLYCLOUD_POSTGRES_URL=...`
#   postgres.sh url [DIR]                      prints postgresql://polycloud@127.0.0.1:PORT/polycloud
#
# DIR defaults to $POLYCLOUD_POSTGRES_DIR or /tmp/polycloud-postgres. It holds
# data/ (the cluster), server.log, the unix socket, port, url and env (as
# root, when the server's user cannot reach DIR, the first three go to a
# folder under /tmp that DIR/server-dir names). --fast turns
# fsync off (tests that kill clients, not the server, lose nothing by it; the
# benchmark never uses it). initdb refuses to run as root, so as root the
# server runs as the `postgres` user (or `nobody`), which needs to reach DIR.
# POLYCLOUD_PGBIN overrides where initdb and pg_ctl are looked for.
# Exit codes: 0 ok, 1 failure, 77 PostgreSQL is not installed (CTest's skip).
set -euo pipefail

readonly PACKAGES=(postgresql-15)
DIR="${POLYCLOUD_POSTGRES_DIR:-/tmp/polycloud-postgres}"
PORT=""
FAST=0
TIMEOUT=60
IMMEDIATE=0
REMOVE=0

die() { echo "postgres.sh: $*" >&2; exit 1; }
say() { echo "postgres.sh: $*" >&2; }
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

# ---------------------------------------------------------------- helpers
find_pgbin() {
  local d candidates=(/usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV))
  # POLYCLOUD_PGBIN names the folder of initdb/pg_ctl (another build, or a
  # missing one to try the tests' skip).
  [[ -n "${POLYCLOUD_PGBIN:-}" ]] && candidates=("$POLYCLOUD_PGBIN")
  for d in "${candidates[@]}"; do
    if [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/psql" ]]; then PGBIN="$d"; return 0; fi
  done
  local why="PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin; install them with: $0 install (or scripts/install-deps.sh test)"
  echo "postgres.sh: $why" >&2
  # Tests that need the server read why it is absent from here (their skip message).
  if [[ "${command:-}" == start ]]; then mkdir -p "$DIR" && echo "$why" >"$DIR/unavailable"; fi
  exit 77
}

# As root, everything touching the cluster runs as a non-root user.
pick_user() {
  RUNAS=()
  if [[ $(id -u) -ne 0 ]]; then return 0; fi
  local u
  for u in postgres nobody; do
    if id -u "$u" >/dev/null 2>&1; then RUNAS=(runuser -u "$u" --); PGOS_USER="$u"; return 0; fi
  done
  die "running as root and neither a 'postgres' nor a 'nobody' user exists to run the server"
}
# SDIR holds what the server owns (data/, its socket, server.log): DIR itself,
# or, when the server's user cannot reach DIR (a checkout under /root), a
# folder under /tmp that DIR/server-dir names.
server_dir() {
  SDIR="$DIR"
  if [[ -f "$DIR/server-dir" ]]; then SDIR=$(cat "$DIR/server-dir"); fi
}
as_owner() { (cd "$SDIR" && "${RUNAS[@]}" "$@"); }

running() { [[ -f "$SDIR/data/PG_VERSION" ]] && as_owner "$PGBIN/pg_ctl" -D "$SDIR/data" status >/dev/null 2>&1; }

# A TCP port nothing listens on (state 0A in /proc/net/tcp{,6}).
port_in_use() {
  local hex; hex=$(printf '%04X' "$1")
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" { f = 1 } END { exit !f }'
}
free_port() {
  local p i
  for i in $(seq 1 50); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 30000 ))
    if ! port_in_use "$p"; then echo "$p"; return 0; fi
  done
  die "no free TCP port found in 20000-49999"
}

write_env() {
  local port; port=$(cat "$DIR/port")
  cat >"$DIR/env" <<EOF
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=polycloud PGDATABASE=polycloud
export POLYCLOUD_POSTGRES_URL=postgresql://polycloud@127.0.0.1:$port/polycloud
EOF
  echo "postgresql://polycloud@127.0.0.1:$port/polycloud" >"$DIR/url"
}

# ---------------------------------------------------------------- commands
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

cmd_start() {
  find_pgbin
  pick_user
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  rm -f "$DIR/unavailable"
  server_dir
  if running; then say "already running in $SDIR"; cat "$DIR/env"; return 0; fi
  if [[ ${#RUNAS[@]} -gt 0 && "$SDIR" == "$DIR" ]]; then
    chown "$PGOS_USER" "$DIR"
    if ! "${RUNAS[@]}" test -w "$DIR" 2>/dev/null; then
      SDIR=$(mktemp -d /tmp/polycloud-postgres-XXXXXX)
      chown "$PGOS_USER" "$SDIR"
      echo "$SDIR" >"$DIR/server-dir"
      say "user '$PGOS_USER' cannot reach $DIR (a parent is not traversable); the server lives in $SDIR"
    fi
  fi
  if [[ ! -f "$SDIR/data/PG_VERSION" ]]; then
    rm -rf "$SDIR/data"
    local sync=(); [[ $FAST -eq 1 ]] && sync=(--no-sync)
    as_owner "$PGBIN/initdb" -D "$SDIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
      "${sync[@]}" >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; die "initdb failed (log above)"; }
  fi
  local opts="" attempt port
  [[ $FAST -eq 1 ]] && opts="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  for attempt in 1 2 3 4 5; do
    port=${PORT:-$(free_port)}
    if as_owner "$PGBIN/pg_ctl" -D "$SDIR/data" -l "$SDIR/server.log" -w -t "$TIMEOUT" \
         -o "-c listen_addresses=127.0.0.1 -c unix_socket_directories='$SDIR' -p $port $opts" \
         start >/dev/null; then
      echo "$port" >"$DIR/port"
      break
    fi
    # Another process may have taken the port between the check and the bind.
    [[ -n "$PORT" || $attempt -eq 5 ]] && { tail -n 20 "$SDIR/server.log" >&2; die "the server did not start (log above)"; }
  done
  local psql=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "host=$SDIR port=$port user=postgres dbname=postgres")
  if ! as_owner "${psql[@]}" -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'polycloud'" | grep -q 1; then
    as_owner "${psql[@]}" -c "CREATE ROLE polycloud LOGIN" -c "CREATE DATABASE polycloud OWNER polycloud"
  fi
  write_env
  say "running in $SDIR on 127.0.0.1:$port (log: $SDIR/server.log)"
  cat "$DIR/env"
}

cmd_stop() {
  find_pgbin
  pick_user
  [[ -d "$DIR" ]] || { say "nothing in $DIR"; return 0; }
  DIR=$(cd "$DIR" && pwd)
  server_dir
  if running; then
    local mode=fast; [[ $IMMEDIATE -eq 1 ]] && mode=immediate
    as_owner "$PGBIN/pg_ctl" -D "$SDIR/data" -m "$mode" -w -t "$TIMEOUT" stop >/dev/null ||
      as_owner "$PGBIN/pg_ctl" -D "$SDIR/data" -m immediate -w -t "$TIMEOUT" stop >/dev/null
  fi
  if [[ $REMOVE -eq 1 ]]; then rm -rf "$SDIR" "$DIR"; fi
}

cmd_status() {
  find_pgbin
  pick_user
  [[ -d "$DIR" ]] && DIR=$(cd "$DIR" && pwd) && server_dir && running
}

cmd_env() {
  [[ -f "$DIR/env" ]] || die "no server was started in $DIR (run: $0 start $DIR)"
  cat "$DIR/env"
}

cmd_url() {
  [[ -f "$DIR/url" ]] || die "no server was started in $DIR (run: $0 start $DIR)"
  cat "$DIR/url"
}

# ---------------------------------------------------------------- main
[[ $# -ge 1 ]] || { usage; exit 1; }
command="$1"; shift
if [[ $# -gt 0 && "$1" != --* ]]; then DIR="$1"; shift; fi
while [[ $# -gt 0 ]]; do
  case "$1" in
    --port) PORT="$2"; shift 2 ;;
    --fast) FAST=1; shift ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    --immediate) IMMEDIATE=1; shift ;;
    --remove) REMOVE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see $0 --help)" ;;
  esac
done
case "$command" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  url) cmd_url ;;
  -h|--help|help) usage ;;
  *) die "unknown command '$command' (see $0 --help)" ;;
esac
