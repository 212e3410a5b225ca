#!/usr/bin/env bash
# C32: runs the conformance binary N times at once. Each instance uses its own topic and
# group names (they include the process id) and its own embedded data dir. Fails if any
# instance fails; prints the failing instance's output.
set -u
binary=$1
count=${2:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pids=()
for i in $(seq 1 "$count"); do
  "$binary" --gtest_brief=1 >"$work/run-$i.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in $(seq 1 "$count"); do
  if ! wait "${pids[$((i - 1))]}"; then
    failed=$((failed + 1))
    echo "=== instance $i failed ==="
    tail -n 60 "$work/run-$i.log"
  fi
done
echo "$((count - failed)) of $count parallel runs passed"
[ "$failed" -eq 0 ]
