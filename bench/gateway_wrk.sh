#!/usr/bin/env bash
# The gateway's throughput and overhead (issue 13), against nginx as a plain
# reverse proxy to the same upstream — the floor for "just forwarding".
#
# The upstream is nginx answering a fixed chat completion (`return 200`; one
# server for JSON, one for a Server-Sent Events body), so it costs next to
# nothing. In front of it, measured with the same wrk command in one batch:
#   direct    wrk → upstream
#   nginx     wrk → nginx (1 worker, upstream keepalive 64) → upstream
#   gateway   wrk → polycloud gateway → upstream (non-streaming, then streaming)
# each closed-loop at the most the machine sustains, then paced (each
# connection waits between requests, wrk's delay()) at RATES requests/s. For
# the gateway the overhead (arrival to answer minus the time waiting on the
# upstream) comes from its own histogram, polycloud_gateway_overhead_seconds,
# read from /metrics before and after each run: p50/p99 are the bucket
# bounds the run's quantiles fall in. With SOAK_SECONDS, a last paced run
# that long reports the gateway's resident memory at its start and end.
#
#   bench/gateway_wrk.sh                                  # 10 s per run, 64 connections
#   SECONDS_EACH=5 RATES="1000 5000" bench/gateway_wrk.sh
#   SOAK_SECONDS=600 bench/gateway_wrk.sh                 # plus the 10-minute soak
#   RATES="" SOAK_RATE=2000 SOAK_SECONDS=600 bench/gateway_wrk.sh   # the soak without paced runs
#
# Needs wrk and nginx (scripts/install-deps.sh bench). wrk is closed-loop: a
# stalled server sends fewer requests rather than showing the stall as
# latency (coordinated omission), so its p99 is a floor. Everything shares
# the machine's cores: compare only figures taken in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
SECONDS_EACH=${SECONDS_EACH:-10}
CONNECTIONS=${CONNECTIONS:-64}
RATES=${RATES-"1000 5000 10000"}  # RATES="" runs none
SOAK_RATE=${SOAK_RATE:-5000}
SOAK_SECONDS=${SOAK_SECONDS:-0}
GATEWAY_THREADS=${GATEWAY_THREADS:-2}
UPSTREAM_THREADS=${UPSTREAM_THREADS:-1}

for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin
  command -v "$tool" >/dev/null || { echo "gateway_wrk: $tool is not installed (scripts/install-deps.sh bench)" >&2; exit 1; }
done
cmake --build "$BUILD" --target polycloud >/dev/null
polycloud=$BUILD/apps/polycloud

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
  echo $(( 20000 + RANDOM % 20000 )); }
