#!/usr/bin/env bash
# The main job: set-up, an optimised build, then the demo services on the default
# embedded engine (memory:// when this build has no embedded engine). Arguments are
# passed to the demo (for example --url memory://).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# ccache hits across clones in different directories (CI clones afresh each run).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target mq_hello >/dev/null
exec ./build/release/examples/hello/mq_hello "$@"
