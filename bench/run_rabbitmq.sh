#!/bin/sh
# Builds the release preset, starts a private rabbitmq-server (scripts/servers/rabbitmq.sh)
# and runs rabbitmq_bench against it: mq's amqp:// engine and raw rabbitmq-c, one run.
# Arguments go to rabbitmq_bench (--messages N, --repeat R).
set -eu
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
cmake --build --preset release --target rabbitmq_bench -j "${JOBS:-2}"
server=$(mktemp -d)
trap 'scripts/servers/rabbitmq.sh stop "$server"; rm -rf "$server"' EXIT
scripts/servers/rabbitmq.sh start "$server" >/dev/null
echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
  "$(free -g | awk '/^Mem:/ {print $2}') GiB; rabbitmq-server $(dpkg-query -W -f='${Version}' rabbitmq-server)," \
  "librabbitmq $(dpkg-query -W -f='${Version}' librabbitmq-dev)"
build/release/bench/rabbitmq_bench "$(cat "$server/url")" "$@"
