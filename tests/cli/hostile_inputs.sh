#!/usr/bin/env bash
# The command line under hostile input (issue 11): exit codes and messages of
# the polycloud binary, end to end. Usage: hostile_inputs.sh POLYCLOUD SOURCE_DIR
# Each check runs one command with a time limit and compares its exit code
# and a piece of its standard error.
set -u
B=$1
SRC=$2
# A small scenario: the checks are about the command line, not the flagship
# example, which ran a few dozen times here (284 s under AddressSanitizer).
# The flagship is still validated once, below.
EX=$SRC/tests/cli/hostile_small.yaml
FLAGSHIP=$SRC/examples/openai-2025.yaml
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failures=0
checks=0

# check STDOUT CODE STDERR_PART -- COMMAND...: runs COMMAND with standard
# output to STDOUT, at most 60 s, and compares its exit code and a piece of
# its standard error ("" = any).
check() {
  local stdout=$1 code=$2 part=$3
  shift 4
  checks=$((checks + 1))
  timeout 60 "$@" >"$stdout" 2>"$T/err" </dev/null
  local got=$?
  if [[ $got -ne $code ]] || { [[ -n $part ]] && ! grep -qF -- "$part" "$T/err"; }; then
    failures=$((failures + 1))
    echo "FAIL: $* > $stdout -> exit $got (expected $code), stderr:"
    head -c 600 "$T/err"
    echo
  fi
}
expect() { check "$T/out" "$@"; }
expect_full() { check /dev/full "$@"; }  # standard output cannot be written

# Class 3: files that are not regular files are refused, without blocking.
mkfifo "$T/fifo"
expect 4 "not a regular file (a character device)" -- "$B" validate /dev/zero
expect 4 "not a regular file (a FIFO)" -- "$B" validate "$T/fifo"
expect 4 "not a regular file (a directory)" -- "$B" validate "$T"
expect 4 "not a regular file (a FIFO)" -- "$B" validate "$EX" --trace "philly:$T/fifo"
expect 4 "cannot open the scenario file" -- "$B" validate "$T/missing.yaml"
expect 0 "" -- "$B" validate "$FLAGSHIP"
expect_full 4 "standard output: write failed" -- "$B" validate "$FLAGSHIP"

# generate: bounds and self-check.
expect 2 "--gpus must be at most 100000000" -- "$B" generate --gpus 9223372036854775807 --jobs 0
expect 2 "expected an integer from 0 to 9223372036854775807" -- "$B" generate --gpus 99999999999999999999
expect 2 "--pools must be between 1 and 50000" -- "$B" generate --pools 100000000 --jobs 0
expect 2 "--jobs must be between 0 and 10000000" -- "$B" generate --jobs 50000000
expect 2 "does not validate" -- "$B" generate --gpus 1000 --pools 10 --sites 10 --jobs 10 --start 9999-06-01

# Timer intervals.
expect 2 "--reoptimize-every: 1s is too short" -- "$B" simulate "$EX" --reoptimize-every 1s -q
expect 2 "--reoptimize-every" -- "$B" simulate "$EX" --reoptimize-every "" -q
expect 2 "" -- "$B" replay --trace alibaba-gpu:x.csv --fidelity --bucket-days 106751991168000

# Class 4: seeds are not clamped or wrapped.
expect 2 "expected an integer from 0 to 18446744073709551615" -- "$B" validate "$EX" --seed 18446744073709551616
expect 2 "expected an integer" -- "$B" validate "$EX" --seed -1
expect 2 "expected an integer" -- "$B" validate "$EX" --seed 0x10
expect 0 "" -- "$B" validate "$EX" --seed 18446744073709551615
expect 0 "" -- "$B" simulate "$EX" --seed 010 --json - -q --no-compare
checks=$((checks + 1))
if ! grep -q '"seed": 10,' "$T/out"; then  # decimal, not octal 8
  failures=$((failures + 1))
  echo "FAIL: --seed 010 did not run seed 10: $(grep '"seed"' "$T/out")"
fi

