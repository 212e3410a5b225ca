#!/bin/sh
# Builds the release preset and runs the benchmarks. Arguments go to mq_bench
# (--messages N, --repeat R, --workers 1,2,4, ...). JOBS caps build parallelism (default 2).
# FEATURES=1 also runs mq_bench_features (the cost of metrics/tracing/dedup, issue 5).
#
#   bench/run.sh                 # the run recorded in bench/RESULTS.md
#   FEATURES=1 bench/run.sh
set -eu
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
# Only the benchmarks and what they link: the suites are not needed to measure.
cmake --build --preset release --target mq_bench mq_bench_features -j "${JOBS:-2}"
echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
  "$(free -g | awk '/^Mem:/ {print $2}') GiB, load average $(cut -d' ' -f1-3 /proc/loadavg)"
build/release/bench/mq_bench "$@"
if [ "${FEATURES:-0}" = 1 ]; then build/release/bench/mq_bench_features; fi
