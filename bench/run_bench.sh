#!/bin/sh
# run_bench.sh BUILD — runs every benchmark binary in BUILD/bench, then the
# PyTorch comparison scripts when python3 with torch is available.
build=${1:-build}
for b in "$build"/bench/bench_*; do
  [ -x "$b" ] || continue
  echo "==== $(basename "$b")"
  "$b" || exit 1
  echo
done
