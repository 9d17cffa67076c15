"""The index keeps the partition of each device and name, so a revoked partition's devices leave
at once (`DeviceIndex.remove_partition`), checked against a plain re-computation."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.logic.listing import DeviceIndex, parse_query
from app.models import DeviceState
from tests.unit.app.logic.test_listing import (
    APPLE,
    GOOGLE,
    OPERATIONS,
    QUERIES,
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
