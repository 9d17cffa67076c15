"""The offset guard: records folded in offset order with none missing, or read again."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import faust
from faust.types import TP
from intervaltree import IntervalTree

from app.worker.offset_guard import SEEK_AGAIN_AFTER_S, OffsetGuard

TOPIC = "probes"
PARTITION = 3
HERE = TP(TOPIC, PARTITION)


class FakeConsumer:
    """faust's consumer as the guard sees it: committed offsets, gaps, seeks, log starts."""

    def __init__(self, committed: int | None = None, earliest: int = 0) -> None:
        self._committed_offset: dict[TP, int | None] = defaultdict(lambda: None)
        if committed is not None:
            self._committed_offset[HERE] = committed
        self._gap: dict[TP, Any] = defaultdict(IntervalTree)
        self.earliest = earliest
        self.seeks: list[tuple[TP, int]] = []

    async def seek(self, partition: TP, offset: int) -> None:
        self.seeks.append((partition, offset))

    async def earliest_offsets(self, *partitions: TP) -> Mapping[TP, int]:
        return dict.fromkeys(partitions, self.earliest)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def guard_for(consumer: FakeConsumer, clock: Clock | None = None) -> tuple[OffsetGuard, list[Any]]:
    gaps: list[Any] = []
    guard = OffsetGuard(
        lambda: consumer,  # type: ignore[arg-type,return-value]
        on_gap=lambda tp, expected, offset: gaps.append((tp, expected, offset)),
        clock=clock or Clock(),
    )
    guard.assigned({HERE})
    return guard, gaps


async def admitted(guard: OffsetGuard, offsets: list[int]) -> list[int]:
    return [offset for offset in offsets if await guard.admit(TOPIC, PARTITION, offset)]


async def test_records_in_order_from_the_committed_offset_are_all_folded() -> None:
    consumer = FakeConsumer(committed=40)
    guard, gaps = guard_for(consumer)
    assert await admitted(guard, list(range(40, 60))) == list(range(40, 60))
    assert consumer.seeks == [] and gaps == []


async def test_a_partition_never_committed_starts_at_its_logs_start() -> None:
    """The case faust and aiokafka miss: no committed offset, the first record dropped."""
    consumer = FakeConsumer(committed=None, earliest=0)
    consumer._gap[HERE].addi(0, 1)  # faust took the jump for a compaction gap
    guard, gaps = guard_for(consumer)
    assert await admitted(guard, [1, 2, 3]) == []
    assert consumer.seeks == [(HERE, 0)], "one seek back, not one per stale record"
    assert gaps == [(HERE, 0, 1)]
    assert not consumer._gap[HERE], "faust must not count offset 0 as acknowledged"
    assert await admitted(guard, [0, 1, 2, 3, 4]) == [0, 1, 2, 3, 4]


async def test_a_committed_offset_of_zero_is_no_commit() -> None:
    consumer = FakeConsumer(committed=0, earliest=7)
    guard, _ = guard_for(consumer)
    assert await admitted(guard, [7, 8]) == [7, 8]
    assert consumer.seeks == []


async def test_a_record_skipped_mid_stream_is_read_again_before_those_behind_it() -> None:
    """faust's own commit would take offset 42 for acknowledged when 43 is (off by one)."""
    consumer = FakeConsumer(committed=40)
    guard, gaps = guard_for(consumer)
    assert await admitted(guard, [40, 41, 43, 44]) == [40, 41]
    assert consumer.seeks == [(HERE, 42)]
    assert await admitted(guard, [42, 43, 44, 45]) == [42, 43, 44, 45]
    assert gaps == [(HERE, 42, 43)]


async def test_records_delivered_again_are_passed_on_without_moving_the_guard() -> None:
    """After a seek or rebalance older records come again; the rows' offsets skip them."""
    consumer = FakeConsumer(committed=10)
    guard, _ = guard_for(consumer)
    assert await admitted(guard, [10, 11, 12, 10, 11, 12, 13]) == [10, 11, 12, 10, 11, 12, 13]
    assert consumer.seeks == []
    assert await admitted(guard, [15]) == []
    assert consumer.seeks == [(HERE, 14)]


async def test_a_seek_that_brings_nothing_is_made_again_after_a_while() -> None:
    consumer = FakeConsumer(committed=5)
    clock = Clock()
    guard, _ = guard_for(consumer, clock)
    assert await admitted(guard, [7]) == []
    clock.now += SEEK_AGAIN_AFTER_S / 2
    assert await admitted(guard, [8]) == []
    assert consumer.seeks == [(HERE, 5)]
    clock.now += SEEK_AGAIN_AFTER_S
    assert await admitted(guard, [9]) == []
    assert consumer.seeks == [(HERE, 5), (HERE, 5)]


async def test_records_deleted_by_retention_are_not_waited_for() -> None:
    consumer = FakeConsumer(committed=5)
    guard, _ = guard_for(consumer)
    consumer.earliest = 20
    assert await admitted(guard, [20, 21]) == [20, 21]
    assert consumer.seeks == []
    consumer.earliest = 30
    assert await admitted(guard, [32]) == []
    assert consumer.seeks == [(HERE, 30)]


async def test_a_rebalance_starts_every_partition_over_from_its_commit() -> None:
    consumer = FakeConsumer(committed=5)
    guard, _ = guard_for(consumer)
    assert await admitted(guard, [5, 6, 7]) == [5, 6, 7]
    consumer._committed_offset[HERE] = 100
    guard.revoked({TP(TOPIC, 0)})
    guard.assigned({HERE})
    assert await admitted(guard, [100, 101]) == [100, 101]
    assert consumer.seeks == []


def test_faust_consumer_still_has_what_the_guard_reads() -> None:
    """The guard reads two private maps of faust's consumer: fail loudly if they change."""
    consumer = faust.App("offset-guard-check", broker="kafka://localhost:9092").consumer
    assert consumer._committed_offset[HERE] is None
    assert isinstance(consumer._gap[HERE], IntervalTree)
    assert callable(consumer.seek) and callable(consumer.earliest_offsets)


async def test_partitions_faust_did_not_assign_are_not_guarded() -> None:
    """A fold run on its own (unit tests), or a partition given away: nothing to seek."""
    consumer = FakeConsumer(committed=5)
    unassigned = OffsetGuard(lambda: consumer)  # type: ignore[arg-type,return-value]
    assert await admitted(unassigned, [9, 3]) == [9, 3]
    guard, _ = guard_for(consumer)
    guard.revoked({HERE})
    assert await admitted(guard, [9, 3]) == [9, 3]
    assert consumer.seeks == []
