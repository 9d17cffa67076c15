"""The `fold-probes` agent with faust's `test_context`: what reaches the `devices` table.

The write-behind flush produces to Kafka; here its produce step is replaced by a recorder that
says every record was acknowledged (`flushed`), so what the flush stores and acknowledges is real.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import AsyncMock

import orjson
import pytest
from faust import App

from app.agents import probes as probes_agent
from app.agents.probes import fold_probes
from app.logic.erasure import erasure_record
from app.logic.forwarding import SOURCE_HEADER
from app.tables.devices import device_row, devices_table
from app.tables.staged import write_behind
from app.topics import dead_letters_topic, group_members_topic, probes_topic, ssid_probes_topic
from app.worker.counters import counters
from app.worker.lists import watchlist
from app.worker.write_behind import _Generation

MAC = "f0:18:98:11:22:33"


def _value(ts: float, ssid: str = "", mac: str = MAC) -> bytes:
    return orjson.dumps({"ts": ts, "mac": mac, "ssid": ssid, "rssi_dbm": -50})


@pytest.fixture()
def dead(monkeypatch: pytest.MonkeyPatch) -> AsyncMock:
    """What reaches the dead-letter topic."""
    sent = AsyncMock()
    monkeypatch.setattr(dead_letters_topic, "send", sent)
    return sent


class Flushed:
    """What the flushes produced: changelog rows and derived messages, in order."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, int, bytes, Any]] = []
        self.messages: list[tuple[str, bytes, Any]] = []
        self.fail_next = 0

    async def produce(self, flushing: Any) -> dict[tuple[str, int], int]:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("broker gone")
        for (name, partition), encoded in flushing.encoded.items():
            for key, value in encoded.items():
                self.rows.append((name, partition, key, _loads(value)))
        for topic, key, value in flushing.messages:
            self.messages.append((topic, key, _loads(value)))
        return {slot: len(self.rows) for slot in flushing.encoded}


def _loads(value: bytes | None) -> Any:
    return None if value is None else orjson.loads(value)


@pytest.fixture()
def flushed(monkeypatch: pytest.MonkeyPatch) -> Flushed:
    recorder = Flushed()
    monkeypatch.setattr(write_behind, "_produce", recorder.produce)
    monkeypatch.setattr(write_behind, "interval_s", 0.01)
    monkeypatch.setattr("app.worker.write_behind.RETRY_AFTER_S", 0.01)
    write_behind._generation = _Generation()
    return recorder


@pytest.fixture()
async def agent(app: App, dead: AsyncMock, flushed: Flushed) -> AsyncIterator[object]:
    devices_table.data.clear()
    counters.counts.clear()
    watchlist.load({})
    async with fold_probes.test_context() as agent:
        yield agent
    await write_behind.stop()


def _row(mac: str = MAC) -> Any:
    return device_row(mac)


def _dead_letter_reasons(dead: AsyncMock) -> list[str]:
    return [
        dict(call.kwargs["headers"])["probewatch.dlq.reason"].decode()
        for call in dead.await_args_list
    ]


async def test_probes_fold_into_one_row(agent: object) -> None:
    for offset, (ts, ssid) in enumerate([(10.0, "home"), (11.0, ""), (12.0, "work")]):
        await _put(agent, _value(ts, ssid), offset)
    await _settle()
    row = _row()
    assert row["probe_count"] == 3 and row["ssids"] == ["home", "work"]
    assert row["wildcard_probes"] == 1 and row["offset"] == 2


async def test_redelivered_offsets_are_not_counted_twice(agent: object) -> None:
    for offset in (0, 1, 1, 0, 2):
        await _put(agent, _value(10.0 + offset), offset)
    await _settle()
    assert _row()["probe_count"] == 3
    assert counters.counts["probes.duplicates_skipped"] == 2


