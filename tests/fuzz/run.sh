#!/usr/bin/env bash
# Runs one libFuzzer target for ctest (tests/fuzz/CMakeLists.txt).
#   run.sh fuzz   BINARY CORPUS SEEDS   fuzz for MQ_FUZZ_SECONDS (default 20); new inputs
#                                       go to CORPUS, crashes to CORPUS/../crash-<target>-*
#   run.sh replay BINARY DIR            run every file in DIR once (regression inputs)
# Exits non-zero on a crash, a sanitizer report, a leak or a timeout of one input.
set -euo pipefail
mode=$1 binary=$2
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
case $mode in
  fuzz)
    corpus=$3 seeds=$4
    mkdir -p "$corpus"
    artifacts="$(dirname "$corpus")/crash-$(basename "$corpus")-"
    exec "$binary" -max_total_time="${MQ_FUZZ_SECONDS:-20}" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" "$seeds"
    ;;
  replay)
    dir=$3
    shopt -s nullglob
    inputs=("$dir"/*)
    if [ ${#inputs[@]} -eq 0 ]; then echo "no regression inputs in $dir"; exit 0; fi
    exec "$binary" -timeout=10 "${inputs[@]}"
    ;;
  *) echo "usage: run.sh fuzz|replay ..." >&2; exit 2 ;;
esac
