#!/usr/bin/env bash
# Installs the Debian 12 packages polycloud needs to build and test, if any are
# missing. Safe to run again: it installs nothing when everything is present.
#   scripts/install-deps.sh            # build + unit tests
#   scripts/install-deps.sh test       # + Slurm and munge (Slurm integration tests), PostgreSQL 15
#                                      #   (the store's `postgres` tests), prometheus (promtool, the
#                                      #   metrics format test), curl and jq (serve_slurm), Chromium
#                                      #   and Node.js/npm (the browser test): what make test needs
#   scripts/install-deps.sh fuzz       # + clang for the libFuzzer targets
#   scripts/install-deps.sh bench      # + valgrind (perf gate), wrk and nginx (bench/*_wrk.sh)
set -euo pipefail

packages=(build-essential cmake ninja-build g++ pkg-config ccache
          libyaml-cpp-dev nlohmann-json3-dev libcli11-dev zlib1g-dev
          libgtest-dev libgmock-dev libbenchmark-dev liblemon-dev
          libboost1.81-dev libsqlite3-dev libpq-dev libssl-dev
          coinor-libclp-dev coinor-libcbc-dev)  # COIN-OR LP/MIP solvers: polycloud plan (src/plan)
# Slurm and munge: the same list as scripts/slurm-clusters.sh install (docs/slurm.md);
# PostgreSQL 15 for the store's `postgres` tests (scripts/postgres.sh, docs/store.md);
# prometheus: its promtool checks the /metrics text (src/http/metrics_test.cc);
# curl and jq: tests/integration/serve_slurm_test.sh drives the broker's API with them.
if [[ "${1:-}" == "test" ]]; then packages+=(slurm-wlm slurmctld slurmd slurm-client munge slurmrestd
                                             postgresql-15 prometheus curl jq); fi
# The HTML report's browser test (tests/browser): Debian's Chromium, driven by
# playwright-core from npm; the gateway's OpenAI client test (tests/gateway) needs
# Node.js 20 and npm too. Node.js and npm only when there are none: a
# machine's own Node.js 20 (nodesource's nodejs bundles npm) must not be
# replaced by Debian's npm, which pulls in Debian's Node.js 18.
if [[ "${1:-}" == "test" ]]; then
  packages+=(chromium)
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then packages+=(nodejs npm); fi
fi
if [[ "${1:-}" == "fuzz" ]]; then packages+=(clang libclang-rt-14-dev); fi
# wrk: the load generator of bench/http_wrk.sh, bench/serve_wrk.sh and bench/gateway_wrk.sh
# (nginx: the reverse-proxy floor and the fixed upstream of gateway_wrk.sh; serve_wrk.sh uses
# curl and jq from the test list).
if [[ "${1:-}" == "bench" ]]; then packages+=(valgrind wrk nginx); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then exit 0; fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
