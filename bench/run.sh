#!/bin/sh
# Builds the release preset and runs the benchmarks. Arguments go to mq_bench
# (--messages N, --repeat R, --workers 1,2,4). JOBS caps build parallelism (default 2).
#
#   bench/run.sh                 # the run recorded in bench/RESULTS.md
set -eu
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
# Only the benchmark and what it links: the suites are not needed to measure.
cmake --build --preset release --target mq_bench -j "${JOBS:-2}"
echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
  "$(free -g | awk '/^Mem:/ {print $2}') GiB"
exec build/release/bench/mq_bench "$@"
