#!/usr/bin/env bash
# The what-if commands end to end (docs/whatif.md): --with/--set/--unset on the
# scenario-reading commands, diff and sweep (locally), with their exit codes
# and messages. Usage: whatif.sh POLYCLOUD SOURCE_DIR
set -u
B=$1
SRC=$2
EX=$SRC/examples/openai-2025.yaml
SMALL=$SRC/tests/scenarios/rofr.yaml
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failures=0
checks=0

# expect CODE STDERR_PART -- COMMAND...: runs COMMAND (standard output to
# $T/out, at most 60 s) and compares its exit code and a piece of its
# standard error ("" = any).
expect() {
  local code=$1 part=$2
  shift 3
  checks=$((checks + 1))
  timeout 60 "$@" >"$T/out" 2>"$T/err" </dev/null
  local got=$?
  if [[ $got -ne $code ]] || { [[ -n $part ]] && ! grep -qF -- "$part" "$T/err"; }; then
    failures=$((failures + 1))
    echo "FAIL: $* -> exit $got (expected $code), stderr:"
    head -c 800 "$T/err"
    echo
  fi
}
# out_has TEXT: the last command's standard output contains TEXT.
out_has() {
  checks=$((checks + 1))
  if ! grep -qF -- "$1" "$T/out"; then
    failures=$((failures + 1))
    echo "FAIL: standard output lacks: $1"
    head -c 1500 "$T/out"
    echo
  fi
}
out_lacks() {
  checks=$((checks + 1))
  if grep -qF -- "$1" "$T/out"; then
    failures=$((failures + 1))
    echo "FAIL: standard output has: $1"
  fi
}

# --set and --with on the flagship: validate takes them.
expect 0 "" -- "$B" validate "$EX" --set 'pools.aws-gb*.gpus.shift=+180d' \
  --set 'services.*.demand.scale=1.3' --set 'contracts.azure-2025.exclusivity=[]'
expect 0 "" -- "$B" validate "$EX" --unset contracts.azure-2025.exclusivity --set scheduler.policy=fifo

# Bad paths and values: exit 3, the argument and the column named.
expect 3 '--set #1 "pools.aws-gb2000.gpus=8", column 7: no item with id or name "aws-gb2000" in pools' \
  -- "$B" validate "$EX" --set 'pools.aws-gb2000.gpus=8'
expect 3 '--set #2 "pools.aws-gb200.price=3", column 17: unknown key "price"' \
  -- "$B" validate "$EX" --set 'pools.aws-gb200.gpus_per_node=4' --set 'pools.aws-gb200.price=3'
expect 3 '--set #1 "jobs[7].gpus=8", column 5: index 7 is past the end of jobs (1 items)' \
  -- "$B" simulate "$EX" --set 'jobs[7].gpus=8' -q
expect 3 'column 28: shift: expected a signed duration' \
  -- "$B" validate "$EX" --set 'pools.aws-gb200.gpus.shift=soon'
expect 3 '--set #1 "pools.aws-gb200.gpus=lots", column 22:' \
  -- "$B" explain "$EX" frontier-1 --set 'pools.aws-gb200.gpus=lots'
expect 3 'expected PATH=VALUE' -- "$B" contracts "$EX" --set 'pools.aws-gb200'
expect 3 '--unset #1 "contracts.azure-2025.rofr", column 22: no key "rofr"' \
  -- "$B" validate "$EX" --unset contracts.azure-2025.rofr
printf 'pools:\n  - id: aws-gb200\n    gpus: many\n' >"$T/bad.yaml"
expect 3 "$T/bad.yaml:3:11:" -- "$B" validate "$EX" --with "$T/bad.yaml"
printf 'jobs:\n  - {id: nope, remove: true}\n' >"$T/rm.yaml"
expect 3 "$T/rm.yaml:2:5: remove: no item with id \"nope\"" -- "$B" validate "$EX" --with "$T/rm.yaml"
expect 4 "cannot open the --with fragment" -- "$B" validate "$EX" --with "$T/missing.yaml"

