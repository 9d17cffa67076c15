"""The grouping agents with faust's `test_context`: shards, assignments and groups, written
behind; bad records dead-lettered, the stream going on; records delivered again changing nothing.

As in test_probes, the flush's produce step is a recorder that says every record was
acknowledged, so what the flushes store, derive and acknowledge is real.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import AsyncMock

import orjson
import pytest
from faust import App

from app.agents import groups
from app.agents.groups import fold_group_assignments, fold_group_members, fold_group_probes
from app.logic.grouping import advance
from app.logic.grouping.online import fold_records, new_row
from app.logic.grouping.records import Link
from app.logic.grouping.wire import (
    AssignmentRecord,
    Join,
    MemberUpdate,
    decode_group_probes,
    encode_assignments,
    encode_group_probes,
    encode_members,
)
from app.logic.stats import fold_probe
from app.tables.devices import devices_table
from app.tables.groups import (
    group_counters_table,
    group_shards_table,
    groups_table,
    partition_group_counters,
)
from app.tables.staged import write_behind
from app.topics import dead_letters_topic, group_assignments_topic
from app.worker.counters import counters
from tests.unit.app.agents.test_probes import Flushed, agent

__all__ = ["agent"]
from tests.unit.app.logic.grouping.streams import FP, T0, Phone, alike_crowd, probe

_delivered: list[Any] = []


@pytest.fixture()
def flushed(monkeypatch: pytest.MonkeyPatch) -> Flushed:
    from app.worker.write_behind import _Generation

    recorder = Flushed()
    monkeypatch.setattr(write_behind, "_produce", recorder.produce)
    monkeypatch.setattr(write_behind, "interval_s", 0.01)
    write_behind._generation = _Generation()
    return recorder


@pytest.fixture()
def dead(monkeypatch: pytest.MonkeyPatch) -> AsyncMock:
    sent = AsyncMock()
    monkeypatch.setattr(dead_letters_topic, "send", sent)
    return sent


@pytest.fixture(autouse=True)
def clean() -> None:
    for table in (devices_table, group_shards_table, groups_table, group_counters_table):
        table.data.clear()
    counters.counts.clear()
    _delivered.clear()
    for held in (
        groups._live,
        groups._agendas,
        groups._kept_agendas,
        groups._unsealed,
        groups._heard_at,
        groups._sources,
    ):
        held.clear()


async def _put(agent: Any, value: bytes, offset: int, partition: int, key: bytes) -> None:
    agent.sent_offset = offset
    _delivered.append(await agent.put(value=value, key=key, partition=partition, wait=False))


async def _settle() -> None:
    for _ in range(1000):
        if all(event.message.acked for event in _delivered):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the agent left events unprocessed")


def _reasons(dead: AsyncMock) -> list[str]:
    return [
        dict(call.kwargs["headers"])["probewatch.dlq.reason"].decode()
        for call in dead.await_args_list
    ]


def _mac_of_partition(partition: int, start: int = 0) -> str:
    for n in range(start, start + 10_000):
        mac = f"da:00:00:00:{n // 256:02x}:{n % 256:02x}"
        if groups._partition(mac) == partition:
            return mac
    raise AssertionError("no MAC found")


# --- group-probes ---------------------------------------------------------------------------


@pytest.fixture()
async def shards(app: App, flushed: Flushed, dead: AsyncMock) -> AsyncIterator[Any]:
    async with fold_group_probes.test_context() as agent:
        yield agent
    await write_behind.stop()


async def test_a_shard_folds_each_probes_record_once_and_decides_when_all_fell_silent(
    shards: Any, flushed: Flushed, dead: AsyncMock
) -> None:
    key = f"fp:{FP}"
    home = groups._partition(key)
    phone = Phone(random.Random(1))
    first, second = phone.scan(T0), phone.scan(T0 + 20)
    value = encode_group_probes([(3, 10, T0, first), (5, 4, T0 + 20, second)])
    await _put(shards, value, 0, home, key.encode())
    await _put(shards, value, 1, home, key.encode())  # the same re-key, sent again
    await _put(shards, b"not json", 2, home, key.encode())
    await _put(shards, encode_group_probes([(3, 9, T0, first[:1])]), 3, home, key.encode())
    await _settle()
    assert counters.counts["group-probes.accepted"] == len(first) + len(second)
    assert counters.counts["group-probes.duplicates_skipped"] == len(first) + len(second) + 1
    assert _reasons(dead) == ["bad_value"]
    row = group_shards_table.data.get(key.encode())
    assert row is not None and row["sources"] == {"probes:3": 10, "probes:5": 4}
    assert not _messages(flushed, group_assignments_topic), "the other partitions may report"
    # Every probes partition silent: the timer moves the shard on and every MAC is decided.
    moved = groups.advance_quiet([home], 1e12)
    assert moved == 1
    await write_behind.flush()
    sent = [v for _, _, v in _messages(flushed, group_assignments_topic)]
    decided = {a["mac"]: a["group"] for batch in sent for a in batch}
    assert set(decided) == {p.mac for p in first + second}
    assert len(set(decided.values())) == 1, "one phone, one group"


async def test_a_flush_writes_each_shard_as_its_generation_left_it_while_the_fold_goes_on(
    shards: Any, flushed: Flushed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shard is encoded once per flush, not per record; a record folded while the flush is
    under way (its derivers let the fold run) must not reach that flush's row, whose events
    it does not acknowledge."""
    key = f"fp:{FP}"
    home = groups._partition(key)
    phone = Phone(random.Random(2))
    first, second = phone.scan(T0), phone.scan(T0 + 20)
    meanwhile = asyncio.Event()

    async def fold_meanwhile(*args: Any) -> list[Any]:
        if not meanwhile.is_set():
            meanwhile.set()
            await _put(shards, encode_group_probes([(3, 11, T0 + 20, second)]), 1, home, b"k")
            for _ in range(500):
                if counters.counts.get("group-probes.accepted", 0) > len(first):
                    break
                await asyncio.sleep(0.01)
        return []

    monkeypatch.setattr(write_behind, "_derivers", [fold_meanwhile, *write_behind._derivers])
    await _put(shards, encode_group_probes([(3, 10, T0, first)]), 0, home, key.encode())
    await _settle()
    assert counters.counts["group-probes.accepted"] == len(first) + len(second)
    rows = [row for name, _, k, row in flushed.rows if name == group_shards_table.name]
    sources = [row["sources"] for row in rows if row is not None and "sources" in row]
    assert sources[:2] == [{"probes:3": 10}, {"probes:3": 11}], sources
    first_row, second_row = (r for r in rows if r is not None and "sources" in r)
    assert {m for m in first_row["state"]["pending"]} == {p.mac for p in first}
    assert {m for m in second_row["state"]["pending"]} >= {p.mac for p in second}


