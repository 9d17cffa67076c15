"""The `fold-ssids` agent with faust's `test_context`: totals in, an SSID's row out, written behind.

As in test_probes, the flush's produce step is a recorder that says every record was acknowledged.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import AsyncMock

import orjson
import pytest
from aiokafka import ConsumerRecord
from faust import App
from faust.types import TP

from app.agents.ssids import fold_ssids
from app.tables import staged
from app.tables.ssids import ssid_row, ssids_table
from app.tables.staged import write_behind
from app.topics import dead_letters_topic
from app.worker.counters import counters
from tests.unit.app.agents.test_probes import Flushed

A, B = "f0:18:98:00:00:0a", "f0:18:98:00:00:0b"


@pytest.fixture()
def flushed(monkeypatch: pytest.MonkeyPatch) -> Flushed:
    from app.worker.write_behind import _Generation

    recorder = Flushed()
    monkeypatch.setattr(write_behind, "_produce", recorder.produce)
    monkeypatch.setattr(write_behind, "interval_s", 0.01)
    write_behind._generation = _Generation()
    return recorder


@pytest.fixture()
async def agent(app: App, flushed: Flushed, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    monkeypatch.setattr(dead_letters_topic, "send", AsyncMock())
    ssids_table.data.clear()
    counters.counts.clear()
    async with fold_ssids.test_context() as agent:
        yield agent
    await write_behind.stop()


async def _deliver(agent: Any, ssid: str, value: Any, offset: int) -> Any:
    agent.sent_offset = offset
    return await agent.put(value=orjson.dumps(value), key=ssid.encode(), wait=False)


async def _acked(events: list[Any]) -> None:
    for _ in range(500):
        if all(event.message.acked for event in events):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the agent left messages unacknowledged")


async def test_totals_replace_and_the_row_reaches_the_changelog_before_the_store(
    agent: Any, flushed: Flushed
) -> None:
    events = [
        await _deliver(agent, "home", {"totals": {A: [2, 10.0, 5], B: [1, 11.0, 3]}}, 0),
        await _deliver(agent, "home", {"totals": {A: [2, 10.0, 5]}}, 1),
        await _deliver(agent, "home", {"totals": {A: [4, 12.0, 9]}}, 2),
        await _deliver(agent, "home", {"totals": "nope"}, 3),
    ]
    await _acked(events)
    row = ssid_row("home")
    assert row is not None and row["probe_count"] == 5
    assert row["devices"][A] == [4, 12.0, 9]
    assert counters.counts["ssid-probes.duplicates_skipped"] == 1
    assert counters.counts["ssid-probes.rejected.bad_value"] == 1
    written = [r for name, _, key, r in flushed.rows if name == ssids_table.name]
    assert written and written[-1]["probe_count"] == 5
    assert ssids_table.data.get(b"home")["probe_count"] == 5


class SkippedRecords:
    """Stands in for the reader of skipped records: Kafka's records by offset, and the reads."""

    def __init__(self, kept: dict[int, bytes]) -> None:
        self.kept = kept
        self.reads: list[tuple[str, int, int, int]] = []

    async def read(self, topic: str, partition: int, start: int, end: int) -> list[Any]:
        self.reads.append((topic, partition, start, end))
        return [
            ConsumerRecord(topic, partition, offset, 0, 0, b"home", value, None, 4, len(value), ())
            for offset, value in sorted(self.kept.items())
            if start <= offset < end
        ]


async def test_a_record_faust_skipped_is_read_back_and_folded_before_the_next(
    agent: Any, flushed: Flushed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shared by every fold (`fold_each`): record 2 never reaches the agent; Kafka still has it."""
    kafka = SkippedRecords({2: orjson.dumps({"totals": {A: [3, 11.0, 7]}})})
    monkeypatch.setattr(staged, "skipped_records", kafka)
    events = [
        await _deliver(agent, "home", {"totals": {A: [1, 10.0, 5]}}, 0),
        await _deliver(agent, "home", {"totals": {A: [2, 10.0, 6]}}, 1),
    ]
    agent.sent_offset = 3
    events.append(await _deliver(agent, "home", {"totals": {A: [4, 12.0, 9], B: [1, 12.0, 9]}}, 3))
    await _acked(events)
    topic = events[0].message.topic
    assert kafka.reads == [(topic, 0, 2, 3)]
    row = ssid_row("home")
    assert row is not None and row["devices"] == {A: [4, 12.0, 9], B: [1, 12.0, 9]}
    assert counters.counts["ssid-probes.duplicates_skipped"] == 0, "2 came before 3"
    assert counters.counts["records.read_back"] == 1
    assert counters.counts["records.skipped"] == 0


async def test_a_skipped_record_kafka_no_longer_has_is_counted_and_acknowledged_as_a_gap(
    agent: Any, flushed: Flushed, monkeypatch: pytest.MonkeyPatch
) -> None:
    kafka = SkippedRecords({})
    monkeypatch.setattr(staged, "skipped_records", kafka)
    gaps: list[tuple[TP, int, int]] = []

    async def acknowledge_gap(tp: TP, offset_from: int, offset_to: int) -> None:
        gaps.append((tp, offset_from, offset_to))

    monkeypatch.setattr(type(staged.app.consumer), "acknowledge_gap", staticmethod(acknowledge_gap))
    events = [await _deliver(agent, "home", {"totals": {A: [1, 10.0, 5]}}, 0)]
    agent.sent_offset = 4
    events.append(await _deliver(agent, "home", {"totals": {A: [4, 12.0, 9]}}, 4))
    await _acked(events)
    topic = events[0].message.topic
    assert kafka.reads == [(topic, 0, 1, 4)]
    assert gaps == [(TP(topic, 0), 1, 3)]
    assert counters.counts["records.skipped"] == 3
    row = ssid_row("home")
    assert row is not None and row["devices"] == {A: [4, 12.0, 9]}
