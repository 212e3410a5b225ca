#!/usr/bin/env bash
# Installs every Debian package mq needs to build, test and run its demo. Safe to run
# again: when everything is present it only checks (well under a second).
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config git
  # libraries (all found with find_package / pkg-config; nothing is downloaded at build time)
  libfmt-dev nlohmann-json3-dev libcli11-dev libcpp-httplib-dev
  # the rabbitmq engine (rabbitmq-c) and the RabbitMQ server its tests start
  librabbitmq-dev rabbitmq-server amqp-tools
  # redis:// engine: hiredis, and the server and redis-cli its tests start (scripts/servers/redis.sh)
  libhiredis-dev redis-server redis-tools
  # the shop demo's events (examples/shop)
  libprotobuf-dev protobuf-compiler
  # the Kafka engine (optional: left out of the build without it) and its kcat interop test
  librdkafka-dev kcat
  # tests and benchmarks
  libgtest-dev libgmock-dev
  # the fuzz preset: clang with libFuzzer (libclang-rt-dev), tests/fuzz
  clang libclang-rt-dev
  # mqctl's console test drives the page in headless chromium (playwright-core from npm)
  chromium nodejs
)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$package")
done
# Debian's nodejs comes without npm (a separate package); other nodejs builds bundle it.
command -v npm >/dev/null || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