async def test_a_jump_of_the_watermark_is_decided_in_steps_and_every_flush_holds_it_whole(
    shards: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A watermark that jumps leaves a shard many scans to decide: the fold hands the loop over
    between steps, and a flush that runs meanwhile (here at every other hand-over) holds the
    shard as those steps left it, with exactly the assignments they decided; none is decided
    twice, and the decisions are those of one `advance`."""
    key = f"fp:{FP}"
    home = groups._partition(key)
    crowd = alike_crowd(phones=6, scans=12, seed=4)
    newest = max(p.ts for p in crowd)
    flushes: list[tuple[list[Any], list[Any]]] = []

    async def produce(flushing: Any) -> dict[tuple[str, int], int]:
        shard_rows = [
            orjson.loads(v)
            for (name, _), encoded in flushing.encoded.items()
            for k, v in encoded.items()
            if name == group_shards_table.name and k == key.encode() and v is not None
        ]
        sent = [
            a
            for topic, _, v in flushing.messages
            if topic == group_assignments_topic.get_topic_name()
            for a in orjson.loads(v)
        ]
        flushes.append((shard_rows, sent))
        return {slot: 1 for slot in flushing.encoded}

    class FlushingPacer:
        handed_over = 0

        async def pace(self) -> None:
            self.handed_over += 1
            if self.handed_over % 2 == 0:
                await write_behind.flush()

    pacer = FlushingPacer()
    monkeypatch.setattr(write_behind, "_produce", produce)
    monkeypatch.setattr(groups, "_pacer", pacer)
    others = [(source, 1, T0 - 10.0, []) for source in range(1, 8)]
    first = encode_group_probes([(0, 1, newest, crowd), *others])
    await _put(shards, first, 0, home, key.encode())
    jump = [(source, 2, newest + 1000.0, []) for source in range(1, 8)]
    await _put(shards, encode_group_probes(jump), 1, home, key.encode())
    await _settle()
    await write_behind.flush()

    expected = new_row(key)
    fold_records(expected, [(0, 1, crowd)])
    at_once = advance(expected.state, newest - groups.LATENESS_S)
    assert pacer.handed_over > 20
    sent_so_far: list[Any] = []
    partial = 0
    for shard_rows, sent in flushes:
        sent_so_far += sent
        decided = {a["mac"] for a in sent_so_far}
        for row in shard_rows:
            in_row = {m for m, mac in row["state"]["macs"].items() if mac["group"] is not None}
            assert in_row == decided
            partial += 0 < len(in_row) < len({a.mac for a in at_once})
    assert len({a["mac"] for a in sent_so_far}) == len(sent_so_far), "each MAC decided once"
    assert {a["mac"]: a["group"] for a in sent_so_far} == {a.mac: a.group for a in at_once}
    assert partial >= 2, "flushes ran between the steps"


async def test_the_timer_leaves_a_partition_alone_while_the_fold_moves_it_in_steps(
    shards: Any, flushed: Flushed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paused between two steps, the fold holds the shard's partition: the timer, which would
    otherwise move every waiting shard of it to its due time, leaves it be, so nothing is
    decided twice."""
    key = f"fp:{FP}"
    home = groups._partition(key)
    crowd = alike_crowd(phones=4, scans=6, seed=6)
    newest = max(p.ts for p in crowd)
    paused, resume = asyncio.Event(), asyncio.Event()

    class PausingPacer:
        handed_over = 0

        async def pace(self) -> None:
            self.handed_over += 1
            if self.handed_over == 3:
                paused.set()
                await resume.wait()

    monkeypatch.setattr(groups, "_pacer", PausingPacer())
    others = [(source, 1, T0 - 10.0, []) for source in range(1, 8)]
    await _put(shards, encode_group_probes([(0, 1, newest, crowd), *others]), 0, home, b"k")
    jump = [(source, 2, newest + 1000.0, []) for source in range(1, 8)]
    await _put(shards, encode_group_probes(jump), 1, home, key.encode())
    await asyncio.wait_for(paused.wait(), 5)
    assert groups.advance_quiet([home], 1e12) == 0
    resume.set()
    await _settle()
    await write_behind.flush()
    sent = [a for _, _, batch in _messages(flushed, group_assignments_topic) for a in batch]
    expected = new_row(key)
    fold_records(expected, [(0, 1, crowd)])
    at_once = advance(expected.state, newest - groups.LATENESS_S)
    assert len({a["mac"] for a in sent}) == len(sent), "each MAC decided once"
    assert {a["mac"]: a["group"] for a in sent} == {a.mac: a.group for a in at_once}


async def test_a_probe_of_another_partition_is_dead_lettered(shards: Any, dead: AsyncMock) -> None:
    key = f"fp:{FP}"
    elsewhere = (groups._partition(key) + 1) % 8
    value = encode_group_probes([(0, 1, T0, [probe("da:00:00:00:00:01", T0)])])
    await _put(shards, value, 0, elsewhere, key.encode())
    await _settle()
    assert _reasons(dead) == ["misplaced"]
    assert "group-probes.accepted" not in counters.counts


def _messages(flushed: Flushed, topic: Any) -> list[tuple[str, bytes, Any]]:
    name = topic.get_topic_name()
    return [(t, k, v) for t, k, v in flushed.messages if t == name]


# --- group-assignments ----------------------------------------------------------------------


@pytest.fixture()
async def assignments(app: App, flushed: Flushed, dead: AsyncMock) -> AsyncIterator[Any]:
    async with fold_group_assignments.test_context() as agent:
        yield agent
    await write_behind.stop()


def _assignment(mac: str, group: str, attempt: int = 0) -> AssignmentRecord:
    return AssignmentRecord(
        mac=mac, group=group, decided_ts=T0 + 2, first_ts=T0, last_ts=T0 + 1,
        shard=f"fp:{FP}", attempt=attempt,
    )  # fmt: skip


async def test_a_device_keeps_its_first_group_and_one_not_seen_yet_is_tried_again(
    assignments: Any, flushed: Flushed, dead: AsyncMock
) -> None:
    mac = _mac_of_partition(2)
    ghost = _mac_of_partition(2, start=5000)
    devices_table.data[mac.encode()] = fold_probe(None, probe(mac, T0), max_ssids=10)
    first = encode_assignments([_assignment(mac, mac), _assignment(ghost, mac)])
    await _put(assignments, first, 0, 2, mac.encode())
    await _put(assignments, encode_assignments([_assignment(mac, ghost)]), 1, 2, mac.encode())
    await _put(assignments, b'[{"mac": 1}]', 2, 2, mac.encode())
    await _put(assignments, encode_assignments([_assignment(ghost, mac, 5)]), 3, 2, b"x")
    await _settle()
    assert devices_table.data[mac.encode()]["group"] == mac
    assert counters.counts["group-assignments.taken"] == 1
    assert counters.counts["group-assignments.first_kept"] == 1
    assert counters.counts["group-assignments.retried"] == 1
    assert counters.counts["group-assignments.no_device"] == 1
    assert _reasons(dead) == ["bad_value"]
    again = [v for _, _, v in _messages(flushed, group_assignments_topic)]
    assert [(a["mac"], a["attempt"]) for batch in again for a in batch] == [(ghost, 1)]


# --- group-members --------------------------------------------------------------------------


@pytest.fixture()
async def members(app: App, flushed: Flushed, dead: AsyncMock) -> AsyncIterator[Any]:
    async with fold_group_members.test_context() as agent:
        yield agent
    await write_behind.stop()


async def test_a_group_gathers_its_members_and_counts_itself_once(
    members: Any, dead: AsyncMock
) -> None:
    group = _mac_of_partition(4)
    other = _mac_of_partition(4, start=5000)
    minute = int(T0 // 60)
    link = Link("burst", "medium", FP, group, 0.04, None, 1.0, (), 0)
    updates = [
        MemberUpdate(group=group, mac=group, probes=3, first_ts=T0, last_ts=T0 + 1, offset=1,
                     minutes=[minute], join=Join(T0 + 2)),
        MemberUpdate(group=group, mac=other, probes=2, first_ts=T0 + 1, last_ts=T0 + 2,
                     offset=1, minutes=[minute], join=Join(T0 + 2, link)),
    ]  # fmt: skip
    await _put(members, encode_members(updates), 0, 4, group.encode())
    await _put(members, encode_members(updates), 0, 4, group.encode())  # delivered again
    await _put(members, b"[]", 1, 4, group.encode())
    await _settle()
    row = groups_table.data[group.encode()]
    assert sorted(row["members"]) == sorted([group, other])
    assert row["members"][other]["link"]["kind"] == "burst"
    assert counters.counts["group-members.applied"] == 2
    assert counters.counts["group-members.duplicates_skipped"] == 2, "both updates, again"
    assert _reasons(dead) == ["bad_value"]
    held = partition_group_counters(4)
    assert held is not None and held["offset"] == 0
    assert held["counters"] is not None
    assert [bucket[2] for bucket in held["counters"]["minutes"]] == [1], "one probable device"


# --- the probes fold's side -----------------------------------------------------------------


async def test_the_probes_fold_re_keys_what_it_counted_and_a_mac_without_fingerprint_is_alone(
    agent: Any, flushed: Flushed
) -> None:
    """`agent` is the probes fold (test_probes): a probe with a fingerprint goes to its shard's
    partition with its record; one without makes its device a group of its own, at once."""
    from app.tables.devices import device_row
    from app.topics import group_members_topic, group_probes_topic

    plain, marked = "f0:18:98:00:00:01", "da:00:00:00:00:09"
    for offset, value in enumerate(
        [probe(plain, T0, fp=None).as_json_dict(), probe(marked, T0 + 1).as_json_dict()]
    ):
        agent.sent_offset = offset
        await agent.put(value=orjson.dumps(value), key=value["mac"].encode(), wait=True)
    await write_behind.flush()
    assert device_row(plain)["group"] == plain and device_row(plain)["group_in_doubt"] is False
    assert device_row(marked).get("group") is None, "decided by its shard, later"
    rekeyed = [v for _, _, v in _messages(flushed, group_probes_topic)]
    carried = [(e[0], e[1], [p["mac"] for p in e[3]]) for v in rekeyed for e in v if e[3]]
    assert [mac for *_, macs in carried for mac in macs] == [marked]
    assert len(rekeyed) == 8, "every partition of group-probes hears how far probes got"
    joined = [u for _, _, v in _messages(flushed, group_members_topic) for u in v]
    assert [(u["group"], u["mac"], u["join"] is not None) for u in joined] == [(plain, plain, True)]


def test_member_updates_with_long_histories_go_in_records_the_producer_accepts() -> None:
    """2,000 updates that each carry a device's history pass 1,000,000 bytes packed; a flush
    that derived one such record would try to send it for ever."""
    from app.logic.grouping.wire import decode_members
    from app.logic.packing import MAX_RECORD_BYTES

    group = _mac_of_partition(3)
    minutes = list(range(29_000_000, 29_000_400))
    updates = [
        MemberUpdate(group=group, mac=f"da:00:00:01:{n // 256:02x}:{n % 256:02x}", minutes=minutes)
        for n in range(groups.PACK)
    ]
    messages = groups._packed("members", {3: updates}, lambda u: u.group, groups.encode_members)
    assert len(messages) > 1
    assert all(len(value or b"") <= MAX_RECORD_BYTES for _, _, value in messages)
    sent = [u for _, _, value in messages for u in decode_members(value or b"")]
    assert [u.mac for u in sent] == [u.mac for u in updates]
    assert {key for _, key, _ in messages} == {group.encode()}


async def test_a_flush_packed_over_several_records_tells_its_progress_only_in_the_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A shard's watermark must not pass probes still on their way: the newest capture time of
    a `probes` partition is true of the whole flush, so the records before the last tell none."""
    from app.worker.pacing import Pacer

    monkeypatch.setattr(groups, "PACK", 3)
    source = 5
    noted = [
        (source, offset, [probe(f"da:00:00:00:01:{offset:02x}", T0 + offset)])
        for offset in range(7)
    ]
    scratch = {groups._PROGRESS: {source: [T0 + 6, 6.0]}, groups._REKEY: noted}
    messages = await groups._rekey({}, scratch, Pacer())
    carrying = [
        decode_group_probes(value)
        for _, _, value in messages
        if any(entry[3] for entry in decode_group_probes(value))
    ]
    assert [[e[1] for e in value] for value in carrying] == [[0, 1, 2], [3, 4, 5], [6]]
    told = [[e[2] for e in value if e[0] == source] for value in carrying]
    assert told == [[0.0] * 3, [0.0] * 3, [T0 + 6]]
    every = [decode_group_probes(value) for _, _, value in messages]
    assert len(every) == len(carrying) + 7, "and every other partition of group-probes"
    assert all(e[2] == T0 + 6 for value in every for e in value if not e[3]), (
        "every partition of group-probes still hears how far the source got"
    )
