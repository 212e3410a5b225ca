#!/bin/sh
# The embedded engine's SIGKILL crash test, long form (issue 4): a producer with fsync
# "always" is killed at random points CYCLES times (default 200); after each kill the
# log must recover, read back completely, hold every acknowledged message, none twice.
#   scripts/embedded_crash_test.sh [BUILD_DIR] [CYCLES]
set -eu
build_dir=${1:-build/dev}
cycles=${2:-200}
tests="$build_dir/tests/embedded/mq_embedded_tests"
[ -x "$tests" ] || { echo "no $tests: build mq_embedded_tests first" >&2; exit 2; }
MQ_CRASH_CYCLES=$cycles exec "$tests" \
  --gtest_filter='ProcessTest.CrashTestProducerKilledAtRandomPointsLosesNoAcknowledgedMessage'
