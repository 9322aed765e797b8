#!/bin/sh
# run_bench.sh BUILD — `make bench`: all benchmarks through bench/run_bench.lua.
build=${1:-build}
exec "$build/coconut" run bench/run_bench.lua "$build"
