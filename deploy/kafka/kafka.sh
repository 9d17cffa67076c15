#!/usr/bin/env bash
# Start, stop or probe the local single-node Apache Kafka (KRaft) that `make run` and `make test` use.
# Jars come from Maven Central (pom.xml beside this file); state lives under var/kafka (git-ignored).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
var="${PROBEWATCH_KAFKA_HOME:-$root/var/kafka}"
libs="$var/libs"
data="$var/data"
logs="$var/logs"
pidfile="$var/kafka.pid"
port=9092

fetch() {
  if [ -f "$libs/.complete" ] && cmp -s "$here/pom.xml" "$libs/.complete"; then return; fi
  echo "kafka: fetching Apache Kafka jars from Maven Central into $libs"
  rm -rf "$libs"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$libs" -DincludeScope=runtime
  cp "$here/pom.xml" "$libs/.complete"
}

running() {
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

answers() {
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

start() {
  fetch
  if running; then echo "kafka: already running (pid $(cat "$pidfile")) on localhost:$port"; return; fi
  if answers; then
    echo "kafka: something else already listens on localhost:$port; not starting another broker" >&2
    exit 1
  fi
  mkdir -p "$data" "$logs"
  sed "s#@DATA_DIR@#$data#" "$here/server.properties" > "$var/server.properties"
  if [ ! -f "$data/meta.properties" ]; then
    java -cp "$libs/*" kafka.tools.StorageTool format --ignore-formatted \
      -t "$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid)" \
      -c "$var/server.properties" >/dev/null
  fi
  nohup java -Xms512m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
    -Dkafka.logs.dir="$logs" -Dlog4j2.configurationFile="$here/log4j2.yaml" \
    -cp "$libs/*" kafka.Kafka "$var/server.properties" >"$logs/stdout.log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 120); do
    if answers && grep -q "Kafka Server started" "$logs/server.log" 2>/dev/null; then
      echo "kafka: started (pid $(cat "$pidfile")) on localhost:$port, data in $data"
      return
    fi
    if ! running; then
      echo "kafka: the broker exited at start-up; see $logs/stdout.log and $logs/server.log" >&2
      tail -n 20 "$logs/stdout.log" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  echo "kafka: no answer on localhost:$port after 60 s; see $logs/server.log" >&2
  exit 1
}

stop() {
  if ! running; then echo "kafka: not running"; rm -f "$pidfile"; return; fi
  pid=$(cat "$pidfile")
  kill "$pid"
  for _ in $(seq 1 60); do
    if ! kill -0 "$pid" 2>/dev/null; then rm -f "$pidfile"; echo "kafka: stopped"; return; fi
    sleep 0.5
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  echo "kafka: killed after 30 s"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) if running; then echo "kafka: running (pid $(cat "$pidfile"))"; else echo "kafka: stopped"; exit 1; fi ;;
  *) echo "usage: $0 fetch|start|stop|status" >&2; exit 2 ;;
esac