async def test_malformed_message_is_counted_and_the_next_good_one_still_is(agent: object) -> None:
    await _put(agent, b"not json", 0)
    await _put(agent, b'{"mac": 1}', 1)
    await _put(agent, _value(12.0), 2)
    await _settle()
    assert _row()["probe_count"] == 1
    assert counters.counts["probes.rejected.not_json"] == 1
    assert counters.counts["probes.rejected.bad_mac"] == 1
    assert counters.counts["probes.accepted"] == 1


@pytest.mark.parametrize(
    "poison",
    [
        {"rssi_dbm": 18446744073709551615},
        {"rssi_dbm": -129},
        {"ts": 1e300},
        {"ts": 4102444800},
        {"freq_mhz": 70000},
        {"seq": 4096},
        {"ssid": "x" * 33},
        {"ssid": "evil\u202egnp.exe"},
        {"ssid": "a\u0000b"},
        {"ssid_hex": "zz"},
    ],
)
async def test_a_value_out_of_range_is_dead_lettered_and_counting_goes_on(
    agent: object, dead: AsyncMock, poison: dict[str, object]
) -> None:
    bad = orjson.dumps({"ts": 5.0, "mac": MAC, "ssid": "home", **poison})
    await _put(agent, bad, 0)
    await _put(agent, bad, 1)
    await _put(agent, _value(12.0), 2)
    await _settle()
    assert _row()["probe_count"] == 1
    assert counters.counts["probes.rejected.bad_field"] == 2
    assert _dead_letter_reasons(dead) == ["bad_field", "bad_field"]
    first = dead.await_args_list[0].kwargs
    assert first["value"] == bad and first["key"] == MAC.encode()
    headers = dict(first["headers"])
    assert headers["probewatch.dlq.offset"] == b"0"
    assert headers["probewatch.dlq.topic"] == probes_topic.get_topic_name().encode()


