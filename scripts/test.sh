#!/usr/bin/env bash
# Every test: set-up, then the dev preset (AddressSanitizer + UBSan) with the whole
# suite, then the tsan preset (ThreadSanitizer) with the concurrent parts (unit tests
# and the conformance suite), then the fuzz preset (libFuzzer on the embedded engine's
# decoders, MQ_FUZZ_SECONDS each, default 20). Ends with ctest's summary lines.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# ccache hits across clones in different directories (CI clones afresh each run).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1

jobs=$(nproc)
# Debug builds under ASan need the shared libraries' symbols: keep leak checks on.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

status=0
echo "== dev preset (ASan + UBSan): build"
cmake --preset dev >/dev/null
cmake --build --preset dev -j "$jobs"
echo "== dev preset (ASan + UBSan): all tests"
ctest --preset dev -j "$jobs" || status=1

echo "== tsan preset (ThreadSanitizer): build"
cmake --preset tsan >/dev/null
# Only what the TSan run uses: tools, examples and server engines' suites are not run
# under TSan (see below), so building them again would only cost time.
cmake --build --preset tsan -j "$jobs" --target mq_unit_tests mq_conformance mq_conformance_peer \
  mq_embedded_tests mq_embedded_helper
echo "== tsan preset (ThreadSanitizer): unit and conformance tests"
# C32 (five parallel copies of the suite) already ran under ASan; under TSan it would
# only multiply the run time. Server engines' suites (conformance.<name>.*) run under
# ASan only: their issues ask for dev, and TSan would double a long run.
ctest --preset tsan -j "$jobs" -R '^(unit\.|conformance\.Engines/|embedded\.)' -E 'C32_' || status=1

echo "== fuzz preset (libFuzzer + ASan + UBSan, embedded decoders): build"
# Small: the storage sources of the embedded engine and three targets (tests/fuzz).
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs"
echo "== fuzz preset: ${MQ_FUZZ_SECONDS:=20} s per target, then the regression inputs"
export MQ_FUZZ_SECONDS
ctest --preset fuzz -j "$jobs" || status=1

exit $status
