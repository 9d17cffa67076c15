"""Our parser against tshark on every public test capture, on synth output and on edge cases.

The rules for deliberate differences are in tests/unit/sniffer/tshark.py.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from pathlib import Path

import pytest

from sniffer.synth import SSID_POOL, write_pcap, write_synthetic_pcap
from tests.unit.sniffer import frames
from tests.unit.sniffer.pcaps import capture_files, pcaps_dir
from tests.unit.sniffer.tshark import TSHARK, Comparison, compare, tshark_probes

pytestmark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (apt tshark)")

_FILES = capture_files()


@functools.cache
def _compare_once(path: Path) -> Comparison:
    return compare(path)


def test_capture_directory_is_there() -> None:
    if not _FILES:
        pytest.skip(f"no test captures in {pcaps_dir()} (set PROBEWATCH_TEST_PCAPS)")
    assert len(_FILES) >= 2


@pytest.mark.parametrize("path", _FILES, ids=[p.name for p in _FILES])
def test_every_capture_matches_tshark(path: Path) -> None:
    result = _compare_once(path)
    assert result.mismatches == [], "\n".join(result.mismatches[:20])
    assert result.matched + len(result.deliberate) == result.tshark_probes


def test_the_big_capture_is_really_compared() -> None:
    """Guard against a comparison that passes because nothing was compared."""
    big = [p for p in _FILES if "position_1" in p.name]
    if not big:
        pytest.skip("probe-request-project position_1 capture not present")
    result = _compare_once(big[0])
    assert result.tshark_probes == 25445
    assert result.matched == 25445


def test_synth_output_matches_tshark(tmp_path: Path) -> None:
    path = tmp_path / "synth.pcap"
    stats = write_synthetic_pcap(path, probes=3000, devices=150, seed=7)
    result = compare(path)
    assert result.mismatches == [], "\n".join(result.mismatches[:20])
    assert result.matched == stats.probes == 3000
    ssids = {row.ssid for row in tshark_probes(path)}
    assert b"\xb2\xe2\xca\xd4" in ssids, "the non-UTF-8 SSID should appear in 3000 probes"
    assert ssids <= set(SSID_POOL) | {b""}


@pytest.fixture(scope="module")
def edge_case_mismatches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Compare all edge cases with one tshark run per link type (tshark starts slowly)."""
    groups: dict[int, list[str]] = defaultdict(list)
    for name, (linktype, _data) in frames.EDGE_CASES.items():
        groups[linktype].append(name)
    folder = tmp_path_factory.mktemp("edge")
    found: dict[str, list[str]] = {}
    for linktype, names in groups.items():
        path = folder / f"linktype_{linktype:#x}.pcap"
        records = [(1.7e9 + i, frames.EDGE_CASES[name][1]) for i, name in enumerate(names)]
        with path.open("wb") as out:
            write_pcap(out, linktype, records)
        result = compare(path)
        for number, name in enumerate(names, start=1):
            found[name] = [m for m in result.mismatches if m.startswith(f"frame {number}:")]
    return found


@pytest.mark.parametrize("name", sorted(frames.EDGE_CASES))
def test_edge_case_matches_tshark(edge_case_mismatches: dict[str, list[str]], name: str) -> None:
    assert edge_case_mismatches[name] == []
