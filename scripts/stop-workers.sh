#!/usr/bin/env bash
# Stop the workers that scripts/run-workers.sh started (SIGTERM, then SIGKILL after 30 s).
set -uo pipefail
run="$(cd "$(dirname "$0")/.." && pwd)/var/run"
shopt -s nullglob
for pidfile in "$run"/worker-*.pid; do
  pid=$(cat "$pidfile")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null && echo "worker $pid: killed" || echo "worker $pid: stopped"
  fi
  rm -f "$pidfile"
done