# A variant's report says what it is; the same command gives the same bytes.
printf 'pools:\n  - {id: inc-h100, price_per_gpu_hour: 2.50}\n' >"$T/price.yaml"
expect 0 "" -- "$B" simulate "$SMALL" --json "$T/a.json" -q --no-compare
expect 0 "" -- "$B" simulate "$SMALL" --with "$T/price.yaml" --unset contracts.incumbent-deal.rofr \
  --json "$T/b.json" -q --no-compare
expect 0 "" -- "$B" simulate "$SMALL" --with "$T/price.yaml" --unset contracts.incumbent-deal.rofr \
  --json "$T/b2.json" -q --no-compare
checks=$((checks + 1))
cmp -s "$T/b.json" "$T/b2.json" || { failures=$((failures + 1)); echo "FAIL: a variant's report differs between runs"; }
checks=$((checks + 1))
grep -qF "\"--unset contracts.incumbent-deal.rofr\"" "$T/b.json" || {
  failures=$((failures + 1)); echo "FAIL: the report does not list its overrides"; }
expect 0 "" -- "$B" simulate "$SMALL" --set 'jobs.*.work_gpu_hours.scale=1.5' --no-compare
out_has "Overrides (a what-if variant"
out_has "--set jobs.*.work_gpu_hours.scale=1.5"

# diff: the same report agrees; two variants differ, in exact dollars.
expect 0 "" -- "$B" diff "$T/a.json" "$T/a.json" --exit-code
out_has "0 of "
out_has "the reports agree"
expect 6 "" -- "$B" diff "$T/a.json" "$T/b.json" --exit-code
out_has "cost"
out_has "contracts"
out_lacks "figures changed: the reports agree"
expect 0 "" -- "$B" diff "$T/a.json" "$T/b.json" --json "$T/d.json"
checks=$((checks + 1))
grep -qF '"schema": "polycloud.diff/1"' "$T/d.json" || { failures=$((failures + 1)); echo "FAIL: diff --json"; }
echo '{"schema": "polycloud.report/1"}' >"$T/notreport.json"
expect 3 "notreport.json: /cost/total: expected money" -- "$B" diff "$T/a.json" "$T/notreport.json"
echo '{"schema": "other"}' >"$T/other.json"
expect 3 '/schema: expected "polycloud.report/1"' -- "$B" diff "$T/other.json" "$T/a.json"
echo '{"schema": ' >"$T/cut.json"
expect 3 "cut.json: /: not JSON" -- "$B" diff "$T/cut.json" "$T/a.json"
expect 5 "" -- "$B" diff "$T/a.json" "$T/none.json"

# sweep: the grid runs here in parallel and gathers one table.
expect 0 "" -- "$B" sweep "$SMALL" --vary 'pools.inc-h100.price_per_gpu_hour=2,3' \
  --vary 'jobs.*.work_gpu_hours.scale=1,1.5' -j 2 --csv "$T/s.csv" --json "$T/s.json"
out_has "4 variants"
out_has "pools.inc-h100.price_per_gpu_hour"
checks=$((checks + 1))
[[ $(wc -l <"$T/s.csv") -eq 5 ]] || { failures=$((failures + 1)); echo "FAIL: sweep --csv rows"; cat "$T/s.csv"; }
checks=$((checks + 1))
grep -qF '"schema": "polycloud.sweep/1"' "$T/s.json" || { failures=$((failures + 1)); echo "FAIL: sweep --json"; }
expect 3 'sweep variant pools.inc-h100.gpus=lots' -- "$B" sweep "$SMALL" --vary 'pools.inc-h100.gpus=64,lots'
expect 2 '--vary #1 "pools.inc-h100", column 15: expected PATH=VALUE' -- "$B" sweep "$SMALL" --vary 'pools.inc-h100'
expect 2 "an empty value in the list" -- "$B" sweep "$SMALL" --vary 'pools.inc-h100.gpus=64,,8'

echo "$checks checks, $failures failed"
[[ $failures -eq 0 ]]
