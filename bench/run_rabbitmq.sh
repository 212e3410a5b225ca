#!/bin/sh
# Builds the release preset, starts a private rabbitmq-server (scripts/servers/rabbitmq.sh)
# and runs rabbitmq_bench against it: mq's amqp:// engine and raw rabbitmq-c, one run.
# Arguments go to rabbitmq_bench (--messages N, --repeat R); --plain-url is set to a
# second vhost for the ?max_priority=0 variant.
set -eu
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
cmake --build --preset release --target rabbitmq_bench -j "${JOBS:-2}"
server=$(mktemp -d)
trap 'scripts/servers/rabbitmq.sh stop "$server"; rm -rf "$server"' EXIT
scripts/servers/rabbitmq.sh start "$server" >/dev/null
# A second vhost for mq with ?max_priority=0: core's own groups (mq.scheduler) would
# otherwise meet their priority queues from the first pass (406 inequivalent arg).
ctl() { runuser -u rabbitmq -- env HOME=/var/lib/rabbitmq /usr/lib/rabbitmq/bin/rabbitmqctl -q -n "$(cat "$server/node")" "$@"; }
ctl add_vhost plain >/dev/null
ctl set_permissions -p plain guest '.*' '.*' '.*' >/dev/null
echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
  "$(free -g | awk '/^Mem:/ {print $2}') GiB; rabbitmq-server $(dpkg-query -W -f='${Version}' rabbitmq-server)," \
  "librabbitmq $(dpkg-query -W -f='${Version}' librabbitmq-dev)"
build/release/bench/rabbitmq_bench "$(cat "$server/url")" --plain-url "$(cat "$server/url")plain" "$@"
