"""Prometheus metrics of one worker, read at scrape time from what the worker already tracks.

Counters come from `app.worker.counters`, offsets and lag from faust's Monitor, table sizes from the
tables; request latency is observed by a faust Sensor into a histogram.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from faust.sensors import Sensor
from faust.types import TP, AppT
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from app.worker.counters import counters

TABLE_SIZE_CACHE_S = 30.0


class RequestLatency(Sensor):
    """Times every HTTP request by view name."""

    def __init__(self, histogram: Histogram) -> None:
        super().__init__()
        self.histogram = histogram

    def on_web_request_start(self, app: AppT, request: Any, *, view: Any = None) -> dict[str, Any]:
        return {"start": time.perf_counter()}

    def on_web_request_end(
        self, app: AppT, request: Any, response: Any, state: dict[str, Any], *, view: Any = None
    ) -> None:
        name = type(view).__name__ if view is not None else "unknown"
        status = str(response.status) if response is not None else "500"
        self.histogram.labels(view=name, status=status).observe(
            time.perf_counter() - state["start"]
        )


class WorkerCollector(Collector):
    """Events in and rejected, table sizes, offsets and consumer lag of this worker."""

    def __init__(self, app: AppT) -> None:
        self.app = app
        self._sizes: dict[str, int] = {}
        self._sizes_at = 0.0

    def collect(self) -> Iterator[Any]:
        yield from self._events()
        yield self._table_sizes()
        yield from self._lag()

    def _events(self) -> Iterator[Any]:
        accepted = CounterMetricFamily(
            "probewatch_events",
            "Stream messages by stream and outcome",
            labels=["stream", "outcome"],
        )
        rejected = CounterMetricFamily(
            "probewatch_events_rejected", "Malformed messages skipped", labels=["stream", "reason"]
        )
        for name, value in counters.snapshot().items():
            stream, rejected_for, reason = name.partition(".rejected.")
            if rejected_for:  # streams may have dots of their own: `telegram.webhook`
                rejected.add_metric([stream, reason], value)
            else:
                stream, _, outcome = name.rpartition(".")
                accepted.add_metric([stream, outcome], value)
        yield accepted
        yield rejected

    def _table_sizes(self) -> GaugeMetricFamily:
        """Keys in this worker's stores (actives and standbys), counted at most every 30 s."""
        if time.monotonic() - self._sizes_at > TABLE_SIZE_CACHE_S:
            self._sizes = {name: sum(1 for _ in table) for name, table in self.app.tables.items()}
            self._sizes_at = time.monotonic()
        gauge = GaugeMetricFamily(
            "probewatch_table_keys", "Keys held by this worker's table stores", labels=["table"]
        )
        for name, size in sorted(self._sizes.items()):
            gauge.add_metric([name], size)
        return gauge

    def _lag(self) -> Iterator[Any]:
        monitor = self.app.monitor
        lag = GaugeMetricFamily(
            "probewatch_consumer_lag",
            "Messages not yet read, per assigned partition",
            labels=["topic", "partition"],
        )
        committed = GaugeMetricFamily(
            "probewatch_committed_offset", "Last committed offset", labels=["topic", "partition"]
        )
        for tp, behind in sorted(consumer_lag(self.app).items()):
            lag.add_metric([tp.topic, str(tp.partition)], behind)
        for tp, offset in sorted(monitor.tp_committed_offsets.items()):
            committed.add_metric([tp.topic, str(tp.partition)], offset)
        yield lag
        yield committed


def consumer_lag(app: AppT) -> dict[TP, int]:
    """Per partition this worker reads: messages at the broker it has not read yet."""
    monitor = app.monitor
    return {
        tp: max(0, end - (monitor.tp_read_offsets.get(tp, -1) + 1))
        for tp, end in monitor.tp_end_offsets.items()
    }


def build_registry(app: AppT) -> CollectorRegistry:
    """A registry for this worker; the request-latency sensor is added to the app's sensors."""
    registry = CollectorRegistry()
    histogram = Histogram(
        "probewatch_http_request_seconds",
        "HTTP request latency by view",
        labelnames=["view", "status"],
        registry=registry,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    )
    app.sensors.add(RequestLatency(histogram))
    registry.register(WorkerCollector(app))
    return registry
