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
# web/test/report.test.mjs open each in Debian's Chromium (the dashboard that
# `polycloud serve` serves has its own test, dashboard_test.sh). Screenshots of every chart land in
# BUILD_DIR/browser/screenshots/<page>/.
#
# Exit 77 (CTest: skipped) with the reason when Node.js 20, npm, Chromium or
# the npm registry is not there; scripts/install-deps.sh test installs them.
set -euo pipefail
polycloud=$1
src=$(cd "$2" && pwd)
build=$(cd "$3" && pwd)
out=$build/browser
source "$src/tests/browser/web_deps.sh"
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
  --chromium "$chromium" "${pages[@]}"
