"""History as the `fold-probes` agent keeps it (faust's `test_context`, flushes recorded as in
test_probes): each device's buckets and its partition's counters, checked against counts made
by hand from the probes each test sends, including after re-delivery and partial loss.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any
from unittest.mock import AsyncMock

import orjson
import pytest

from app.agents import history
from app.agents import probes as probes_agent
from app.logic.activity import ActivityQuery, deployment_activity, device_activity
from app.logic.forwarding import SOURCE_HEADER
from app.tables.activity import (
    activity_counters_table,
    device_activity_row,
    device_activity_table,
    partition_counters,
)
from app.tables.devices import device_row
from app.worker.counters import counters
from tests.unit.app.agents.test_probes import _put, _settle

MAC = "f0:18:98:11:22:33"
OTHER = "f0:18:98:44:55:66"
#: A minute boundary, 2026-12-01T00:00:00Z: the tests' probes are a few minutes after it.
T0 = 1_796_083_200.0


@pytest.fixture(autouse=True)
def _empty_history(monkeypatch: pytest.MonkeyPatch) -> None:
    device_activity_table.data.clear()
    activity_counters_table.data.clear()
    monkeypatch.setattr(probes_agent, "partition_of", lambda *_: 0)
    probes_agent._partitions.clear()


def _probe(mac: str, ts: float, rssi: int | None = -50) -> dict[str, Any]:
    return {"ts": ts, "mac": mac, "ssid": "", "rssi_dbm": rssi}


async def _send(agent: Any, offset: int, probes: list[dict[str, Any]], **kw: Any) -> None:
    await _put(agent, orjson.dumps(probes), offset, key=b"", **kw)


def _minutes(mac: str) -> dict[float, tuple[int, int | None, int | None]]:
    """The device's non-empty minutes as served: start → (probes, min, max)."""
    row = device_activity_row(None, mac)
    assert row is not None
    series = device_activity(row["activity"])["minutes"]["buckets"]
    return {
        b["start_ts"]: (b["probes"], b["rssi_min_dbm"], b["rssi_max_dbm"])
        for b in series
        if b["probes"]
    }


def _per_minute() -> dict[float, tuple[int, int, int]]:
    """The partition's non-empty minutes: start → (probes, devices, new devices)."""
    row = partition_counters(0)
    assert row is not None
    answer = deployment_activity(row["counters"], ActivityQuery(since=T0 - 3600))
    return {
        b["start_ts"]: (b["probes"], b["devices"], b["new_devices"])
        for b in answer["buckets"]
        if b["probes"]
    }


