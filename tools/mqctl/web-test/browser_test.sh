#!/usr/bin/env bash
# tools.console.browser: produce a known state with mqctl, serve it, and drive the page
# in headless chromium (browser.test.mjs). Usage: browser_test.sh MQCTL ARTEFACT_DIR
set -euo pipefail
mqctl=$1
artefacts=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$artefacts"

command -v chromium >/dev/null || { echo "chromium is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
# playwright-core from package-lock.json, installed once and reused while the lock is unchanged.
if ! cmp -s "$here/package-lock.json" "$here/node_modules/.mqctl-installed-lock" 2>/dev/null; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$here/package-lock.json" "$here/node_modules/.mqctl-installed-lock"
fi

work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
url="embedded://$work/data"
mq() { "$mqctl" --url "$url" "$@"; }

mq topics create shop.order --partitions 2 >/dev/null
mq produce shop.order o1 o2 o3 o4 o5 o6 >/dev/null 2>&1
mq consume shop.order -g shop.group --from earliest --max 2 >/dev/null 2>&1
mq consume shop.order -g bad.group --from earliest --max 1 --reject >/dev/null 2>&1

token=browser-test-token
"$mqctl" --url "$url" serve --port 0 --token "$token" --interval 300ms >"$work/serve.out" 2>"$work/serve.err" &
server=$!
for _ in $(seq 1 300); do
  grep -q 'console on' "$work/serve.out" && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.err" >&2; exit 1; }
  sleep 0.1
done
address=$(grep -o 'http://127.0.0.1:[0-9]*/' "$work/serve.out")
echo "console at $address"

screenshot="$artefacts/console.png"
node "$here/browser.test.mjs" "$address" "$token" "$screenshot" \
  '{"topic":"shop.order","messages":6,"group":"shop.group","lag":4,"dlq_group":"bad.group"}'

# The page's replay really changed the engine: checked from the outside.
letters=$(mq dlq list bad.group --json)
[ "$(echo "$letters" | tr -d ' \n')" = "[]" ] || { echo "dead letters left: $letters" >&2; exit 1; }
mq topics list | grep -Eq '^shop\.order +2 +7$' || { mq topics list >&2; exit 1; }
echo "screenshot saved: $screenshot"
