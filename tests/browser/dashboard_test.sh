#!/usr/bin/env bash
# The broker's dashboard in a real browser (CTest: browser_dashboard, label
# browser): `polycloud serve` on a loopback port with
# tests/browser/dashboard-fleet.yaml and SQLite in a temporary folder, an
# admin token made with `polycloud token create`, then
# web/test/dashboard.test.mjs drives Debian's Chromium through
# playwright-core against it (it makes the other tokens and submits jobs
# through the API). Screenshots land in BUILD_DIR/browser/screenshots/dashboard/.
#
#   tests/browser/dashboard_test.sh POLYCLOUD SOURCE_DIR BUILD_DIR
#
# Exit 77 (CTest: skipped) with the reason when Node.js 20, npm, Chromium or
# the npm registry is not there; scripts/install-deps.sh test installs them.
set -euo pipefail
polycloud=$1
src=$(cd "$2" && pwd)
build=$(cd "$3" && pwd)
out=$build/browser
source "$src/tests/browser/web_deps.sh"

work=$(mktemp -d /tmp/polycloud-dashboard.XXXXXX)
serve_pid=
cleanup() {
  if [[ -n $serve_pid ]]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; echo "== serve.log" >&2; cat "$work/serve.log" >&2 || true; exit 1; }

store="sqlite:$work/polycloud.db"
admin=$("$polycloud" token create --role admin --store "$store" 2>/dev/null)
# One-second buckets, so a test of a minute draws dozens of points.
"$polycloud" serve --scenario "$src/tests/browser/dashboard-fleet.yaml" --store "$store" \
  --listen 127.0.0.1:0 --tick 1s --report-bucket 1s >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do grep -q 'listening on http://' "$work/serve.log" && break; sleep 0.1; done
url=$(sed -n 's|.*listening on \(http://[0-9.:]*\).*|\1|p' "$work/serve.log" | head -1)
[[ -n $url ]] || fail "serve did not start"

rm -rf "$out/screenshots/dashboard"
node "$src/web/test/dashboard.test.mjs" --modules "$deps/node_modules" --out "$out" \
  --chromium "$chromium" --base "$url" --admin "$admin" || fail "the dashboard's checks failed"
