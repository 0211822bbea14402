#!/usr/bin/env bash
# The HTML report in a real browser (CTest: browser_report, label browser).
#
#   tests/browser/browser_test.sh POLYCLOUD SOURCE_DIR BUILD_DIR
#
# Installs web/'s npm packages from the lock file into BUILD_DIR/web-deps
# (npm ci; playwright-core downloads no browser), checks that
# src/report/html_assets.h is what web/build.mjs makes of them, writes the
# HTML report of every shipped example (those that read ../shared/data only
# when it is there), the contracts view and the trace replays, and has
# web/test/report.test.mjs open each in Debian's Chromium, plus the dashboard
# served on 127.0.0.1. Screenshots of every chart land in
# BUILD_DIR/browser/screenshots/<page>/.
#
# Exit 77 (CTest: skipped) with the reason when Node.js 20, npm, Chromium or
# the npm registry is not there; scripts/install-deps.sh test installs them.
set -euo pipefail
polycloud=$1
src=$(cd "$2" && pwd)
build=$(cd "$3" && pwd)
out=$build/browser
skip() { echo "SKIP: $*" >&2; exit 77; }

command -v node >/dev/null || skip "node is not installed (scripts/install-deps.sh test)"
command -v npm >/dev/null || skip "npm is not installed (scripts/install-deps.sh test)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
(( node_major >= 20 )) || skip "playwright-core needs Node.js 20 or later; this is $(node --version)"
chromium=${CHROMIUM:-/usr/bin/chromium}
[[ -x $chromium ]] || skip "$chromium is not installed (scripts/install-deps.sh test installs Debian's chromium)"

# npm ci from the lock file, again only when the lock file changed.
deps=$build/web-deps
mkdir -p "$deps"
if ! cmp -s "$src/web/package-lock.json" "$deps/package-lock.json" || [[ ! -d $deps/node_modules/playwright-core ]]; then
  cp "$src/web/package.json" "$src/web/package-lock.json" "$deps/"
  if ! (cd "$deps" && npm ci --no-audit --no-fund --loglevel=error); then
    rm -f "$deps/package-lock.json"
    skip "npm ci failed (is the npm registry reachable?)"
  fi
fi
export POLYCLOUD_NODE_MODULES=$deps/node_modules

# The committed page assets are what the pinned packages and web/src make.
node "$src/web/build.mjs" --check

rm -rf "$out/pages"
mkdir -p "$out/pages"
pages=()
data=$src/../shared/data
for scenario in "$src"/examples/*.yaml; do
  name=$(basename "$scenario" .yaml)
  if grep -q 'shared/data' "$scenario" && [[ ! -d $data ]]; then
    echo "note: $name reads ../shared/data, which is not here: not tested"
    continue
  fi
  "$polycloud" simulate "$scenario" -q --html "$out/pages/$name.html" --json "$out/pages/$name.json"
  pages+=("$out/pages/$name.html")
done
"$polycloud" contracts "$src/examples/openai-2025-timeline.yaml" --by week \
  --html "$out/pages/contracts-openai-2025-timeline.html" >/dev/null
pages+=("$out/pages/contracts-openai-2025-timeline.html")
if [[ -d $data ]]; then
  "$polycloud" replay --trace "philly:$data/philly/philly.csv.gz" --per-vc \
    --html "$out/pages/replay-philly.html" >/dev/null 2>&1
  "$polycloud" replay --trace "alibaba-gpu:$data/alibaba-gpu-2023/openb_pod_list_default.csv" \
    --fidelity --html "$out/pages/replay-alibaba-fidelity.html" >/dev/null 2>&1
  pages+=("$out/pages/replay-philly.html" "$out/pages/replay-alibaba-fidelity.html")
else
  echo "note: ../shared/data is not here: the trace replays are not tested"
fi

# The fragmentation experiment's page, on a small pod and node list in the
# openb layout (tests/browser/fragmentation), so it is tested with or without
# ../shared/data.
"$polycloud" fragmentation --pods "$src/tests/browser/fragmentation/pods.csv" --seeds 3 \
  --policy random --policy bestfit --policy fgd --html "$out/pages/fragmentation.html" >/dev/null
pages+=("$out/pages/fragmentation.html")

node "$src/web/test/report.test.mjs" --modules "$deps/node_modules" --out "$out" \
  --chromium "$chromium" --dashboard "$out/pages/openai-2025.json" "${pages[@]}"
