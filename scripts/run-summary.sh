#!/usr/bin/env bash
# What `make run` started, where, and how to stop it.
set -uo pipefail
count=${1:-1}
first=${2:-6066}
sample=${3:-}
port=$first
token=$(cat var/run/api-token 2>/dev/null || true)
mac=$(curl -fsS "http://localhost:$port/health" >/dev/null 2>&1 && \
  .venv/bin/python -m sniffer.sample_mac "$sample" 2>/dev/null || true)
cat <<TXT

probewatch is running:
  Kafka        ${PROBEWATCH_KAFKA_BOOTSTRAP_SERVERS:-localhost:9092}$( [ -z "${PROBEWATCH_KAFKA_BOOTSTRAP_SERVERS:-}" ] && echo " (local KRaft broker, data in var/kafka/data)")
  workers      $(for ((i = 0; i < count; i++)); do printf 'http://localhost:%s ' $((first + i)); done)
  sample       $sample, replayed into the 'probes' topic
  API token    $token
               (admin, in var/run/api-token; the dashboard asks for it once)

Try:
  curl -s -H "Authorization: Bearer \$(cat var/run/api-token)" http://localhost:$port/devices/${mac:-<mac>}
  curl -s http://localhost:$port/health
  open http://localhost:$port/ (the dashboard)
  .venv/bin/probewatch sql "select count(*) from probes"   # the history lake, var/lake (30 s behind)
  .venv/bin/probewatch-sniffer replay YOUR.pcap     # more probes

Stop everything with:  make stop
TXT
