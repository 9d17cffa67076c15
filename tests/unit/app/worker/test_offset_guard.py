"""The offset guard: a record skipped on its way to the fold is reported, once, with its range."""

from __future__ import annotations

from faust.types import TP

from app.worker.offset_guard import OffsetGuard

HERE = TP("probes", 3)


def guard() -> tuple[OffsetGuard, list[tuple[TP, int, int]]]:
    skips: list[tuple[TP, int, int]] = []
    return OffsetGuard(
        on_skip=lambda tp, expected, offset: skips.append((tp, expected, offset))
    ), skips


def feed(offsets_guard: OffsetGuard, offsets: list[int], tp: TP = HERE) -> None:
    for offset in offsets:
        offsets_guard.admit(tp.topic, tp.partition, offset)


def test_records_in_order_report_nothing() -> None:
    watched, skips = guard()
    feed(watched, list(range(40, 60)))
    assert skips == []


def test_a_record_skipped_mid_stream_is_reported_once_with_its_range() -> None:
    watched, skips = guard()
    feed(watched, [40, 41, 44, 45, 46])
    assert skips == [(HERE, 42, 44)]


def test_records_delivered_again_are_not_skips() -> None:
    """After a seek or a rebalance older records come again; the rows' offsets skip them."""
    watched, skips = guard()
    feed(watched, [10, 11, 12, 10, 11, 12, 13])
    assert skips == []
    feed(watched, [15])
    assert skips == [(HERE, 14, 15)]


def test_a_partition_kept_through_a_rebalance_is_still_watched() -> None:
    watched, skips = guard()
    other = TP("probes", 4)
    feed(watched, [5, 6])
    feed(watched, [100], tp=other)
    watched.assigned({HERE})
    feed(watched, [9], tp=HERE)
    feed(watched, [300], tp=other)
    assert skips == [(HERE, 7, 9)], "a partition that left and came back starts afresh"