async def test_a_probe_that_fails_to_fold_costs_only_itself(
    agent: object, dead: AsyncMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fold = probes_agent.fold_probe

    def fold_failing_on_ssid_boom(state: Any, probe: Any, **kwargs: Any) -> Any:
        if probe.ssid == "boom":
            raise RuntimeError("a bug no check foresaw")
        return real_fold(state, probe, **kwargs)

    monkeypatch.setattr(probes_agent, "fold_probe", fold_failing_on_ssid_boom)
    for offset, ssid in enumerate(["home", "boom", "work"]):
        await _put(agent, _value(10.0 + offset, ssid), offset)
    await _settle()
    assert _row()["probe_count"] == 2
    assert _row()["ssids"] == ["home", "work"]
    assert _dead_letter_reasons(dead) == ["processing_error"]
    assert dead.await_args_list[0].kwargs["value"] == _value(11.0, "boom")
    assert counters.counts["probes.rejected.processing_error"] == 1
    assert counters.counts["probes.dead_lettered"] == 1


async def test_a_probe_forwarded_twice_from_one_source_counts_once(agent: object) -> None:
    for offset, source in enumerate([b"pcap:3:100", b"pcap:3:101", b"pcap:3:100", b"pcap:5:100"]):
        await _put(agent, _value(10.0 + offset), offset, headers={SOURCE_HEADER: source})
    await _settle()
    assert _row()["probe_count"] == 3
    assert _row()["sources"] == {"pcap:3": 101, "pcap:5": 100}
    assert counters.counts["probes.duplicates_skipped"] == 1


async def test_probe_keyed_by_another_key_is_forwarded_keyed_by_its_mac(
    agent: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = AsyncMock()
    monkeypatch.setattr(probes_topic, "send", sent)
    value = _value(12.0, mac="AA-BB-CC-DD-EE-FF")
    await _put(agent, value, 0, key=b"some-other-key")
    await _settle()
    sent.assert_awaited_once_with(
        key=b"aa:bb:cc:dd:ee:ff", value=value, headers=[(SOURCE_HEADER, b"probes:0:0")]
    )
    assert _row("aa:bb:cc:dd:ee:ff") is None
    assert counters.counts["probes.rekeyed"] == 1


async def _put(
    agent: Any,
    value: bytes,
    offset: int,
    key: bytes = MAC.encode(),
    headers: dict[str, bytes] | None = None,
) -> None:
    """Deliver one message at a chosen offset, as a redelivering consumer would."""
    agent.sent_offset = offset
    event = await agent.put(value=value, key=key, headers=headers, wait=False)
    _delivered.append(event)


#: Every event handed to the agent in this test, so `_settle` knows what to wait for.
_delivered: list[Any] = []


@pytest.fixture(autouse=True)
def _forget_deliveries() -> None:
    _delivered.clear()


async def _settle(timeout: float = 10.0) -> None:
    """Until the agent has acknowledged every event delivered: it acknowledges a record only
    once a flush made its effect durable, so its effects are all visible then."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not all(event.message.acked for event in _delivered):
        assert asyncio.get_running_loop().time() < deadline, "the agent left events unprocessed"
        await asyncio.sleep(0.01)


def _probe(ts: float, ssid: str = "", mac: str = MAC) -> dict[str, Any]:
    return {"ts": ts, "mac": mac, "ssid": ssid, "rssi_dbm": -50}


async def test_a_record_of_many_probes_counts_each_once(
    agent: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probes_agent, "partition_of", lambda *_: 0)
    other = "f0:18:98:00:00:02"
    batch = [_probe(10.0, "home"), _probe(11.0, "home", other), _probe(12.0, "work")]
    await _put(agent, orjson.dumps(batch), 0, key=b"")
    await _put(agent, orjson.dumps(batch), 0, key=b"")
    await _settle()
    assert _row()["probe_count"] == 2 and _row()["ssids"] == ["home", "work"]
    assert _row(other)["probe_count"] == 1
    assert _row()["ssid_probes"] == {"home": [1, 10.0], "work": [1, 12.0]}
    assert counters.counts["probes.accepted"] == 3
    assert counters.counts["probes.duplicates_skipped"] == 3


async def test_a_bad_probe_in_a_record_is_dead_lettered_alone(
    agent: object, dead: AsyncMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probes_agent, "partition_of", lambda *_: 0)
    bad = {"ts": 5.0, "mac": MAC, "ssid": "x" * 33}
    await _put(agent, orjson.dumps([_probe(10.0), bad, _probe(11.0)]), 7, key=b"")
    await _settle()
    assert _row()["probe_count"] == 2
    assert _dead_letter_reasons(dead) == ["bad_field"]
    kept = dead.await_args_list[0].kwargs
    assert orjson.loads(kept["value"]) == bad
    assert dict(kept["headers"])["probewatch.dlq.index"] == b"1"
    assert dict(kept["headers"])["probewatch.dlq.offset"] == b"7"


async def test_probes_of_another_partition_are_forwarded_together(
    agent: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = "f0:18:98:00:00:09"
    monkeypatch.setattr(
        probes_agent, "partition_of", lambda _a, _t, key: int(key == b"f0:18:98:00:00:09")
    )
    probes_agent._partitions.clear()
    sent = AsyncMock()
    monkeypatch.setattr(probes_topic, "send", sent)
    batch = [_probe(10.0), _probe(11.0, mac=elsewhere), _probe(12.0, mac=elsewhere)]
    await _put(agent, orjson.dumps(batch), 4, key=b"")
    await _settle()
    probes_agent._partitions.clear()
    assert _row()["probe_count"] == 1 and _row(elsewhere) is None
    call = sent.await_args.kwargs
    assert call["key"] == elsewhere.encode()
    assert [p["ts"] for p in orjson.loads(call["value"])] == [11.0, 12.0]
    assert call["headers"] == [(SOURCE_HEADER, b"probes:0:4")]


async def test_a_packed_record_waits_for_the_partitions_of_probes_instead_of_failing(
    agent: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """faust looks no topic up at start: the first packed record fetches `probes`' partitions
    (once) before placing its MACs, where it was rejected as a processing error."""
    from app.web.routing import TopicUnknown

    known = False

    def partition_of(_app: object, topic: str, _key: bytes) -> int:
        if not known:
            raise TopicUnknown(topic)
        return 0

    async def learn_topic(_app: object, _topic: str) -> bool:
        nonlocal known
        known = True
        return True

    learned = AsyncMock(side_effect=learn_topic)
    monkeypatch.setattr(probes_agent, "partition_of", partition_of)
    monkeypatch.setattr(probes_agent, "learn_topic", learned)
    monkeypatch.setattr(probes_agent, "_probes_partitions_known", False)
    probes_agent._partitions.clear()
    await _put(agent, orjson.dumps([_probe(10.0), _probe(11.0)]), 0, key=b"")
    await _put(agent, orjson.dumps([_probe(12.0)]), 1, key=b"")
    await _settle()
    probes_agent._partitions.clear()
    assert _row()["probe_count"] == 3
    assert learned.await_count == 1
    assert counters.counts.get("probes.rejected.processing_error", 0) == 0


async def test_the_flush_sends_each_device_total_per_ssid(agent: object, flushed: Flushed) -> None:
    for offset, ssid in enumerate(["home", "home", "", "work"]):
        await _put(agent, _value(10.0 + offset, ssid), offset)
    await _settle()
    totals = {
        key.decode(): value["totals"]
        for topic, key, value in flushed.messages
        if topic == ssid_probes_topic.get_topic_name()
    }
    assert totals["home"][MAC][0] == 2 and totals["work"][MAC][0] == 1
    assert totals["home"][MAC][2] >= 1 and totals["work"][MAC][2] == 3
    assert [row for name, _, key, row in flushed.rows if key == MAC.encode()][-1]["offset"] == 3


async def test_an_ssid_probed_for_by_a_crowd_is_sent_in_parts_that_fit(
    agent: object, flushed: Flushed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The producer refuses a record over 1,000,000 bytes: a crowd's totals for one SSID are
    split (here with a limit of 500 bytes), every device in exactly one part."""
    monkeypatch.setattr("app.logic.packing.MAX_RECORD_BYTES", 500)
    await write_behind.stop(flush=False)
    monkeypatch.setattr(write_behind, "interval_s", 3600)  # one flush, below, for all of them
    macs = [f"f0:18:98:11:23:{n:02x}" for n in range(40)]
    for offset, mac in enumerate(macs):
        await _put(agent, _value(10.0 + offset, "eduroam", mac), offset, key=mac.encode())
    for _ in range(500):
        if counters.counts.get("probes.accepted", 0) == len(macs):
            break
        await asyncio.sleep(0.01)
    await write_behind.flush()
    await _settle()
    parts = [
        (value, raw)
        for topic, key, value in flushed.messages
        if topic == ssid_probes_topic.get_topic_name() and key == b"eduroam"
        for raw in [orjson.dumps(value)]
    ]
    assert len(parts) > 1
    assert all(len(raw) <= 500 for _, raw in parts)
    shares = [mac for value, _ in parts for mac in value["totals"]]
    assert sorted(shares) == sorted(macs)


async def test_nothing_is_acknowledged_or_stored_before_the_changelog_has_it(
    agent: object, flushed: Flushed
) -> None:
    flushed.fail_next = 10**9
    await _put(agent, _value(10.0), 0)
    await asyncio.sleep(0.1)
    assert not _delivered[0].message.acked
    assert devices_table.data.get(MAC.encode()) is None, "stored before the changelog had it"
    assert _row()["probe_count"] == 1, "the worker still serves what it folded"
    flushed.fail_next = 0
    await _settle()
    assert flushed.rows and devices_table.data.get(MAC.encode())["probe_count"] == 1


async def test_observers_see_each_flush_once_stored_and_before_any_acknowledgement(
    agent: object, flushed: Flushed, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, int, bytes, int, bool, bool, int | None]] = []

    def observe(table: str, partition: int, rows: dict[bytes, Any], offset: int | None) -> None:
        for key, row in rows.items():
            stored = devices_table.data.get(key)
            # The record that brought the row to its count: acknowledged only after the flush.
            acked = _delivered[row["probe_count"] - 1].message.acked
            seen.append((table, partition, key, row["probe_count"], stored == row, acked, offset))

    def broken(*_: Any) -> None:
        raise RuntimeError("an observer's bug must not stop the flush")

    monkeypatch.setattr(write_behind, "_observers", [broken, observe])
    await _put(agent, _value(10.0), 0)
    await _put(agent, _value(11.0), 1)
    await _settle()
    assert seen, "the flush told the observer"
    assert all(table == devices_table.name for table, *_ in seen)
    assert all(stored and not acked for *_, stored, acked, _ in seen), seen
    assert seen[-1][2:4] == (MAC.encode(), 2)
    assert seen[-1][-1] == len(flushed.rows), "the changelog offset the rows reached"


async def test_an_erasure_deletes_the_row_its_history_and_its_ssid_shares(
    agent: object, flushed: Flushed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probes_agent, "partition_of", lambda *_: 0)
    probes_agent._partitions.clear()
    for offset, ssid in enumerate(["home", "work"]):
        await _put(agent, _value(10.0 + offset, ssid), offset)
    await _settle()
    _, erasure = erasure_record(MAC, "api")
    await _put(agent, erasure, 2)
    await _settle()
    assert _row() is None
    deleted = {name for name, _, key, row in flushed.rows if key == MAC.encode() and row is None}
    assert deleted == {"devices", "device-activity"}
    forgets = {
        key.decode(): value["forget"]
        for topic, key, value in flushed.messages
        if topic == ssid_probes_topic.get_topic_name() and "forget" in value
    }
    assert forgets == {"home": {MAC: 2}, "work": {MAC: 2}}
    assert _left_groups(flushed) == [(MAC, False)], "its group forgets it, not by retention"
    assert counters.counts["probes.erased.api"] == 1
    await _put(agent, _value(20.0, "new"), 3)
    await _settle()
    assert _row()["probe_count"] == 1 and _row()["ssids"] == ["new"], "heard again: afresh"


def _left_groups(flushed: Flushed) -> list[tuple[str, bool]]:
    """The MACs whose groups were told to forget them, and whether retention did it."""
    return [
        (update["mac"], update["expired"])
        for topic, _, value in flushed.messages
        if topic == group_members_topic.get_topic_name()
        for update in value
        if update["erase"]
    ]


async def test_a_retention_erasure_spares_a_device_heard_since(
    agent: object, flushed: Flushed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probes_agent, "partition_of", lambda *_: 0)
    probes_agent._partitions.clear()
    await _put(agent, _value(100.0), 0)
    await _put(agent, erasure_record(MAC, "retention", unseen_since=50.0)[1], 1)
    await _settle()
    assert _row()["probe_count"] == 1
    assert counters.counts["probes.erasure_skipped.heard_since"] == 1
    await _put(agent, erasure_record(MAC, "retention", unseen_since=150.0)[1], 2)
    await _settle()
    assert _row() is None
    assert _left_groups(flushed) == [(MAC, True)], "the lake keeps its history (its retention)"


async def test_an_erasure_of_another_partition_is_sent_on_and_a_bad_one_dead_lettered(
    agent: object, dead: AsyncMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probes_agent, "partition_of", lambda *_: 1)
    probes_agent._partitions.clear()
    sent = AsyncMock()
    monkeypatch.setattr(probes_topic, "send", sent)
    key, value = erasure_record(MAC, "cli")
    await _put(agent, value, 0)
    await _put(agent, b'{"erase": "not a mac"}', 1)
    await _settle()
    probes_agent._partitions.clear()
    assert sent.await_args.kwargs == {"key": key, "value": value}
    assert _dead_letter_reasons(dead) == ["bad_erasure"]
