#!/usr/bin/env bash
# The official OpenAI Node client against `polycloud gateway`
# (openai_client_test.mjs). Installs the locked client with `npm ci` into
# WORK_DIR (the build folder), then runs the test. Exit 77 (CTest: skipped)
# with the reason when Node.js >= 20 or npm is missing, or the client cannot
# be installed; `scripts/install-deps.sh test` installs Node.js and npm.
#   run_openai_client_test.sh PATH/TO/polycloud WORK_DIR
set -euo pipefail
polycloud=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: node and npm are needed (scripts/install-deps.sh test installs them)"
  exit 77
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if (( major < 20 )); then
  echo "SKIP: the openai client needs Node.js >= 20, found $(node --version)"
  exit 77
fi
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here/openai_client_test.mjs" "$work/"
cd "$work"
if ! npm ci --prefer-offline --no-audit --no-fund --ignore-scripts >npm.log 2>&1; then
  echo "SKIP: npm ci could not install the openai client (see $work/npm.log):"
  tail -5 npm.log
  exit 77
fi
exec node openai_client_test.mjs "$polycloud"
