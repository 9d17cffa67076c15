"""The index keeps the partition of each device and name, so a revoked partition's devices leave
(`DeviceIndex.remove_partition`, or step by step: `removing_partition`), checked against a
plain re-computation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.logic.listing import DeviceIndex, parse_query
from app.logic.listing import index as listing_index
from app.logic.listing import order as listing_order
from app.models import DeviceState
from tests.unit.app.logic.test_listing import (
    APPLE,
    GOOGLE,
    LOCAL,
    OPERATIONS,
    QUERIES,
    ROWS,
    T0,
    everything,
    expected,
    listed,
    row,
    small_leaves,
)

PARTITIONS = 3


def partition_of(mac: str) -> int:
    """A stand-in for murmur2: any fixed function of the MAC will do."""
    return int(mac[-2:], 16) % PARTITIONS


def test_a_partition_leaves_with_its_devices_and_names_and_nothing_else() -> None:
    index = DeviceIndex()
    index.upsert(APPLE.format(1), row(T0 + 3, ssids=("home",)), partition=1)
    index.upsert(APPLE.format(2), row(T0 + 2, ssids=("home",)), partition=2)
    index.upsert(GOOGLE.format(3), row(T0 + 1), partition=1)
    index.set_name(APPLE.format(1), "Alice phone", partition=1)
    index.set_name(GOOGLE.format(9), "never seen", partition=1)
    index.set_name(APPLE.format(2), "Bob phone", partition=2)
    assert index.partitions() == {1, 2}

    assert index.remove_partition(1) == 2
    assert index.remove_partition(1) == 0, "twice is harmless"
    assert listed(index) == [APPLE.format(2)]
    assert listed(index, ssid="home") == [APPLE.format(2)]
    assert listed(index, name="phone") == [APPLE.format(2)]
    assert listed(index, name="never") == []
    assert listed(index, vendor="google") == []
    assert len(index) == 1 and index.partitions() == {2}
    assert index.query(parse_query({"randomized": "false"})).count == 1

    index.upsert(GOOGLE.format(3), row(T0 + 9), partition=1)  # back, in a reused slot
    assert listed(index) == [GOOGLE.format(3), APPLE.format(2)]
    assert listed(index, ssid="home") == [APPLE.format(2)]


def test_a_device_moved_to_another_partition_leaves_with_that_one() -> None:
    index = DeviceIndex()
    index.upsert(APPLE.format(1), row(T0), partition=0)
    index.upsert(APPLE.format(1), row(T0 + 1), partition=2)
    assert index.remove_partition(0) == 0
    assert listed(index) == [APPLE.format(1)]
    assert index.remove_partition(2) == 1 and listed(index) == []


@settings(max_examples=200, deadline=None)
@given(OPERATIONS, st.lists(QUERIES, min_size=1, max_size=3), st.sets(st.integers(0, 2)))
def test_removing_partitions_leaves_what_a_plain_computation_keeps(
    operations: list[Any], queries: list[dict[str, str]], revoked: set[int]
) -> None:
    with small_leaves():
        index = DeviceIndex()
        rows: dict[str, DeviceState] = {}
        names: dict[str, str] = {}
        for kind, mac, value in operations:
            partition = partition_of(mac)
            if kind == "upsert":
                index.upsert(mac, value, partition)
                rows[mac] = value
            elif kind == "remove":
                index.remove(mac)
                rows.pop(mac, None)
                names.pop(mac, None)
            else:
                index.set_name(mac, value, partition)
                if value is None:
                    names.pop(mac, None)
                else:
                    names[mac] = value
        for params in queries:
            index.query(parse_query(params))  # orders read (and settled) before the removal
        removed = sum(index.remove_partition(partition) for partition in revoked)
        kept_rows = {mac: r for mac, r in rows.items() if partition_of(mac) not in revoked}
        kept_names = {mac: n for mac, n in names.items() if partition_of(mac) not in revoked}
        assert removed == len(rows) - len(kept_rows)
        assert index.partitions() == {partition_of(mac) for mac in kept_rows.keys() | kept_names}
        for params in queries:
            want = expected(kept_rows, kept_names, params)
            assert everything(index, parse_query(params)) == (want, len(want)), params


@contextmanager
def small_steps() -> Iterator[None]:
    """A removal's steps of 2 slots scanned or forgotten and 1 leaf filtered: many steps."""
    with small_leaves():
        before = listing_index._SCAN_STEP, listing_index._FORGET_STEP, listing_order.LEAVES_A_STEP
        listing_index._SCAN_STEP = listing_index._FORGET_STEP = 2
        listing_order.LEAVES_A_STEP = 1
        try:
            yield
        finally:
            (
                listing_index._SCAN_STEP,
                listing_index._FORGET_STEP,
                listing_order.LEAVES_A_STEP,
            ) = before


