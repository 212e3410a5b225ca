#!/usr/bin/env bash
# Starts and stops Debian's redis-server for tests and benchmarks (SERVERS.md).
#
#   redis.sh start DIR   start on 127.0.0.1, a free port, data and log in DIR; wait until
#                        it answers; write the engine URL to DIR/url, the PID to DIR/pid
#   redis.sh stop DIR    stop it by the recorded PID and wait for it to exit (ok if stopped)
#   redis.sh down DIR    stop serving but keep the data (C25)
#   redis.sh up DIR      serve again on the same port with the same data
#
# AOF with appendfsync always: an acknowledged write survives a server kill (C25).
# MQ_REDIS_APPENDFSYNC=everysec|no overrides it (benchmarks that measure the client,
# not the disk); tests never set it. No automatic AOF rewrite: its fork and compression
# would land on whatever test or benchmark phase happens to grow the file past the limit.
set -euo pipefail
appendfsync=${MQ_REDIS_APPENDFSYNC:-always}

# shellcheck source=ports.sh
. "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

verb=${1:-}
dir=${2:-}
if [ -z "$verb" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop|down|up DIR" >&2
  exit 2
fi

is_running() { [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; }

# Starts redis-server on $1 in the background; succeeds once it answers PING.
launch() {
  local port=$1
  redis-server --port "$port" --bind 127.0.0.1 --protected-mode no --save '' \
    --appendonly yes --appendfsync "$appendfsync" --auto-aof-rewrite-percentage 0 --dir "$dir/data" --logfile "$dir/redis.log" \
    --daemonize no >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 1 600); do  # up to 30 s: `up` replays the AOF before it answers
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      return 1  # it exited: the port was taken, or a bad setting (see redis.log)
    fi
    if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = "PONG" ]; then
      echo "$pid" >"$dir/pid"
      echo "$port" >"$dir/port"
      echo "redis://127.0.0.1:$port" >"$dir/url"
      return 0
    fi
    sleep 0.05
  done
  kill "$pid" 2>/dev/null || true
  return 1
}

stop_server() {
  is_running || return 0
  local pid
  pid=$(cat "$dir/pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 400); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}

case "$verb" in
  start)
    is_running && stop_server
    rm -rf "$dir/data"  # a fresh server: earlier runs' data would only slow loading
    mkdir -p "$dir/data"
    for _ in $(seq 1 20); do
      port=$(free_port)
      launch "$port" && exit 0
    done
    echo "redis.sh: could not start redis-server (see $dir/redis.log)" >&2
    exit 1
    ;;
  stop | down)
    stop_server
    ;;
  up)
    is_running && exit 0
    port=$(cat "$dir/port")
    for _ in $(seq 1 100); do  # the old socket may linger a moment after the stop
      launch "$port" && exit 0
      sleep 0.1
    done
    echo "redis.sh: could not restart redis-server on port $port (see $dir/redis.log)" >&2
    exit 1
    ;;
  *)
    echo "usage: $0 start|stop|down|up DIR" >&2
    exit 2
    ;;
esac
