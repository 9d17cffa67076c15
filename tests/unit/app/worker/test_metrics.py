"""/metrics spells each /health counter as a stream and an outcome, or a stream and a reason."""

from __future__ import annotations

from typing import Any

from app.worker.counters import counters
from app.worker.metrics import WorkerCollector


def _labels(families: list[Any], name: str) -> dict[tuple[str, str], float]:
    [family] = [f for f in families if f.name == name]
    return {
        (s.labels["stream"], s.labels.get("outcome") or s.labels["reason"]): s.value
        for s in family.samples
    }


def test_streams_with_dots_keep_their_whole_name() -> None:
    counters.counts.clear()
    counters.incr("telegram.webhook.accepted", 2)
    counters.incr("telegram.webhook.rejected.network", 3)
    counters.incr("probes.rejected.bad_field", 4)
    counters.incr("probes.dead_lettered", 5)
    families = list(WorkerCollector(app=None)._events())  # type: ignore[arg-type]
    counters.counts.clear()
    assert _labels(families, "probewatch_events") == {
        ("telegram.webhook", "accepted"): 2,
        ("probes", "dead_lettered"): 5,
    }
    assert _labels(families, "probewatch_events_rejected") == {
        ("telegram.webhook", "network"): 3,
        ("probes", "bad_field"): 4,
    }