up=$(free_port); up_sse=$(free_port); proxy=$(free_port)
answer='{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}'
chunk='{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":null}]}'
usage='{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}'
mkdir -p "$work/logs"
cat >"$work/nginx.conf" <<NGINX
daemon off; worker_processes 1; pid logs/nginx.pid; error_log logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path logs/tmp_body; proxy_temp_path logs/tmp_proxy;
  fastcgi_temp_path logs/tmp_fcgi; uwsgi_temp_path logs/tmp_uwsgi; scgi_temp_path logs/tmp_scgi;
  server { listen 127.0.0.1:$up; keepalive_requests 1000000;
    location / { default_type application/json; return 200 '$answer'; } }
  server { listen 127.0.0.1:$up_sse; keepalive_requests 1000000;
    location / { default_type text/event-stream; return 200 'data: $chunk\n\ndata: $usage\n\ndata: [DONE]\n\n'; } }
  upstream fixed { server 127.0.0.1:$up; keepalive 64; }
  server { listen 127.0.0.1:$proxy; keepalive_requests 1000000;
    location / { proxy_pass http://fixed; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
NGINX
nginx -p "$work/" -c "$work/nginx.conf" -t 2>/dev/null
nginx -p "$work/" -c "$work/nginx.conf" & pids+=($!)

cat >"$work/fleet.yaml" <<YAML
name: gateway-bench
start: 2026-01-01
end: 2099-01-01
providers: [{id: azure}]
sites: [{id: az, provider: azure}]
pools: [{id: p, site: az, accelerator: H100, pricing: on-demand, gpus: 8, price_per_gpu_hour: 2}]
YAML
key=$("$polycloud" gateway key create --id bench 2>"$work/key.entry")
hash=$(sed -n 's/.*secret_sha256: \([0-9a-f]*\).*/\1/p' "$work/key.entry")
cat >"$work/endpoints.yaml" <<YAML
endpoints:
  - {id: fixed, provider: azure, model: m, base_url: "http://127.0.0.1:$up/v1", format: openai, price: {input_per_million: 1, output_per_million: 2}}
  - {id: fixed-sse, provider: azure, model: m-stream, base_url: "http://127.0.0.1:$up_sse/v1", format: openai}
keys:
  - {id: bench, secret_sha256: $hash, workload_class: chat}
YAML
"$polycloud" gateway --scenario "$work/fleet.yaml" --endpoints "$work/endpoints.yaml" \
  --listen 127.0.0.1:0 --threads "$GATEWAY_THREADS" --upstream-threads "$UPSTREAM_THREADS" \
  --store "$work/usage.db" >"$work/gateway.out" 2>&1 & gateway_pid=$!; pids+=($gateway_pid)
for _ in $(seq 100); do grep -q listening "$work/gateway.out" 2>/dev/null && break; sleep 0.05; done
gateway=$(sed -n 's/.*listening on http:\/\/\([^/]*\)\/v1.*/\1/p' "$work/gateway.out")
[[ -n "$gateway" ]] || { echo "gateway_wrk: the gateway did not start"; cat "$work/gateway.out"; exit 1; }
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$up/" -d '{}' && break; sleep 0.05; done

# POST a chat request; with DELAY_MS set, each connection waits that long
# before its next request (pacing).
lua() {  # MODEL STREAM DELAY_MS
  cat <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
wrk.body = '{"model":"$1","stream":$2,"messages":[{"role":"user","content":"hello"}]}'
$( [[ "$3" != 0 ]] && echo "function delay() return $3 end" )
LUA
}

# The overhead histogram's cumulative buckets: "le count" lines.
buckets() {
  curl -s "http://$gateway/metrics" |
    sed -n 's/^polycloud_gateway_overhead_seconds_bucket{le="\([^"]*\)"} \([0-9.e+]*\)$/\1 \2/p'
}
# p50 and p99 of the requests between two bucket snapshots: the upper bound
# of the bucket each quantile falls in, in ms.
quantiles() {  # BEFORE AFTER
  paste -d' ' "$1" "$2" | awk '{ le[NR]=$1; n[NR]=$4-$2 } END {
    total=n[NR]; if (total <= 0) { print "- -"; exit }
    split("0.5 0.99", qs, " "); out="";
    for (i=1; i<=2; i++) { for (j=1; j<=NR; j++) if (n[j] >= qs[i]*total) break;
      v = (le[j] == "+Inf") ? "inf" : sprintf("%.3f", le[j]*1000); out = out v " " }
    print out }'
}

results=$work/results
printf "%-34s %10s %9s %9s %14s %14s\n" "run" "req/s" "p50 ms" "p99 ms" "overhead p50" "overhead p99" >"$results"
run() {  # NAME URL MODEL STREAM DELAY_MS GATEWAY? [SECONDS]
  local name=$1 url=$2 model=$3 stream=$4 delay=$5 is_gateway=$6 seconds=${7:-$SECONDS_EACH}
  lua "$model" "$stream" "$delay" >"$work/post.lua"
  [[ $is_gateway == yes ]] && buckets >"$work/before"
  wrk -t1 -c"$CONNECTIONS" -d"${seconds}s" --latency -s "$work/post.lua" "$url" >"$work/wrk.out" 2>&1
  local rps p50 p99 over="- -"
  rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$work/wrk.out")
  p50=$(awk '$1=="50%" {print $2}' "$work/wrk.out")
  p99=$(awk '$1=="99%" {print $2}' "$work/wrk.out")
  if grep -q "Non-2xx" "$work/wrk.out"; then name="$name (!$(sed -n 's/.*Non-2xx or 3xx responses: *//p' "$work/wrk.out") non-2xx)"; fi
  if [[ $is_gateway == yes ]]; then buckets >"$work/after"; over=$(quantiles "$work/before" "$work/after"); fi
  read -r o50 o99 <<<"$over"
  printf "%-34s %10.0f %9s %9s %14s %14s\n" "$name" "${rps:-0}" "$p50" "$p99" "$o50" "$o99" | tee -a "$results"
}

echo "gateway_wrk: wrk -t1 -c$CONNECTIONS, ${SECONDS_EACH}s per run, $(nproc) cores shared by wrk, nginx and the gateway ($GATEWAY_THREADS HTTP threads, $UPSTREAM_THREADS upstream I/O threads)"
run "direct upstream, max" "http://127.0.0.1:$up/v1/chat/completions" m false 0 no
run "nginx proxy, max" "http://127.0.0.1:$proxy/v1/chat/completions" m false 0 no
run "gateway, max" "http://$gateway/v1/chat/completions" m false 0 yes
run "gateway streaming, max" "http://$gateway/v1/chat/completions" m-stream true 0 yes
for rate in $RATES; do
  delay=$(( CONNECTIONS * 1000 / rate ))
  run "nginx proxy, paced $rate/s" "http://127.0.0.1:$proxy/v1/chat/completions" m false "$delay" no
  run "gateway, paced $rate/s" "http://$gateway/v1/chat/completions" m false "$delay" yes
  run "gateway streaming, paced $rate/s" "http://$gateway/v1/chat/completions" m-stream true "$delay" yes
done
if (( SOAK_SECONDS > 0 )); then
  rss() { awk '/^VmRSS/ {print $2}' "/proc/$gateway_pid/status"; }
  before=$(rss)
  run "gateway soak, paced $SOAK_RATE/s" "http://$gateway/v1/chat/completions" m false $(( CONNECTIONS * 1000 / SOAK_RATE )) yes "$SOAK_SECONDS"
  echo "gateway resident memory: ${before} kB before the soak, $(rss) kB after ${SOAK_SECONDS}s"
fi
echo
echo "== table (req/s achieved; wrk's latency; the gateway's own overhead, bucket upper bounds)"
cat "$results"
