#!/usr/bin/env bash
# The main job: set-up, an optimised build, then the shop demo (examples/shop): the
# order, inventory, notification and analytics services as separate processes on the
# default embedded engine, N orders through them, a live progress line and the summary
# table. Exits non-zero if any count is off. Arguments go to the driver, for example
# --orders 500, --engine redis (starts a test server for the run, stops it at exit:
# also on failure or Ctrl-C) or --url redis://host:port (a running server); see
# examples/shop/README.md. Building shop_demo builds mqctl too (it replays the dead
# letters).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# ccache hits across clones in different directories (CI clones afresh each run).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target shop_demo >/dev/null
exec ./build/release/examples/shop/shop_demo "$@"