def _by_hand(probes: list[dict[str, Any]]) -> dict[float, tuple[int, int, int]]:
    """Per minute: probes, distinct devices, devices whose first probe ever is in it."""
    minute = lambda ts: float(int(ts // 60) * 60)  # noqa: E731
    probes_in: Counter[float] = Counter(minute(p["ts"]) for p in probes)
    devices_in = {m: len({p["mac"] for p in probes if minute(p["ts"]) == m}) for m in probes_in}
    first = Counter(
        minute(min(p["ts"] for p in probes if p["mac"] == mac))
        for mac in {p["mac"] for p in probes}
    )
    return {m: (probes_in[m], devices_in[m], first[m]) for m in probes_in}


RECORDS = [
    [_probe(MAC, T0 + 5, -70), _probe(MAC, T0 + 50, -40), _probe(OTHER, T0 + 59, None)],
    [_probe(MAC, T0 + 61, -55), _probe(OTHER, T0 + 130, -80)],
    [_probe(OTHER, T0 + 20, -60), _probe(MAC, T0 + 185)],
]
ALL = [p for record in RECORDS for p in record]


async def test_devices_and_partition_count_each_minute_as_done_by_hand(agent: Any) -> None:
    for offset, record in enumerate(RECORDS):
        await _send(agent, offset, record)
    await _settle()
    assert _minutes(MAC) == {T0: (2, -70, -40), T0 + 60: (1, -55, -55), T0 + 180: (1, -50, -50)}
    assert _minutes(OTHER) == {T0: (2, -60, -60), T0 + 120: (1, -80, -80)}
    assert _per_minute() == _by_hand(ALL)
    assert device_activity_row(None, MAC)["offset"] == 2  # type: ignore[index]
    assert partition_counters(0)["offset"] == 2  # type: ignore[index]


async def test_redelivered_records_count_once(agent: Any) -> None:
    for offset in (0, 1, 0, 2, 1, 2):
        await _send(agent, offset, RECORDS[offset])
    await _settle()
    assert _per_minute() == _by_hand(ALL)
    assert sum(n for n, _, _ in _minutes(MAC).values()) == 4


async def test_history_lost_apart_from_the_counters_is_rebuilt_without_counting_twice(
    agent: Any,
) -> None:
    """The state a crash between two changelogs leaves: counters and devices durable, a
    device's history not. Re-delivery rebuilds the history; the counters skip the records."""
    for offset, record in enumerate(RECORDS):
        await _send(agent, offset, record)
    await _settle()
    device_activity_table.data.pop(MAC.encode())
    for offset, record in enumerate(RECORDS):
        await _send(agent, offset, record)
    await _settle()
    assert _minutes(MAC) == {T0: (2, -70, -40), T0 + 60: (1, -55, -55), T0 + 180: (1, -50, -50)}
    assert _per_minute() == _by_hand(ALL)
    assert device_row(MAC)["probe_count"] == 4  # type: ignore[index]


async def test_counters_lost_with_the_history_are_counted_again(agent: Any) -> None:
    """Both lost (the counters are flushed first, so the history is never kept without them):
    re-delivery counts the records exactly once more."""
    for offset, record in enumerate(RECORDS):
        await _send(agent, offset, record)
    await _settle()
    device_activity_table.data.clear()
    activity_counters_table.data.clear()
    for offset, record in enumerate(RECORDS):
        await _send(agent, offset, record)
    await _settle()
    assert _per_minute() == _by_hand(ALL)


async def test_sensors_tally_the_probes_they_heard_once_each(agent: Any) -> None:
    heard = [
        [{**_probe(MAC, T0 + 5), "sensor": "hall"}, {**_probe(OTHER, T0 + 9), "sensor": "yard"}],
        [{**_probe(MAC, T0 + 70), "sensor": "yard"}, _probe(MAC, T0 + 3)],
        [{**_probe(OTHER, T0 + 40), "sensor": "hall"}],
    ]
    for offset in (0, 1, 0, 2, 1):
        await _send(agent, offset, heard[offset])
    await _settle()
    row = partition_counters(0)
    assert row is not None
    assert row["sensors"] == {"hall": [2, T0 + 40], "yard": [2, T0 + 70], "": [1, T0 + 3]}
    future = time.time() + 3 * 86_400
    await _send(agent, 3, [{**_probe(MAC, future), "sensor": "hall"}])
    await _settle()
    assert partition_counters(0)["sensors"]["hall"] == [2, T0 + 40], (  # type: ignore[index]
        "a probe history leaves out (far ahead of the clock) is not tallied either"
    )


async def test_a_probe_forwarded_twice_counts_once(agent: Any) -> None:
    for offset, source in enumerate([b"pcap:3:100", b"pcap:3:100", b"pcap:3:101"]):
        probe = [_probe(MAC, T0 + 10 * offset)]
        await _send(agent, offset, probe, headers={SOURCE_HEADER: source})
    await _settle()
    assert _per_minute() == {T0: (2, 1, 1)}


async def test_a_probe_far_ahead_of_the_clock_stays_out_of_history(agent: Any) -> None:
    future = time.time() + 3 * 86_400
    await _send(agent, 0, [_probe(MAC, T0 + 1), _probe(MAC, future), _probe(OTHER, future)])
    await _settle()
    assert device_row(MAC)["probe_count"] == 2  # type: ignore[index]
    assert _minutes(MAC) == {T0: (1, -50, -50)}
    assert device_activity_row(None, OTHER) is None
    assert _per_minute() == {T0: (1, 1, 1)}
    assert counters.counts[history.AHEAD_OF_CLOCK] == 2


async def test_a_probe_that_fails_to_fold_is_left_out_of_history_too(
    agent: Any, dead: AsyncMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fold = probes_agent.fold_probe

    def failing_on_minus_99(state: Any, probe: Any, **kwargs: Any) -> Any:
        if probe.rssi_dbm == -99:
            raise RuntimeError("a bug no check foresaw")
        return real_fold(state, probe, **kwargs)

    monkeypatch.setattr(probes_agent, "fold_probe", failing_on_minus_99)
    await _send(agent, 0, [_probe(MAC, T0 + 1), _probe(OTHER, T0 + 2)])
    await _send(agent, 1, [_probe(MAC, T0 + 61, -99), _probe(MAC, T0 + 62, -30)])
    await _settle()
    assert device_row(MAC)["probe_count"] == 2  # type: ignore[index]
    assert _minutes(MAC) == {T0: (1, -50, -50), T0 + 60: (1, -30, -30)}
    assert _per_minute() == {T0: (2, 2, 2), T0 + 60: (1, 1, 0)}


async def test_a_history_fold_that_fails_costs_only_its_probe(
    agent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fold = history.fold

    def failing_on_minus_99(row: Any, ts: float, rssi: int | None) -> Any:
        if rssi == -99:
            raise RuntimeError("a bug no check foresaw")
        return real_fold(row, ts, rssi)

    monkeypatch.setattr(history, "fold", failing_on_minus_99)
    await _send(agent, 0, [_probe(MAC, T0 + 1), _probe(OTHER, T0 + 2)])
    await _send(agent, 1, [_probe(MAC, T0 + 61, -30), _probe(MAC, T0 + 62, -99)])
    await _send(agent, 2, [_probe(MAC, T0 + 63, -20)])
    await _settle()
    assert _minutes(MAC) == {T0: (1, -50, -50), T0 + 60: (2, -30, -20)}
    assert _per_minute() == {T0: (2, 2, 2), T0 + 60: (2, 1, 0)}
    assert counters.counts[history.FOLD_FAILED] == 1
    assert device_row(MAC)["probe_count"] == 4  # type: ignore[index]


async def test_history_off_folds_devices_alone(agent: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        probes_agent, "settings", probes_agent.settings.model_copy(update={"history": False})
    )
    await _send(agent, 0, RECORDS[0])
    await _settle()
    assert device_row(MAC)["probe_count"] == 2  # type: ignore[index]
    assert device_activity_row(None, MAC) is None and partition_counters(0) is None
