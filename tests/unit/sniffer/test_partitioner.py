"""The sniffer's partitioner against aiokafka's (the worker's), over many keys."""

from __future__ import annotations

from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from sniffer.partitioner import murmur2, partition_for


@given(st.binary(max_size=64))
def test_murmur2_is_kafkas(key: bytes) -> None:
    assert murmur2(key) == aiokafka_murmur2(key) & 0xFFFFFFFF


@given(st.binary(min_size=1, max_size=32), st.integers(min_value=1, max_value=10_000))
def test_partition_is_the_default_partitioners(key: bytes, partitions: int) -> None:
    assert partition_for(key, partitions) == (aiokafka_murmur2(key) & 0x7FFFFFFF) % partitions


def test_a_known_mac() -> None:
    """The hash aiokafka gives this key, pinned so a change in either side shows."""
    assert partition_for(b"aa:bb:cc:dd:ee:ff", 8) == (1136925463 & 0x7FFFFFFF) % 8
