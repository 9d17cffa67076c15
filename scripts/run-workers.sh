#!/usr/bin/env bash
# Start N probewatch workers in the background on consecutive web ports; wait until each serves.
# Usage: scripts/run-workers.sh N FIRST_PORT
set -euo pipefail
umask 077  # the logs name devices: readable by their owner only
count=${1:-1}
first=${2:-6066}
root=$(cd "$(dirname "$0")/.." && pwd)
run="$root/var/run"
logs="$root/var/log"
mkdir -p "$run" "$logs"
token=$(cat "$run/api-token" 2>/dev/null || true)

for ((i = 0; i < count; i++)); do
  port=$((first + i))
  pidfile="$run/worker-$port.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "worker: already running on port $port (pid $(cat "$pidfile"))"
    continue
  fi
  nohup "$root/.venv/bin/probewatch" worker --web-port "$port" >"$logs/worker-$port.log" 2>&1 &
  echo $! >"$pidfile"
done

for ((i = 0; i < count; i++)); do
  port=$((first + i))
  for _ in $(seq 1 120); do
    if curl -fsS -H "Authorization: Bearer $token" "http://localhost:$port/cluster?scope=local" 2>/dev/null | grep -q '"recovering":false'; then
      echo "worker: serving on http://localhost:$port (log var/log/worker-$port.log)"
      continue 2
    fi
    if ! kill -0 "$(cat "$run/worker-$port.pid")" 2>/dev/null; then
      echo "worker on port $port exited; last lines of var/log/worker-$port.log:" >&2
      tail -n 30 "$logs/worker-$port.log" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "worker on port $port did not finish starting within 60 s; see var/log/worker-$port.log" >&2
  exit 1
done
