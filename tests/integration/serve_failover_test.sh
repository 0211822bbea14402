#!/usr/bin/env bash
# Two brokers on one PostgreSQL: only one is active (the store's advisory
# lock); the other stands by, and takes over — with every acknowledged job —
# when the active one is killed with SIGKILL.
#   serve_failover_test.sh POLYCLOUD_BINARY SOURCE_DIR
# Exit 77 (CTest's skip) when PostgreSQL is not installed.
set -euo pipefail
BIN=$1
SRC=$2
WORK=$(mktemp -d /tmp/polycloud-failover.XXXXXX)
chmod 755 "$WORK"
PG="$WORK/pg"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  bash "$SRC/scripts/postgres.sh" stop "$PG" --immediate --remove >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$WORK"/*.log; do echo "== $f"; cat "$f"; done >&2; exit 1; }

set +e
bash "$SRC/scripts/postgres.sh" start "$PG" --fast >"$WORK/pg-start.log" 2>&1
rc=$?
set -e
if [[ $rc -eq 77 ]]; then echo "SKIP: PostgreSQL 15 is not installed (scripts/postgres.sh install)"; exit 77; fi
[[ $rc -eq 0 ]] || fail "postgres.sh start failed"
URL=$(bash "$SRC/scripts/postgres.sh" url "$PG")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
              echo $((20000 + RANDOM % 20000)); }
PA=$(free_port)
PB=$(free_port)
cat >"$WORK/fleet.yaml" <<YAML
name: failover
start: 2026-01-01
end: 2027-01-01
providers: [{id: a}]
sites: [{id: s, provider: a, backend: {kind: sim}}]
pools: [{id: p, site: s, accelerator: H100, pricing: on-demand, gpus: 64, price_per_gpu_hour: 2}]
YAML
printf 'gpus: 8\nwork_gpu_hours: 800\n' >"$WORK/job.yaml"

TOKEN=$("$BIN" token create --role admin --store "$URL" 2>/dev/null)
export POLYCLOUD_TOKEN=$TOKEN

"$BIN" serve --scenario "$WORK/fleet.yaml" --store "$URL" --listen "127.0.0.1:$PA" --tick 1s >"$WORK/a.log" 2>&1 &
pids+=($!)
A=$!
for _ in $(seq 50); do grep -q listening "$WORK/a.log" && break; sleep 0.2; done
grep -q listening "$WORK/a.log" || fail "broker A did not start"

"$BIN" serve --scenario "$WORK/fleet.yaml" --store "$URL" --listen "127.0.0.1:$PB" --tick 1s >"$WORK/b.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q "standing by" "$WORK/b.log" && break; sleep 0.2; done
grep -q "standing by" "$WORK/b.log" || fail "broker B did not stand by while A is active"
if grep -q listening "$WORK/b.log"; then fail "broker B listens while A holds the lease"; fi

ids=()
for i in 1 2 3; do
  ids+=("$("$BIN" submit "$WORK/job.yaml" --server "http://127.0.0.1:$PA" --key "k$i")")
done
kill -9 "$A"

for _ in $(seq 100); do grep -q listening "$WORK/b.log" && break; sleep 0.2; done
grep -q listening "$WORK/b.log" || fail "broker B did not take over within 20 s of A's death"
for id in "${ids[@]}"; do
  out=$("$BIN" status "$id" --server "http://127.0.0.1:$PB") || fail "job $id lost in the failover"
  [[ $out == "$id "* ]] || fail "status of $id: $out"
done
# The same key on the new broker returns the same job.
again=$("$BIN" submit "$WORK/job.yaml" --server "http://127.0.0.1:$PB" --key k2)
[[ $again == "${ids[1]}" ]] || fail "key k2 gave $again after the failover, ${ids[1]} before"
echo "PASS: broker B took over with ${#ids[@]} acknowledged jobs"
