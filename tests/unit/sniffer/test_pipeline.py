"""The capture loop with a fake sink: counts, malformed accounting, pacing, stopping."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from sniffer.capture import read_capture
from sniffer.parse import parse_frame
from sniffer.pipeline import Counts, Pacer, pump, replay
from sniffer.pseudonym import Pseudonymizer, PseudonymKey
from sniffer.synth import write_synthetic_pcap
from tests.pcaps import capture
from tests.unit.sniffer.fakes import FakeSink


def test_replay_counts_a_mixed_capture() -> None:
    path = capture("SamsungA53_01.pcap")
    sink = FakeSink()
    counts, complete = replay([path], sink, "roof")
    assert complete
    assert counts == Counts(frames=8497, probes=741, not_probe=7756, malformed=0)
    expected = [e for lt, d, ts in read_capture(path) if (e := parse_frame(lt, d, ts, "roof"))]
    assert sink.events == expected
    assert {e.sensor for e in sink.events} == {"roof"}
    assert sink.polls >= 8497 // 512


def test_every_probe_goes_through_the_transform_before_the_sink() -> None:
    path = capture("SamsungA53_01.pcap")
    pseudonyms = Pseudonymizer(PseudonymKey(bytes(range(32))), ssids=True)
    plain, hashed = FakeSink(), FakeSink()
    replay([path], plain, "roof")
    counts, _ = replay([path], hashed, "roof", transform=pseudonyms)
    assert counts.probes == 741
    assert hashed.events == [pseudonyms(event) for event in plain.events]
    assert not {e.mac for e in plain.events} & {e.mac for e in hashed.events}


def test_replay_counts_malformed_and_damaged_records() -> None:
    paths = [
        capture("bad_rsn_parsing"),  # a beacon plus one stray byte
        capture("wpaclean_crash"),  # too short for a Prism header: read as bare 802.11
        capture("rates_oobr"),  # fuzzed radiotap, not a probe request
        capture("radiotap-heapoverflow"),  # radiotap header and nothing after it
    ]
    sink = FakeSink()
    counts, complete = replay(paths, sink, "s")
    assert complete
    # The stray byte used to count as a malformed frame; it is now one skipped (damaged) byte.
    assert counts == Counts(
        frames=4,
        probes=0,
        not_probe=3,
        malformed=1,
        skipped_bytes=1,
        skip_places=1,
        damaged_files=1,
    )
    assert sink.events == []


def test_replay_several_files_in_order(tmp_path: Path) -> None:
    first, second = tmp_path / "a.pcap", tmp_path / "b.pcap"
    write_synthetic_pcap(first, probes=30, devices=3, seed=1, start=1000.0)
    write_synthetic_pcap(second, probes=20, devices=3, seed=2, start=5000.0)
    sink = FakeSink()
    counts, _ = replay([first, second], sink, "s")
    assert counts == Counts(frames=50, probes=50, not_probe=0, malformed=0)
    assert [e.ts < 5000.0 for e in sink.events] == [True] * 30 + [False] * 20


def test_progress_sees_the_final_counts(tmp_path: Path) -> None:
    path = tmp_path / "s.pcap"
    write_synthetic_pcap(path, probes=1500, devices=10)
    seen: list[Counts] = []
    counts, _ = replay([path], FakeSink(), "s", progress=lambda c: seen.append(replace(c)))
    assert seen[-1] == counts
    assert len(seen) >= 3


def test_stop_before_start_reads_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.pcap"
    write_synthetic_pcap(path, probes=100, devices=10)
    stop = threading.Event()
    stop.set()
    counts, complete = replay([path], FakeSink(), "s", stop=stop)
    assert not complete
    assert counts.frames == 0


def test_original_rate_keeps_the_capture_timing(tmp_path: Path) -> None:
    path = tmp_path / "s.pcap"
    stats = write_synthetic_pcap(path, probes=25, devices=5, rate=50.0)
    span = stats.last_ts - stats.first_ts
    started = time.monotonic()
    replay([path], FakeSink(), "s", speed=1.0)
    elapsed = time.monotonic() - started
    assert span - 0.05 <= elapsed <= span + 0.5

    started = time.monotonic()
    replay([path], FakeSink(), "s", speed=10.0)
    assert time.monotonic() - started <= span / 10 + 0.3


def test_pacing_restarts_for_each_file(tmp_path: Path) -> None:
    """Files from different days must not make replay wait for the gap between them."""
    first, second = tmp_path / "a.pcap", tmp_path / "b.pcap"
    write_synthetic_pcap(first, probes=5, devices=2, start=1000.0, rate=1000.0)
    write_synthetic_pcap(second, probes=5, devices=2, start=90000.0, rate=1000.0)
    started = time.monotonic()
    replay([first, second], FakeSink(), "s", speed=1.0)
    assert time.monotonic() - started < 1.0


def test_stop_interrupts_a_paced_replay(tmp_path: Path) -> None:
    path = tmp_path / "slow.pcap"
    write_synthetic_pcap(path, probes=10, devices=2, rate=0.5)  # ~20 s of capture
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    counts, complete = replay([path], FakeSink(), "s", speed=1.0, stop=stop)
    assert not complete
    assert time.monotonic() - started < 2.0
    assert counts.frames < 10


def test_pacer_rejects_nonsense_speed() -> None:
    with pytest.raises(ValueError):
        Pacer(0)


def test_pacer_survives_absurd_gaps_and_times() -> None:
    """A gap of ~4e12 s at speed 0.001 is beyond what Event.wait accepts in one call."""
    stop = threading.Event()
    pacer = Pacer(0.001, stop)
    pacer.wait(1.0)
    for not_a_time in (float("nan"), float("inf"), -1.0, 5e9):
        pacer.wait(not_a_time)  # not capture times: never waited for
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    pacer.wait(4_000_000_000.0)
    assert time.monotonic() - started < 2.0


def test_pump_over_plain_records() -> None:
    from tests.unit.sniffer.frames import PROBE

    records = [(105, PROBE, 1.0), (105, b"\x80" + PROBE[1:], 2.0), (105, PROBE[:-2], 3.0)]
    sink = FakeSink()
    counts = Counts()
    assert pump(records, sink, "s", counts)
    assert counts == Counts(frames=3, probes=1, not_probe=1, malformed=1)
    assert [e.ts for e in sink.events] == [1.0]