#: Two devices a partition, so that what comes between a removal's steps often touches one.
FEW_MACS = st.sampled_from(
    [APPLE.format(n) for n in range(3)] + [LOCAL.format(n) for n in range(3)]
)
FEW_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("upsert"), FEW_MACS, ROWS),
        st.tuples(st.just("upsert"), FEW_MACS, ROWS),
        st.tuples(st.just("remove"), FEW_MACS, st.none()),
        st.tuples(st.just("name"), FEW_MACS, st.sampled_from([None, "Alice", "alice's phone"])),
    ),
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(
    FEW_OPERATIONS,
    st.lists(QUERIES, min_size=1, max_size=3),
    st.integers(0, 2),
    st.lists(st.tuples(st.integers(0, 6), FEW_OPERATIONS.map(lambda ops: ops[:2])), max_size=12),
)
def test_a_removal_in_steps_with_changes_between_leaves_what_a_plain_computation_keeps(
    operations: list[Any],
    queries: list[dict[str, str]],
    revoked: int,
    between: list[tuple[int, list[Any]]],
) -> None:
    """Rows, names and removals of any partition (the leaving one too) come between the
    steps: the devices of the partition when the removal began go, nothing else does."""
    with small_steps():
        index = DeviceIndex()
        rows: dict[str, DeviceState] = {}
        names: dict[str, str] = {}
        apply_partitioned(index, rows, names, operations)
        for params in queries:
            index.query(parse_query(params))  # orders read (and settled) before the removal
        steps = index.removing_partition(revoked)
        leaving = [mac for mac in rows if partition_of(mac) == revoked]
        assert next(steps) == len(leaving)
        rows = {mac: r for mac, r in rows.items() if partition_of(mac) != revoked}
        names = {mac: n for mac, n in names.items() if partition_of(mac) != revoked}
        assert len(index) == len(rows)
        assert index.partitions() == {partition_of(mac) for mac in rows.keys() | names}
        for skip, changes in between:
            for _ in range(skip):
                next(steps, None)
            apply_partitioned(index, rows, names, changes)
            assert len(index) == len(rows)
            assert index.partitions() == {partition_of(mac) for mac in rows.keys() | names}
        assert [*steps][-1:] in ([], [len(leaving)])
        for params in queries:
            want = expected(rows, names, params)
            assert everything(index, parse_query(params)) == (want, len(want)), params
        assert index.remove_partition(revoked) == len(
            [mac for mac in rows if partition_of(mac) == revoked]
        ), "the devices of the partition filed meanwhile stayed, and go now"


def test_a_removal_takes_many_short_steps_and_frees_the_slots_for_reuse() -> None:
    def macs(prefix: str, count: int) -> list[str]:
        return [f"{prefix}:{n >> 8:02x}:{n & 255:02x}" for n in range(count)]

    index = DeviceIndex()
    index.upsert_many(((mac, row(T0 + n)) for n, mac in enumerate(macs("f0:18:98:00", 5000))), 1)
    index.upsert_many(((mac, row(T0 + n)) for n, mac in enumerate(macs("00:1a:11:00", 400))), 2)
    steps = list(index.removing_partition(1))
    assert len(steps) >= 5000 // listing_index._FORGET_STEP and set(steps) == {5000}
    assert len(index) == 400 and index.partitions() == {2}
    columns = len(index._mac)
    index.upsert_many(((mac, row(T0 + n)) for n, mac in enumerate(macs("da:00:00:00", 5000))), 1)
    assert len(index._mac) == columns, "the removed devices' slots are reused"
    assert index.query(parse_query({"randomized": "true"})).count == 5000
    assert listed(index, vendor="apple") == []


def apply_partitioned(
    index: DeviceIndex, rows: dict[str, DeviceState], names: dict[str, str], operations: list[Any]
) -> None:
    for kind, mac, value in operations:
        partition = partition_of(mac)
        if kind == "upsert":
            index.upsert(mac, value, partition)
            rows[mac] = value
        elif kind == "remove":
            index.remove(mac)
            rows.pop(mac, None)
            names.pop(mac, None)
        else:
            index.set_name(mac, value, partition)
            if value is None:
                names.pop(mac, None)
            else:
                names[mac] = value


def test_a_device_filed_anew_while_its_old_slot_leaves_can_be_listed_and_removed() -> None:
    """Both slots of the device sit at one position for a while; a leaf bound between them
    must not hide the new one (found by hypothesis in CI)."""
    a, b, c, d = APPLE.format(0), APPLE.format(1), LOCAL.format(0), LOCAL.format(1)
    with small_steps():
        index = DeviceIndex()
        for mac in (a, b, c):
            index.upsert(mac, row(T0), partition_of(mac))
        index.remove(a)
        index.upsert(d, row(T0), partition_of(d))  # takes the slot `a` left
        index.upsert(a, row(T0), partition_of(a))
        index.query(parse_query({"sort": "last_seen"}))
        steps = index.removing_partition(partition_of(a))
        assert next(steps) == 2  # a and c leave
        index.remove(b)
        index.upsert(a, row(T0), partition_of(a))  # filed anew, in the slot `b` left
        assert len(index) == 2
        index.remove(a)
        assert [*steps][-1:] == [2]
        assert everything(index, parse_query({"sort": "last_seen"})) == ([d], 1)
