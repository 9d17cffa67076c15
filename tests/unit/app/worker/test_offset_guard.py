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


def test_a_partition_new_here_is_due_where_it_was_sought() -> None:
    """The first record after the seek is the one at the sought offset: one past it means
    faust dropped the first ones, which the guard would not know without the seek."""
    watched, skips = guard()
    watched.sought({HERE: 40})
    assert watched.gap_before(HERE.topic, HERE.partition, 40) is None
    assert watched.gap_before(HERE.topic, HERE.partition, 43) == 40
    feed(watched, [43])
    assert skips == [(HERE, 40, 43)]


def test_a_partition_folded_here_goes_on_from_its_last_record_whatever_the_seek() -> None:
    """Sought back to its commit (behind what was folded): what comes again is a no-op, and
    the records past the last one folded are still due."""
    watched, skips = guard()
    feed(watched, [40, 41, 42])
    watched.sought({HERE: 30})
    assert watched.next_due(HERE.topic, HERE.partition) == 43
    feed(watched, list(range(30, 44)))
    assert skips == []


def test_gap_before_reports_without_counting() -> None:
    watched, skips = guard()
    feed(watched, [5])
    assert watched.gap_before(HERE.topic, HERE.partition, 6) is None
    assert watched.gap_before(HERE.topic, HERE.partition, 5) is None
    assert watched.gap_before(HERE.topic, HERE.partition, 9) == 6
    assert skips == []
    assert watched.gap_before("other", 0, 9) is None, "nothing due where nothing was seen"
