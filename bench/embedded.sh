#!/usr/bin/env bash
# The embedded engine's benchmark (bench/RESULTS.md, "Embedded engine"): in one run on
# one disk, dd's sequential write bandwidth, then embedded_bench (raw fdatasync per 4 KiB
# append, Redis pipelined XADD, mq with fsync never/interval/always, consume, latency
# between two processes). Prints the machine, versions and a Markdown table.
#
#   bench/embedded.sh                  # data under build/release/embedded-bench (this disk)
#   BENCH_DIR=/mnt/x bench/embedded.sh --messages 500000
# Extra arguments go to embedded_bench. Redis runs with appendfsync everysec, the
# setting comparable to fsync interval (MQ_REDIS_APPENDFSYNC overrides it).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
cmake --build --preset release --target embedded_bench -j "${JOBS:-2}" >/dev/null
dir=${BENCH_DIR:-$PWD/build/release/embedded-bench}
rm -rf "$dir"
mkdir -p "$dir"
redis_dir=$(mktemp -d)
cleanup() {
  scripts/servers/redis.sh stop "$redis_dir" || true
  rm -rf "$redis_dir" "$dir"
}
trap cleanup EXIT

echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
  "$(free -g | awk '/^Mem:/ {print $2}') GiB; kernel $(uname -r); $(df -hT "$dir" | awk 'NR==2 {print $2 " on " $1}')"
echo "== versions: $(g++ --version | head -1); $(redis-server --version | cut -d' ' -f1-3)"
echo "== command: bench/embedded.sh $*"

# dd: 1 GiB (DD_MIB) of zeros, fdatasync'd before dd reports (the page cache does not count).
dd_out=$(dd if=/dev/zero of="$dir/dd.bin" bs=1M count="${DD_MIB:-1024}" conv=fdatasync 2>&1 | tail -1)
rm -f "$dir/dd.bin"
echo "== dd: $dd_out"
dd_bytes=$(echo "$dd_out" | awk '{print $1}')
dd_seconds=$(echo "$dd_out" | sed -E 's/.* copied, ([0-9.]+) s,.*/\1/')
dd_rate=$(awk -v b="$dd_bytes" -v s="$dd_seconds" 'BEGIN {printf "%.0f", b / s}')

MQ_REDIS_APPENDFSYNC=${MQ_REDIS_APPENDFSYNC:-everysec} scripts/servers/redis.sh start "$redis_dir" >/dev/null
build/release/bench/embedded_bench --dir "$dir/data" --dd "$dd_rate" --redis "$(cat "$redis_dir/url")" "$@"
