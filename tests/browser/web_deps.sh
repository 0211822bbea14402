# What the browser tests share (sourced by browser_test.sh and
# dashboard_test.sh, with $src and $build set): exit 77 (CTest: skipped) with
# the reason when Node.js 20, npm or Chromium is missing; otherwise npm ci of
# web/'s lock file into $build/web-deps (again only when the lock file
# changed; playwright-core downloads no browser), skipping when the npm
# registry cannot be reached. Sets $chromium and $deps. CTest's RESOURCE_LOCK
# web-deps keeps two tests from installing at once.
skip() { echo "SKIP: $*" >&2; exit 77; }

command -v node >/dev/null || skip "node is not installed (scripts/install-deps.sh test)"
command -v npm >/dev/null || skip "npm is not installed (scripts/install-deps.sh test)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
(( node_major >= 20 )) || skip "playwright-core needs Node.js 20 or later; this is $(node --version)"
chromium=${CHROMIUM:-/usr/bin/chromium}
[[ -x $chromium ]] || skip "$chromium is not installed (scripts/install-deps.sh test installs Debian's chromium)"

deps=$build/web-deps
mkdir -p "$deps"
if ! cmp -s "$src/web/package-lock.json" "$deps/package-lock.json" || [[ ! -d $deps/node_modules/playwright-core ]]; then
  cp "$src/web/package.json" "$src/web/package-lock.json" "$deps/"
  if ! (cd "$deps" && npm ci --no-audit --no-fund --loglevel=error); then
    rm -f "$deps/package-lock.json"
    skip "npm ci failed (is the npm registry reachable?)"
  fi
fi
