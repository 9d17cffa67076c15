"""Our parser against tshark (tests/tshark.py) on every public test capture, on synth output and
on edge cases, frame by frame.

tshark is the reference for which records are probe requests and what their source address,
SSID bytes, signal, frequency and sequence number are. Deliberate differences, each checked:

- radiotap Bad FCS flag set: tshark shows the frame, we count it malformed (its bytes are
  corrupt, so the MAC address may be wrong).
- Protected bit set on a probe request: tshark shows it without an SSID (body encrypted), we count
  it malformed (a probe request is never protected, and its elements cannot be read).
- tshark hit the end of the data (a "[Malformed Packet" exception, e.g. an element running past
  the end): we may count the frame malformed instead of producing a partial event.
- an SSID element longer than 32 bytes: tshark marks it "SSID length (N) greater than maximum
  (32)" (expert info, Malformed group) and still shows it; we count the frame malformed.
- Prism headers give only a channel number: tshark leaves wlan_radio.frequency empty, we convert
  the channel to its centre frequency.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from sniffer.capture import read_capture
from sniffer.event import ProbeEvent
from sniffer.parse import LINKTYPE_PRISM_HEADER, MalformedFrame, channel_to_mhz, parse_frame
from sniffer.synth import SSID_POOL, write_pcap, write_synthetic_pcap
from tests.pcaps import capture_files, pcaps_dir
from tests.tshark import TSHARK, tshark_probes
from tests.unit.sniffer import frames

pytestmark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (apt tshark)")

_FILES = capture_files()


@dataclass
class Comparison:
    frames: int
    tshark_probes: int
    matched: int
    deliberate: list[str]
    mismatches: list[str]


def ours(path: str | Path) -> tuple[list[tuple[int, ProbeEvent | MalformedFrame | None]], int]:
    """Our outcome for every record (1-based frame number), and the bytes skipped as damaged."""
    outcomes: list[tuple[int, ProbeEvent | MalformedFrame | None]] = []
    reader = read_capture(path)
    for number, (linktype, data, ts) in enumerate(reader, start=1):
        try:
            outcome: ProbeEvent | MalformedFrame | None = parse_frame(linktype, data, ts, "t")
        except MalformedFrame as exc:
            outcome = exc
        outcomes.append((number, outcome))
    return outcomes, reader.skipped_bytes


def _linktypes(path: str | Path) -> list[int]:
    return [linktype for linktype, _data, _ts in read_capture(path)]


def compare(path: str | Path) -> Comparison:
    """Match our parse of `path` against tshark's probe requests."""
    theirs = {row.number: row for row in tshark_probes(path)}
    mine, _damaged = ours(path)
    linktypes = _linktypes(path)
    deliberate: list[str] = []
    mismatches: list[str] = []
    matched = 0
    for number, outcome in mine:
        row = theirs.get(number)
        where = f"frame {number}"
        if row is None:
            if isinstance(outcome, ProbeEvent):
                mismatches.append(f"{where}: we found a probe request tshark does not show")
            continue
        if row.bad_fcs or row.protected:
            reason = "Bad FCS flag" if row.bad_fcs else "Protected bit"
            if isinstance(outcome, MalformedFrame):
                deliberate.append(f"{where}: {reason}: malformed for us, a probe for tshark")
            else:
                mismatches.append(f"{where}: {reason} set, expected MalformedFrame, got {outcome}")
            continue
        if isinstance(outcome, MalformedFrame):
            if row.ssid_too_long:
                deliberate.append(f"{where}: SSID over 32 bytes; malformed: {outcome}")
            elif row.truncated:
                deliberate.append(f"{where}: tshark hit the end of the data; malformed: {outcome}")
            else:
                mismatches.append(f"{where}: tshark reads it cleanly, we said {outcome}")
            continue
        if outcome is None:
            mismatches.append(f"{where}: tshark shows a probe request, we returned None")
            continue
        expected_freq = row.freq
        if (
            expected_freq is None
            and row.channel is not None
            and linktypes[number - 1] & 0xFFFF == LINKTYPE_PRISM_HEADER
        ):
            expected_freq = channel_to_mhz(row.channel)
        got_ssid = bytes.fromhex(outcome.ssid_hex) if outcome.ssid_hex else outcome.ssid.encode()
        problems = [
            f"{name}: ours {mine_value!r} != tshark {their_value!r}"
            for name, mine_value, their_value in (
                ("mac", outcome.mac, row.mac),
                ("ssid", got_ssid, row.ssid),
                ("rssi_dbm", outcome.rssi_dbm, row.signal),
                ("freq_mhz", outcome.freq_mhz, expected_freq),
                ("seq", outcome.seq, row.seq),
            )
            if mine_value != their_value
        ]
        if abs(outcome.ts - row.ts) > 2e-6:
            problems.append(f"ts: ours {outcome.ts!r} != tshark {row.ts!r}")
        if problems:
            mismatches.append(f"{where}: " + "; ".join(problems))
        else:
            matched += 1
    known = {number for number, _outcome in mine}
    mismatches += [
        f"frame {number}: tshark shows a probe request we never read"
        for number in theirs
        if number not in known
    ]
    return Comparison(
        frames=len(mine),
        tshark_probes=len(theirs),
        matched=matched,
        deliberate=deliberate,
        mismatches=mismatches,
    )


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
