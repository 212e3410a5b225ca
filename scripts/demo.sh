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
targets=(shop_demo)
# --engine kafka runs on librdkafka's mock cluster: build it when the Kafka engine is built.
if ninja -C build/release -t targets all 2>/dev/null | grep -q '^mq_kafka_mock:'; then
  targets+=(mq_kafka_mock)
  export MQ_KAFKA_MOCK=${MQ_KAFKA_MOCK:-$PWD/build/release/tools/kafka-mock/mq_kafka_mock}
fi
cmake --build --preset release -j "$(nproc)" --target "${targets[@]}" >/dev/null
exec ./build/release/examples/shop/shop_demo "$@"
