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
from faust import App

from app.agents.ssids import fold_ssids
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
