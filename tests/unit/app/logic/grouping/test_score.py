"""Scores of groups against labels (`app.logic.grouping.score`), against hand counts."""

from __future__ import annotations

import pytest

from app.logic.grouping.score import per_device, score

LABELS = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B"}


def test_b_cubed_and_pairs_by_hand() -> None:
    # {a1, a2} {a3, b1} {b2}
    s = score({"a1": "g1", "a2": "g1", "a3": "g2", "b1": "g2", "b2": "g3"}, LABELS)
    # precision per MAC: a1 1, a2 1, a3 1/2, b1 1/2, b2 1
    # recall per MAC: a1 2/3, a2 2/3, a3 1/3, b1 1/2, b2 1/2
    assert s.bcubed_precision == pytest.approx((1 + 1 + 0.5 + 0.5 + 1) / 5)
    assert s.bcubed_recall == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 0.5 + 0.5) / 5)
    # pairs put together: (a1, a2) right, (a3, b1) wrong; pairs of one device: 3 + 1
    assert s.pair_precision == pytest.approx(1 / 2)
    assert s.pair_recall == pytest.approx(1 / 4)
    assert (s.macs, s.devices, s.groups, s.estimated_devices) == (5, 2, 3, 3)
    assert s.count_error == pytest.approx(0.5)


def test_every_mac_alone_is_precise_and_one_group_for_all_recalls_all() -> None:
    alone = score({m: m for m in LABELS}, LABELS)
    assert (alone.bcubed_precision, alone.pair_precision) == (1.0, 1.0)
    assert alone.bcubed_recall == pytest.approx((1 / 3 * 3 + 1 / 2 * 2) / 5)
    assert alone.pair_recall == 0.0
    together = score(dict.fromkeys(LABELS, "g"), LABELS)
    assert (together.bcubed_recall, together.pair_recall) == (1.0, 1.0)
    assert together.bcubed_precision == pytest.approx((3 / 5 * 3 + 2 / 5 * 2) / 5)
    assert together.count_error == pytest.approx(-0.5)


def test_unlabelled_macs_are_left_out_and_a_missing_group_is_a_group_of_its_own() -> None:
    s = score({"a1": "g", "a2": "g", "x": "g"}, {"a1": "A", "a2": "A", "a3": "A"})
    assert s.macs == 3 and s.groups == 2
    assert s.bcubed_precision == 1.0


def test_groups_begun_in_doubt_are_not_counted_as_devices() -> None:
    s = score({"a1": "g1", "a2": "g1", "a3": "a3", "b1": "b1", "b2": "b1"}, LABELS, {"a3"})
    assert (s.groups, s.doubtful_groups, s.estimated_devices) == (3, 1, 2)
    assert s.count_error == 0.0


def test_per_device_splits_and_merges() -> None:
    figures = per_device({"a1": "g1", "a2": "g1", "a3": "g2", "b1": "g2", "b2": "g3"}, LABELS)
    a, b = figures
    assert (a.device, a.macs, a.groups, a.largest_share, a.merged_with) == (
        "A",
        3,
        2,
        2 / 3,
        {"B": 1},
    )
    assert (b.device, b.macs, b.groups, b.largest_share, b.merged_with) == (
        "B",
        2,
        2,
        1 / 2,
        {"A": 1},
    )
