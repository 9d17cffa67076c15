"""The grouper on the labelled captures (`python -m bench.eval_groups`): issue 14's targets.

One file is one physical device. The labels are checked against tshark first (the MACs of each
device as an independent dissector reads them), then the captures are made into one crowd as the
evaluation command makes it and scored, with its two baselines.
"""

from __future__ import annotations

import pytest

from app.logic.grouping.score import Scores
from bench.eval_groups import LABELS, TARGET_COUNT_ERROR, evaluate
from tests.pcaps import captures, pcaps_dir
from tests.tshark import require_tshark, tshark_probes


@pytest.fixture(scope="module")
def results() -> dict[str, Scores]:
    """Each method's scores on the labelled crowd, all devices starting together."""
    captures(*(d.file for d in LABELS))
    return evaluate(LABELS, pcaps_dir(), [0.0] * len(LABELS))[1]


def test_each_device_has_the_macs_tshark_finds() -> None:
    require_tshark()
    paths = captures(*(d.file for d in LABELS))
    made, _ = evaluate(LABELS, pcaps_dir(), [0.0] * len(LABELS))
    for device, path in zip(LABELS, paths, strict=True):
        probes = tshark_probes(path)
        if device.near_dbm is not None:
            near = device.near_dbm
            probes = [p for p in probes if p.signal is not None and p.signal > near]
        expected = {p.mac for p in probes}
        assert {m for m, d in made.labels.items() if d == device.name} == expected, device.name
    # tshark's counts, noted when the set was chosen: 1,347 MACs of 8 devices.
    assert len(made.labels) == 1347


def test_the_grouper_is_precise_first_and_recalls_half(results: dict[str, Scores]) -> None:
    mine = results["grouper"]
    assert mine.bcubed_precision >= 0.9
    assert mine.bcubed_recall >= 0.5
    assert mine.pair_precision >= 0.85
    # Far nearer the truth than counting MACs (1,347 "devices" for 8).
    assert mine.estimated_devices <= 2 * mine.devices


@pytest.mark.xfail(
    strict=True,
    reason="3 of the 8 devices send probes under 2-3 IE fingerprints (Oppo: 3, iPhone 12: 2), "
    "which the fingerprint-keyed grouper cannot join: 11 devices estimated for 8 (+38 %)",
)
def test_the_estimated_device_count_is_within_30_percent(results: dict[str, Scores]) -> None:
    assert abs(results["grouper"].count_error) <= TARGET_COUNT_ERROR


def test_the_baselines_score_as_they_must(results: dict[str, Scores]) -> None:
    alone = results["every MAC alone"]
    assert alone.bcubed_precision == 1.0 and alone.pair_precision == 1.0
    assert alone.bcubed_recall < 0.02
    assert alone.groups == 1347
    # Same model and OS, same elements: the iPhone 11s (and a few MACs of the iPhone 12) merge.
    fingerprint = results["by fingerprint"]
    assert fingerprint.bcubed_precision < 0.8
    assert fingerprint.bcubed_recall > 0.95
