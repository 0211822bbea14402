#!/usr/bin/env bash
# `polycloud plan` end to end: tables, JSON, the fragment, the check, and exit
# codes. Usage: plan_cli.sh POLYCLOUD SOURCE_DIR
set -u
B=$1
SRC=$2
S=$SRC/tests/cli/plan_small.yaml
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failures=0

fail() { failures=$((failures + 1)); echo "FAIL: $*"; }
# expect CODE STDERR_PART -- COMMAND...
expect() {
  local code=$1 part=$2
  shift 3
  timeout 60 "$@" >"$T/out" 2>"$T/err" </dev/null
  local got=$?
  if [[ $got -ne $code ]] || { [[ -n $part ]] && ! grep -qF -- "$part" "$T/err"; }; then
    fail "$* -> exit $got (expected $code)"; head -c 600 "$T/err"; echo
  fi
}

expect 0 "" -- "$B" plan "$S" --json "$T/plan.json" --write-fragment "$T/frag.yaml" --check
grep -q "To bring online" "$T/out" || fail "no plan table"
grep -q "Lifetime cost" "$T/out" || fail "no lifetime cost"
grep -q "^Check: the plan simulated to 2026-03-02" "$T/out" || fail "no check"
grep -q '"goal": "burn-commitments"' "$T/plan.json" || fail "JSON without the goal"
grep -q '"total":' "$T/plan.json" || fail "JSON without the total"
grep -q "^  - id: plan-oa" "$T/frag.yaml" || fail "fragment without the plan's pool"
grep -q "^end: 2026-03-02" "$T/frag.yaml" || fail "fragment without the horizon's end"
grep -q "^  - id: plan-api" "$T/frag.yaml" || fail "fragment without the forecast's service"
# The check's commitment is burned in the plan and in the simulation alike.
grep -E "^  ca " "$T/out" | grep -q " 0.00%" || { fail "check gap is not 0.00%"; cat "$T/out"; }
# The same input gives the same bytes (the solve time aside).
"$B" plan "$S" --json - | grep -v solve_seconds >"$T/a.json"
"$B" plan "$S" --json - | grep -v solve_seconds >"$T/b.json"
cmp -s "$T/a.json" "$T/b.json" || fail "two runs differ"
"$B" plan "$S" --write-fragment - >"$T/f2.yaml"
cmp -s "$T/frag.yaml" "$T/f2.yaml" || fail "the fragment differs between runs"
# --integer (CBC) gives a plan too.
expect 0 "" -- "$B" plan "$S" --integer -q --json "$T/int.json"
grep -q '"name": "cbc"' "$T/int.json" || fail "--integer did not use CBC"

# Exit codes.
expect 2 "would interleave" -- "$B" plan "$S" --json - --write-fragment -
expect 2 "" -- "$B" plan "$S" --no-such-flag
expect 5 "missing.yaml: no such file" -- "$B" plan "$T/missing.yaml"
expect 4 "" -- "$B" plan "$S" --json "$T/no/such/dir/plan.json"
expect 3 "no planning: section" -- "$B" plan "$SRC/examples/alibaba-openb.yaml"
expect 3 "bad_keys.yaml:26:9: goal: expected one of demand, burn-commitments" -- \
  "$B" plan "$SRC/tests/bad/plan/bad_keys.yaml"
sed 's/^  step: 1w/  step: [1w]/' "$S" >"$T/bad.yaml"
expect 3 "bad.yaml:20:9: step: expected a duration" -- "$B" plan "$T/bad.yaml"
sed 's/^planning:/planning: 3\nx:/' "$S" >"$T/bad2.yaml"
expect 3 "expected planning as a mapping" -- "$B" plan "$T/bad2.yaml"

if [[ $failures -ne 0 ]]; then echo "$failures failure(s)"; exit 1; fi
echo "plan CLI: all checks passed"
