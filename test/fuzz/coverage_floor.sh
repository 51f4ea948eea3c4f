#!/bin/sh
# usage: coverage_floor.sh FUZZER CORPUS SCRATCH FLOOR
# Replays the seed corpus through a libFuzzer target, then fuzzes for a few seconds, and
# fails unless the target reports at least FLOOR covered edges ("cov:"). Only code built
# with -fsanitize=fuzzer or fuzzer-no-link counts edges: a harness whose library is not
# instrumented stays in single digits, whatever it calls, so this proves the library is.
set -u
fuzzer=$1 corpus=$2 scratch=$3 floor=$4
rm -rf "$scratch" && mkdir -p "$scratch" || exit 1
out=$(timeout 60 "$fuzzer" -max_total_time=5 -timeout=5 -seed=1 "$scratch" "$corpus" 2>&1)
rc=$?
cov=$(printf '%s\n' "$out" | sed -n 's/.* cov: \([0-9][0-9]*\) .*/\1/p' | sort -n | tail -1)
if [ $rc -ne 0 ] || [ -z "$cov" ]; then
  printf '%s\n' "$out" | tail -20
  echo "coverage_floor: $fuzzer failed (exit $rc) or reported no coverage"
  exit 1
fi
if [ "$cov" -lt "$floor" ]; then
  echo "coverage_floor: $(basename "$fuzzer") reached cov: $cov, below the floor $floor:" \
    "the library is not coverage-instrumented (-fsanitize=fuzzer-no-link)"
  exit 1
fi
echo "coverage_floor: $(basename "$fuzzer") reached cov: $cov (floor $floor)"
