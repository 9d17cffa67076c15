"""Synthetic captures: deterministic, realistic, fast, and readable by our own parser."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from sniffer.capture import read_capture
from sniffer.event import ProbeEvent
from sniffer.parse import parse_frame
from sniffer.synth import DEFAULT_START, SSID_POOL, VENDOR_OUIS, generate, write_synthetic_pcap


def _events(path: Path) -> list[ProbeEvent]:
    events = []
    for linktype, data, ts in read_capture(path):
        event = parse_frame(linktype, data, ts, "synth")
        assert event is not None
        events.append(event)
    return events


@pytest.fixture(scope="module")
def synth_events(tmp_path_factory: pytest.TempPathFactory) -> list[ProbeEvent]:
    path = tmp_path_factory.mktemp("synth") / "s.pcap"
    stats = write_synthetic_pcap(path, probes=20_000, devices=500, seed=42, rate=250.0)
    events = _events(path)
    assert stats.probes == len(events) == 20_000
    assert stats.devices == len({e.mac for e in events})
    assert stats.wildcard_probes == sum(1 for e in events if e.ssid == "")
    return events


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.pcap", tmp_path / "b.pcap", tmp_path / "c.pcap"
    write_synthetic_pcap(a, probes=2000, devices=50, seed=5)
    write_synthetic_pcap(b, probes=2000, devices=50, seed=5)
    write_synthetic_pcap(c, probes=2000, devices=50, seed=6)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_every_device_appears(synth_events: list[ProbeEvent]) -> None:
    assert len({e.mac for e in synth_events}) == 500


def test_mix_of_vendor_and_randomized_macs(synth_events: list[ProbeEvent]) -> None:
    macs = {e.mac: e.randomized for e in synth_events}
    randomized = sum(macs.values())
    assert 0.45 * len(macs) < randomized < 0.75 * len(macs)
    ouis = {oui for oui, _profile in VENDOR_OUIS}
    for mac, is_random in macs.items():
        first = bytes.fromhex(mac.replace(":", ""))
        assert first[0] & 0x01 == 0, "unicast source addresses only"
        if not is_random:
            assert first[:3] in ouis


def test_ssids_wildcards_and_encodings(synth_events: list[ProbeEvent]) -> None:
    wildcard = sum(1 for e in synth_events if e.ssid == "")
    assert 0.5 < wildcard / len(synth_events) < 0.9
    named = {e.ssid_hex or e.ssid for e in synth_events if e.ssid}
    pool = {s.hex() if s == b"\xb2\xe2\xca\xd4" else s.decode() for s in SSID_POOL}
    assert named <= pool
    assert len(named) > len(SSID_POOL) // 2
    assert "b2e2cad4" in named
    assert any(not s.isascii() for s in named if s != "b2e2cad4")
    non_utf8 = [e for e in synth_events if e.ssid_hex]
    assert non_utf8 and all(e.ssid == "\\xb2\\xe2\\xca\\xd4" for e in non_utf8)


def test_sequence_numbers_count_up_per_device(synth_events: list[ProbeEvent]) -> None:
    last: dict[str, int] = {}
    for event in synth_events:
        assert event.seq is not None
        if event.mac in last:
            assert event.seq == (last[event.mac] + 1) % 4096
        last[event.mac] = event.seq


def test_timestamps_follow_the_rate(synth_events: list[ProbeEvent]) -> None:
    stamps = [e.ts for e in synth_events]
    assert stamps == sorted(stamps)
    assert stamps[0] == DEFAULT_START
    observed = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    assert 0.9 * 250 < observed < 1.1 * 250


def test_radio_fields_are_plausible(synth_events: list[ProbeEvent]) -> None:
    assert all(e.rssi_dbm is not None and -100 <= e.rssi_dbm <= -20 for e in synth_events)
    freqs = Counter(e.freq_mhz for e in synth_events)
    assert set(freqs) <= {2412, 2422, 2437, 2462, 5180, 5220, 5745}
    assert freqs[2412] > freqs[5745]


def test_device_models_share_fingerprints(synth_events: list[ProbeEvent]) -> None:
    by_mac: dict[str, set[str | None]] = defaultdict(set)
    for event in synth_events:
        by_mac[event.mac].add(event.ie_fingerprint)
    assert all(len(prints) == 1 for prints in by_mac.values()), "a device keeps its fingerprint"
    models = {next(iter(p)) for p in by_mac.values()}
    assert 4 <= len(models) <= 6
    apple = {next(iter(p)) for mac, p in by_mac.items() if mac.startswith(("f0:18:98", "3c:22:fb"))}
    assert len(apple) == 1


def test_start_and_rate_parameters() -> None:
    records, stats = generate(100, 10, seed=1, start=1_600_000_000.0, rate=1000.0)
    assert records[0][0] == stats.first_ts == 1_600_000_000.0
    assert records[-1][0] == stats.last_ts < 1_600_000_001.0


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        generate(10, 0)
    with pytest.raises(ValueError):
        generate(10, 5, rate=0)


def test_empty_capture(tmp_path: Path) -> None:
    stats = write_synthetic_pcap(tmp_path / "empty.pcap", probes=0, devices=3)
    assert stats.probes == 0
    assert list(read_capture(tmp_path / "empty.pcap")) == []


def test_fast_enough(tmp_path: Path) -> None:
    started = time.perf_counter()
    write_synthetic_pcap(tmp_path / "big.pcap", probes=100_000, devices=2000, seed=1)
    assert time.perf_counter() - started < 8.0
