#!/usr/bin/env bash
# Starts and stops the Kafka test cluster: librdkafka's mock cluster run by
# mq_kafka_mock (tools/kafka-mock). No Kafka broker is installable here; see
# /work/shared/SERVERS.md and src/engines/kafka/README.md for what the mock covers.
#
#   kafka.sh start DIR   start it on 127.0.0.1 (free ports), write kafka://... to DIR/url
#                        and the PID to DIR/pid
#   kafka.sh stop DIR    stop it by that PID (SIGTERM), wait for the exit
#   kafka.sh down DIR    every broker stops serving (ports and data kept)   (SIGUSR1)
#   kafka.sh up DIR      they serve again on the same ports with the same data (SIGUSR2)
#
# The binary: $MQ_KAFKA_MOCK, else mq_kafka_mock on PATH, else the newest build of it
# under this checkout's build/ directory.
set -euo pipefail

verb=${1:?usage: kafka.sh start|stop|down|up DIR}
dir=${2:?usage: kafka.sh start|stop|down|up DIR}
brokers=${MQ_KAFKA_MOCK_BROKERS:-3}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

find_binary() {
  if [ -n "${MQ_KAFKA_MOCK:-}" ]; then echo "$MQ_KAFKA_MOCK"; return; fi
  if command -v mq_kafka_mock >/dev/null 2>&1; then command -v mq_kafka_mock; return; fi
  ls -t "$root"/build/*/tools/kafka-mock/mq_kafka_mock 2>/dev/null | head -n 1
}

running() { [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; }

# Waits until the mock's stdout has `lines` lines and the last one is `expected`.
wait_for_line() {
  local lines=$1 expected=$2
  for _ in $(seq 200); do
    if [ "$(wc -l < "$dir/out")" -ge "$lines" ] && [ "$(tail -n 1 "$dir/out")" = "$expected" ]; then return 0; fi
    running || { echo "kafka.sh: mq_kafka_mock exited; see $dir/log" >&2; return 1; }
    sleep 0.05
  done
  echo "kafka.sh: mq_kafka_mock did not report '$expected'" >&2
  return 1
}

signal_and_wait() {
  local signal=$1 expected=$2
  running || { echo "kafka.sh: not running" >&2; return 1; }
  local lines
  lines=$(wc -l < "$dir/out")
  kill "-$signal" "$(cat "$dir/pid")"
  wait_for_line $((lines + 1)) "$expected"
}

case "$verb" in
  start)
    mkdir -p "$dir"
    if running; then echo "kafka.sh: already running (pid $(cat "$dir/pid"))" >&2; exit 1; fi
    binary=$(find_binary)
    if [ -z "$binary" ] || [ ! -x "$binary" ]; then
      echo "kafka.sh: mq_kafka_mock not found; build it (cmake --build --preset dev) or set MQ_KAFKA_MOCK" >&2
      exit 1
    fi
    : > "$dir/out"
    # Detached from this shell's stdout so that ctest does not wait for it.
    setsid "$binary" --brokers "$brokers" > "$dir/out" 2> "$dir/log" < /dev/null &
    echo $! > "$dir/pid"
    for _ in $(seq 200); do
      [ -s "$dir/out" ] && break
      running || { echo "kafka.sh: mq_kafka_mock exited; see $dir/log" >&2; cat "$dir/log" >&2; exit 1; }
      sleep 0.05
    done
    bootstrap=$(head -n 1 "$dir/out")
    [ -n "$bootstrap" ] || { echo "kafka.sh: no bootstrap address from mq_kafka_mock" >&2; exit 1; }
    # The mock plays every broker in one I/O thread, on the same 2 cores as the clients
    # under test, where real brokers would have machines of their own. Under load it sat
    # runnable but unscheduled for up to a second (C18 measured the stall), so it gets a
    # higher priority: its session's scheduling group (setsid made one) and its threads.
    # Without the privilege for that, it runs as it is.
    pid=$(cat "$dir/pid")
    echo -10 > "/proc/$pid/autogroup" 2> /dev/null || true
    for task in /proc/"$pid"/task/*; do renice -n -10 -p "${task##*/}" > /dev/null 2>&1 || true; done
    # The mock waits session.timeout.ms - 1 s for members to rejoin at every rebalance
    # (librdkafka's default, 45 s, would stall every join); real brokers need >= 6 s.
    echo "kafka://$bootstrap?session.timeout.ms=3000&heartbeat.interval.ms=500" > "$dir/url"
    ;;
  stop)
    if running; then
      pid=$(cat "$dir/pid")
      kill -TERM "$pid"
      for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
      if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
    fi
    rm -f "$dir/pid"
    ;;
  down) signal_and_wait USR1 down ;;
  up) signal_and_wait USR2 up ;;
  *) echo "usage: kafka.sh start|stop|down|up DIR" >&2; exit 2 ;;
esac
