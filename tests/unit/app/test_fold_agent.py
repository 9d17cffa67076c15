"""The `fold-probes` agent with faust's `test_context`: what reaches the `devices` table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import AsyncMock

import orjson
import pytest
from faust import App

from app.agents.probes import fold_probes
from app.counters import counters
from app.mirrors import watchlist
from app.tables.devices import devices_table
from app.topics import probes_topic

MAC = "f0:18:98:11:22:33"


def _value(ts: float, ssid: str = "", mac: str = MAC) -> bytes:
    return orjson.dumps({"ts": ts, "mac": mac, "ssid": ssid, "rssi_dbm": -50})


@pytest.fixture()
async def agent(app: App) -> AsyncIterator[object]:
    devices_table.data.clear()
    counters.counts.clear()
    watchlist.load({})
    async with fold_probes.test_context() as agent:
        yield agent


async def test_probes_fold_into_one_row(agent: object) -> None:
    for offset, (ts, ssid) in enumerate([(10.0, "home"), (11.0, ""), (12.0, "work")]):
        await _put(agent, _value(ts, ssid), offset)
    await _settle()
    row = devices_table[MAC]
    assert row["probe_count"] == 3 and row["ssids"] == ["home", "work"]
    assert row["wildcard_probes"] == 1 and row["offset"] == 2


async def test_redelivered_offsets_are_not_counted_twice(agent: object) -> None:
    for offset in (0, 1, 1, 0, 2):
        await _put(agent, _value(10.0 + offset), offset)
    await _settle()
    assert devices_table[MAC]["probe_count"] == 3
    assert counters.counts["probes.duplicates_skipped"] == 2


async def test_malformed_message_is_counted_and_the_next_good_one_still_is(agent: object) -> None:
    await _put(agent, b"not json", 0)
    await _put(agent, b'{"mac": 1}', 1)
    await _put(agent, _value(12.0), 2)
    await _settle()
    assert devices_table[MAC]["probe_count"] == 1
    assert counters.counts["probes.rejected.not_json"] == 1
    assert counters.counts["probes.rejected.bad_mac"] == 1
    assert counters.counts["probes.accepted"] == 1


async def test_probe_keyed_by_another_key_is_forwarded_keyed_by_its_mac(
    agent: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = AsyncMock()
    monkeypatch.setattr(probes_topic, "send", sent)
    value = _value(12.0, mac="AA-BB-CC-DD-EE-FF")
    await _put(agent, value, 0, key=b"some-other-key")
    await _settle()
    sent.assert_awaited_once_with(key=b"aa:bb:cc:dd:ee:ff", value=value)
    assert devices_table.get("aa:bb:cc:dd:ee:ff") is None
    assert counters.counts["probes.rekeyed"] == 1


async def _put(agent: Any, value: bytes, offset: int, key: bytes = MAC.encode()) -> None:
    """Deliver one message at a chosen offset, as a redelivering consumer would."""
    agent.sent_offset = offset
    await agent.put(value=value, key=key, wait=False)


async def _settle() -> None:
    """Let the agent's batch window close (take_events flushes after BATCH_WITHIN_S)."""
    import asyncio

    from app.agents.probes import BATCH_WITHIN_S

    await asyncio.sleep(BATCH_WITHIN_S * 3)
