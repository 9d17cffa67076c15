# probewatch: the two commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV       := .venv
PY         := $(VENV)/bin/python
STAMP      := $(VENV)/.installed
BOOTSTRAP  := $(or $(PROBEWATCH_KAFKA_BOOTSTRAP_SERVERS),localhost:9092)
# An external cluster (anything but the local default) means nothing local is started.
LOCAL_KAFKA := $(filter localhost:9092 127.0.0.1:9092,$(BOOTSTRAP))
WORKERS    ?= 1
FIRST_PORT ?= 6066
SAMPLE     := var/sample/probes.pcap
RUN_DIR    := var/run

.PHONY: help install install-test-tools kafka kafka-stop run stop test check format bench eval-groups clean

help:
	@echo "make run    set everything up, start Kafka + a worker, replay a sample capture"
	@echo "make test   the whole test suite (unit, integration on the real Kafka, end-to-end)"
	@echo "make bench  print throughput and latency figures"
	@echo "make eval-groups  score the grouping of random MACs into devices on labelled captures"
	@echo "make stop   stop the workers and the local Kafka that make run started"

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v python3.11 >/dev/null || command -v python3 >/dev/null || { echo "python 3.11 is required" >&2; exit 1; }
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# tshark is the independent dissector the parser tests compare against; Debian's chromium is the
# browser the dashboard tests drive (Playwright's own browser download cannot work here).
install-test-tools:
	@command -v tshark >/dev/null || { \
	  echo "installing tshark from Debian's packages"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true; \
	  apt-get update -qq && apt-get install -y -qq tshark >/dev/null; }
	@command -v chromium >/dev/null || { \
	  echo "installing chromium from Debian's packages"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

kafka:
ifeq ($(LOCAL_KAFKA),)
	@echo "kafka: using the cluster at $(BOOTSTRAP); nothing local is started"
else
	@deploy/kafka/kafka.sh start
endif

kafka-stop:
	@deploy/kafka/kafka.sh stop

$(SAMPLE): $(STAMP)
	@mkdir -p $(dir $@)
	$(VENV)/bin/probewatch-sniffer synth $@ --probes 50000 --devices 2000 --seed 7

run: install kafka $(SAMPLE)
	@scripts/api-token.sh
	@scripts/run-workers.sh $(WORKERS) $(FIRST_PORT)
	$(VENV)/bin/probewatch-sniffer replay $(SAMPLE)
	@scripts/run-summary.sh $(WORKERS) $(FIRST_PORT) $(SAMPLE)

stop:
	@scripts/stop-workers.sh
	@$(MAKE) --no-print-directory kafka-stop

check: install
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: install install-test-tools kafka check
	PROBEWATCH_REQUIRE_KAFKA=1 $(VENV)/bin/pytest -q

bench: install kafka
	$(PY) -m bench

# No Kafka: the grouper alone, fed the labelled captures (../shared/data/pcaps by default).
eval-groups: install
	$(PY) -m bench.eval_groups $(ARGS)

clean: stop
	rm -rf var/data var/run var/sample var/bench var/log var/kafka/data var/kafka/logs
