#!/usr/bin/env bash
# The gateway in one command (README, docs/gateway.md): two local
# OpenAI-shaped upstreams standing in for two azure deployments and one aws
# deployment, `polycloud gateway` in front, and three client calls: a free
# class goes to the cheapest deployment, the api class (exclusive to azure)
# fails over from a broken azure deployment to the other azure one, and a
# model only aws serves is refused for the api class with the clause named.
# Needs node (the upstreams) and curl; builds nothing: run `make example` or
# build the polycloud target first.
#   scripts/gateway-demo.sh [PATH/TO/polycloud]
set -euo pipefail
polycloud=${1:-build/release/apps/polycloud}
for tool in node curl "$polycloud"; do
  command -v "$tool" >/dev/null || { echo "gateway-demo: $tool is needed" >&2; exit 2; }
done
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT

# An OpenAI-shaped upstream: `node - PORTFILE NAME fail|ok`.
upstream='
const [portFile, name, mode] = process.argv.slice(1);
require("http").createServer((req, res) => {
  let body = ""; req.on("data", (c) => (body += c)); req.on("end", () => {
    if (mode === "fail") { res.writeHead(500); return res.end("{\"error\":{\"message\":\"down\"}}"); }
    const r = JSON.parse(body);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ id: "chatcmpl-1", object: "chat.completion", created: 1, model: r.model,
      choices: [{ index: 0, message: { role: "assistant", content: `hello from ${name}` }, finish_reason: "stop" }],
      usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } }));
  });
}).listen(0, "127.0.0.1", function () { require("fs").writeFileSync(portFile, String(this.address().port)); });'
start_upstream() {  # NAME MODE; its port lands in $dir/NAME.port
  node -e "$upstream" "$dir/$1.port" "$1" "$2" >/dev/null & pids+=($!)
}
port_of() {
  for _ in $(seq 50); do [[ -s $dir/$1.port ]] && break; sleep 0.1; done
  cat "$dir/$1.port"
}
start_upstream az1 fail   # broken
start_upstream az2 ok
start_upstream aws ok
az1=$(port_of az1) az2=$(port_of az2) aws=$(port_of aws)

cat > "$dir/fleet.yaml" <<YAML
name: gateway-demo
start: 2026-01-01
end: 2099-01-01
providers: [{id: azure}, {id: aws}]
contracts:
  - {id: azure-deal, provider: azure, start: 2025-01-01, end: 2099-01-01,
     exclusivity: [{class: api, until: 2030-01-01}]}
sites: [{id: az, provider: azure}, {id: aw, provider: aws}]
pools: [{id: p, site: az, accelerator: H100, pricing: on-demand, gpus: 8, price_per_gpu_hour: 2}]
YAML
api_key=$("$polycloud" gateway key create --id api 2>"$dir/api.entry")
chat_key=$("$polycloud" gateway key create --id chat 2>"$dir/chat.entry")
hash() { sed -n 's/.*secret_sha256: \([0-9a-f]*\).*/\1/p' "$1"; }
cat > "$dir/endpoints.yaml" <<YAML
endpoints:
  - {id: azure-1, provider: azure, model: gpt-demo, base_url: "http://127.0.0.1:$az1/v1", format: openai, price: {input_per_million: 2}}
  - {id: azure-2, provider: azure, model: gpt-demo, base_url: "http://127.0.0.1:$az2/v1", format: openai, price: {input_per_million: 3}}
  - {id: aws-1, provider: aws, model: gpt-demo, base_url: "http://127.0.0.1:$aws/v1", format: openai, price: {input_per_million: 1}}
  - {id: aws-only, provider: aws, model: gpt-aws, base_url: "http://127.0.0.1:$aws/v1", format: openai}
keys:
  - {id: api, secret_sha256: $(hash "$dir/api.entry"), workload_class: api}
  - {id: chat, secret_sha256: $(hash "$dir/chat.entry"), workload_class: chat}
YAML
"$polycloud" gateway --scenario "$dir/fleet.yaml" --endpoints "$dir/endpoints.yaml" --store "$dir/usage.db" \
  --listen 127.0.0.1:0 > "$dir/gateway.log" & pids+=($!)
for _ in $(seq 50); do grep -q listening "$dir/gateway.log" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$dir/gateway.log")
echo "gateway at $url; azure-1 is broken"

call() {  # TITLE KEY MODEL
  echo; echo "== $1"
  curl -s -i "$url/chat/completions" -H "Authorization: Bearer $2" \
    -H 'Content-Type: application/json' \
    -d "{\"model\":\"$3\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" |
    sed 's/\r$//' | tee "$dir/last" | grep -iE '^(HTTP/|x-polycloud-)|"content"|"message"'
}
call "class chat (no clause): the cheapest deployment" "$chat_key" gpt-demo
call "class api (exclusive to azure): azure-1 fails, azure-2 serves, aws-1 is never tried" "$api_key" gpt-demo
failover=$(sed -n 's/^x-request-id: //Ip' "$dir/last")
call "class api asks for a model only aws serves: refused, naming the clause" "$api_key" gpt-aws
echo; echo "== why the failover went where it went: polycloud gateway explain $failover"
OPENAI_API_KEY=$api_key "$polycloud" gateway explain "$failover" --server "${url%/v1}"
