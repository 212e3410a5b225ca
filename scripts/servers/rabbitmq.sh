#!/usr/bin/env bash
# Starts and stops a private Debian rabbitmq-server for tests and benchmarks
# (SERVERS.md, RabbitMQ). Contract (tests/conformance/harness.hpp, ServerControl):
#   start DIR  start a node on 127.0.0.1 on free ports, data and logs in a temporary
#              dir owned by the rabbitmq user; write DIR/url, DIR/pid; wait until ready
#   stop DIR   stop the node by its recorded PID; succeed if it is already stopped
#   down DIR   stop serving but keep the data (mnesia dir, ports, node name)
#   up DIR     serve again on the same address with the same data
# The node runs as the rabbitmq user (it insists); epmd is started on 127.0.0.1 only and
# stopped when no node is registered with it any more.
set -euo pipefail

verb=${1:-}
dir=${2:-}
[ -n "$verb" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|down|up DIR" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

as_rabbitmq() { runuser -u rabbitmq -- env HOME=/var/lib/rabbitmq "$@"; }

# shellcheck source=ports.sh
. "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

ctl() { as_rabbitmq /usr/lib/rabbitmq/bin/rabbitmqctl -q -n "$(cat "$dir/node")" "$@"; }

pid_alive() { [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; }

# epmd serves every node on this machine and `halt` stops it when it serves none. A
# node that is starting has not registered yet, so starts hold this lock shared until
# their node is up, and halt's check-and-kill holds it exclusively: a stop running
# beside another test's start (ctest -j) cannot kill the epmd that start needs.
epmd_lock=/tmp/mq-rabbitmq-epmd.lock

launch() {
  exec 9>>"$epmd_lock"
  flock -s 9
  launch_locked
  local status=$?
  flock -u 9
  return $status
}

launch_locked() {
  local data
  data=$(cat "$dir/data")
  # 9>&-: the daemons must not inherit the lock (it would outlive this script).
  as_rabbitmq epmd -address 127.0.0.1 -daemon 9>&-
  rm -f "$data/node.pid"
  # setsid: the node must outlive the shell (and a ctest timeout) until `stop`.
  # runuser applies pam_limits, which sets the soft open-files limit back to 1024; every
  # stream queue (one per topic, one per group's ack count) keeps its segment and index
  # files open, so five suites at once (C32) ran the node out of descriptors and it
  # refused new connections. The node gets the hard limit instead.
  setsid runuser -u rabbitmq -- sh -c 'ulimit -n "$(ulimit -Hn)"; exec "$@"' rabbitmq-server env HOME=/var/lib/rabbitmq \
    RABBITMQ_NODENAME="$(cat "$dir/node")" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT="$(cat "$dir/port")" RABBITMQ_DIST_PORT="$(cat "$dir/dist_port")" \
    RABBITMQ_MNESIA_BASE="$data/mnesia" RABBITMQ_LOG_BASE="$data/log" \
    RABBITMQ_PID_FILE="$data/node.pid" RABBITMQ_ENABLED_PLUGINS_FILE="$data/enabled_plugins" \
    RABBITMQ_CONFIG_FILE="$data/rabbitmq" RABBITMQ_ADVANCED_CONFIG_FILE="$data/advanced.config" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    /usr/lib/rabbitmq/bin/rabbitmq-server >"$data/log/console.log" 2>&1 </dev/null 9>&- &
  local launcher=$!
  # The node writes its own (beam) PID once it runs; that is the process to stop. On a
  # loaded 2-core machine that once took longer than the 30 s waited before (an mqctl
  # test failed in CI), so it gets 90 s.
  # A node that dies at boot (its launcher exits) is not waited for.
  for _ in $(seq 1 900); do
    [ -s "$data/node.pid" ] && break
    kill -0 "$launcher" 2>/dev/null || break
    sleep 0.1
  done
  if [ ! -s "$data/node.pid" ]; then
    echo "rabbitmq: no PID file; see $data/log; the end of its console log:" >&2
    tail -n 20 "$data/log/console.log" >&2 2>/dev/null
    return 1
  fi
  cp "$data/node.pid" "$dir/pid"
  if ! timeout 120 bash -c "$(declare -f as_rabbitmq ctl); dir='$dir'; ctl await_startup --timeout 110" >/dev/null; then
    echo "rabbitmq: node did not start; see $data/log" >&2
    return 1
  fi
}

halt() {
  pid_alive || return 0
  local pid
  pid=$(cat "$dir/pid")
  ctl stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  # epmd serves every node on this machine: stop it only when it serves none and no
  # node is starting (the lock, above).
  exec 9>>"$epmd_lock"
  flock -x 9
  if ! as_rabbitmq epmd -names 2>/dev/null | grep -q '^name '; then
    as_rabbitmq epmd -kill >/dev/null 2>&1 || true
  fi
  flock -u 9
}

# A fresh data dir, node name and ports for `start`.
prepare_node() {
  local data
  data=$(mktemp -d /tmp/mq-rabbitmq-XXXXXX)
  mkdir -p "$data/mnesia" "$data/log"
  echo '[].' >"$data/enabled_plugins"
  # Small test machines: no disk alarm for a nearly full /tmp, quick heartbeats.
  printf 'disk_free_limit.absolute = 10MB\nloopback_users = none\n' >"$data/rabbitmq.conf"
  echo '[].' >"$data/advanced.config"
  chown -R rabbitmq:rabbitmq "$data"
  echo "$data" >"$dir/data"
  echo "mq-$(basename "$data" | tr -dc 'a-zA-Z0-9')@localhost" >"$dir/node"
  free_port >"$dir/port"
  free_port >"$dir/dist_port"
}

case "$verb" in
  start)
    # A node now and then fails to boot on the loaded CI machine ("rabbit_is_not_running"
    # from await_startup; twice in recent CI runs, each time an mqctl test's start). Its
    # log went with the test's clean-up, so a failed attempt prints the log's end, and the
    # start is tried again with a fresh node, data dir and ports (ports.sh: a port taken
    # between free_port and the node's bind was one way to get there).
    for attempt in 1 2 3; do
      prepare_node
      if launch; then break; fi
      echo "rabbitmq: start attempt $attempt of 3 failed; the end of the node's log:" >&2
      tail -n 25 "$(cat "$dir/data")"/log/*.log >&2 2>/dev/null || true
      halt
      ctl stop >/dev/null 2>&1 || true  # a node that never wrote its PID file
      rm -rf "$(cat "$dir/data")"
      rm -f "$dir/pid"
      [ "$attempt" -lt 3 ] || exit 1
    done
    echo "amqp://guest:guest@127.0.0.1:$(cat "$dir/port")/" >"$dir/url"
    cat "$dir/url"
    ;;
  stop)
    [ -f "$dir/node" ] || exit 0
    halt
    data=$(cat "$dir/data" 2>/dev/null || true)
    case "$data" in /tmp/mq-rabbitmq-*) rm -rf "$data" ;; esac
    rm -f "$dir/pid"
    ;;
  down) halt ;;
  up) pid_alive || launch ;;
  *) echo "usage: $0 start|stop|down|up DIR" >&2; exit 2 ;;
esac
