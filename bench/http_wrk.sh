#!/usr/bin/env bash
# Loads bench/http_demo_server (src/http behind two trivial routes) with wrk,
# a C load generator (Debian package wrk: scripts/install-deps.sh bench), and
# prints wrk's figures: requests/s and the latency distribution of a JSON
# POST and of a GET, for each number of connections.
#   bench/http_wrk.sh                      # 2 server threads; 1, 16, 64 connections; 5 s each
#   SERVER_THREADS=1 CONNECTIONS="8 32" SECONDS_EACH=10 bench/http_wrk.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
SERVER_THREADS=${SERVER_THREADS:-2}
CONNECTIONS=${CONNECTIONS:-"1 16 64"}
SECONDS_EACH=${SECONDS_EACH:-5}
WRK_THREADS=${WRK_THREADS:-1}

if ! command -v wrk >/dev/null; then
  echo "http_wrk: wrk is not installed (scripts/install-deps.sh bench installs it)" >&2
  exit 1
fi
cmake --build "$BUILD" --target http_demo_server >/dev/null

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$BUILD/bench/http_demo_server" --port 0 --threads "$SERVER_THREADS" >"$work/server.out" &
server_pid=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$work/server.out" 2>/dev/null && break
  sleep 0.05
done
address=$(sed -n 's/^listening on //p' "$work/server.out")
[[ -n "$address" ]] || { echo "http_wrk: the demo server did not start" >&2; exit 1; }

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"name":"bench-job","gpus":8}'
wrk.headers["Content-Type"] = "application/json"
LUA

echo "http_demo_server on $address: $SERVER_THREADS server threads, wrk with $WRK_THREADS thread(s), ${SECONDS_EACH}s per run, $(nproc) cores shared"
for c in $CONNECTIONS; do
  threads=$(( WRK_THREADS < c ? WRK_THREADS : c ))
  echo
  echo "== POST /v1/echo, $c connections"
  wrk -t"$threads" -c"$c" -d"${SECONDS_EACH}s" --latency -s "$work/post.lua" "http://$address/v1/echo"
  echo
  echo "== GET /healthz, $c connections"
  wrk -t"$threads" -c"$c" -d"${SECONDS_EACH}s" --latency "http://$address/healthz"
done

kill -INT "$server_pid"
wait "$server_pid" || true
server_pid=""
echo
echo "== the server's own counts"
sed -n '2,$p' "$work/server.out"
