#!/usr/bin/env bash
# Builds the fuzz preset (clang, libFuzzer + ASan + UBSan; only the embedded engine's
# decoders and recovery) and runs every fuzz target for SECONDS each (default 600), then
# the regression inputs. The corpus grows in build/fuzz/tests/fuzz/corpus/ across runs;
# a failing input is written next to it as crash-<target>-*: add it to
# tests/fuzz/regressions/<target>/ with the fix.
#
#   scripts/fuzz.sh            # 10 minutes per target
#   scripts/fuzz.sh 30         # what CI runs (scripts/test.sh uses 20)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "${JOBS:-2}"
MQ_FUZZ_SECONDS=$seconds ctest --preset fuzz -j "${JOBS:-2}" --timeout $((seconds + 120))