# Class 4: a failed write to standard output is exit 4.
expect_full 4 "standard output: write failed" -- "$B" validate "$EX"
expect_full 4 "standard output: write failed" -- "$B" simulate "$EX" --no-compare
expect_full 4 "standard output: write failed" -- "$B" simulate "$EX" --json - --no-compare
expect_full 4 "standard output: write failed" -- "$B" explain "$EX" frontier-1
expect_full 4 "standard output: write failed" -- "$B" contracts "$EX"
expect_full 4 "standard output: write failed" -- "$B" generate --gpus 1000 --pools 10 --sites 10 --jobs 10
expect_full 4 "standard output: write failed" -- "$B" --help
expect 4 "/dev/full: write failed" -- "$B" simulate "$EX" --json /dev/full -q --no-compare
expect 4 "/dev/full: write failed" -- "$B" simulate "$EX" --events /dev/full -q --no-compare
expect 4 "/dev/full: write failed" -- "$B" simulate "$EX" --html /dev/full -q --no-compare
expect 4 "/dev/full: write failed" -- "$B" contracts "$EX" --html /dev/full
expect 4 "cannot open for writing" -- "$B" simulate "$EX" --html "$T/no-such-dir/r.html" -q --no-compare
expect_full 4 "standard output: write failed" -- "$B" simulate "$EX" --html - --no-compare

# Class 5: stdout is one stream.
expect 2 "would interleave on standard output" -- "$B" simulate "$EX" --json - --events -
expect 2 "would interleave on standard output" -- "$B" simulate "$EX" --html - --json -
expect 2 "would interleave on standard output" -- "$B" simulate "$EX" --html - --events -
expect 2 "would interleave on standard output" -- "$B" contracts "$EX" --html - --json -
expect 2 "would interleave on standard output" -- "$B" replay --trace philly:x.csv --per-vc --html - --json -

# Class 1: a name that is not UTF-8 is an input error, and --json never throws.
printf 'name: "bad\xff"\nstart: 2026-01-01\nend: 2026-02-01\n' >"$T/bad-utf8.yaml"
expect 3 "bad-utf8.yaml:1:11: invalid UTF-8 (byte \\xFF)" -- "$B" validate "$T/bad-utf8.yaml"
printf 'timestamp,duration,num_gpus,gpu_time,cluster\n2017-10-09 07:01:55,66.0,1,66.0,a\xff\n' >"$T/philly.csv"
expect 3 "invalid UTF-8" -- "$B" validate "$EX" --trace "philly:$T/philly.csv"

# Class 3: running out of memory is a message naming what was being built, not
# an abort. Skipped under AddressSanitizer, which needs far more address space.
if ! ldd "$B" 2>/dev/null | grep -q libasan; then
  "$B" generate --gpus 100000 --pools 1000 --sites 100 --jobs 2000000 -o "$T/jobs.yaml" 2>/dev/null
  expect 3 "out of memory while loading the scenario $T/jobs.yaml" -- \
    bash -c 'ulimit -v 300000 && exec "$0" validate "$1"' "$B" "$T/jobs.yaml"
fi

# The fragmentation experiment (docs/cli.md): options, files, outputs.
F=$SRC/tests/browser/fragmentation
expect 2 "not expected: --bogus" -- "$B" fragmentation --pods "$F/pods.csv" --bogus
expect 2 'unknown policy "worstfit"' -- "$B" fragmentation --pods "$F/pods.csv" --policy worstfit
expect 2 'unknown tie break "x"' -- "$B" fragmentation --pods "$F/pods.csv" --tie-break x
expect 2 "expected an integer from 1 to 1000, found 0" -- "$B" fragmentation --pods "$F/pods.csv" --seeds 0
expect 2 "would interleave on standard output" -- "$B" fragmentation --pods "$F/pods.csv" --html - --json -
expect 5 "$T/missing.csv: no such file" -- "$B" fragmentation --pods "$T/missing.csv"
printf 'name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1000,1,2,300\n' >"$T/shared2.csv"
expect 3 "shared2.csv:2: column 'gpu_milli'" -- "$B" fragmentation --pods "$T/shared2.csv" --nodes "$F/openb_node_list_gpu_node.csv"
expect 3 "missing required column 'name'" -- "$B" fragmentation --pods "$F/openb_node_list_gpu_node.csv"
expect 4 "cannot open for writing" -- "$B" fragmentation --pods "$F/pods.csv" --json "$T/no/such/dir.json"
expect_full 4 "" -- "$B" fragmentation --pods "$F/pods.csv" --seeds 1

echo "$checks checks, $failures failed"
[[ $failures -eq 0 ]]
