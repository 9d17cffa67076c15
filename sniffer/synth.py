"""Realistic synthetic probe-request captures for tests, demos and benchmarks.

Public captures are small or anonymised; load tests and end-to-end checks need large files
whose content is known exactly. Output is a classic pcap with radiotap link type 127, the layout
a Linux monitor-mode card writes, built with struct so 200k frames take about a second.
"""

from __future__ import annotations

import math
import os
import random
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from sniffer.parse import LINKTYPE_IEEE802_11_RADIOTAP, TS_LIMIT

DEFAULT_START = 1_704_067_200.0  # 2024-01-01T00:00:00Z: a fixed default keeps output reproducible

# Registered OUIs (checked against the IEEE registry) of common phone, laptop and IoT vendors,
# each with the device model (index into _PROFILES) such a vendor's device gets.
VENDOR_OUIS: tuple[tuple[bytes, int], ...] = tuple(
    (bytes.fromhex(oui), profile)
    for oui, profile in (
        ("f01898", 0),  # Apple
        ("3c22fb", 0),  # Apple
        ("a483e7", 0),  # Apple
        ("fca13e", 1),  # Samsung Electronics
        ("8cf5a3", 1),  # Samsung Electro-Mechanics
        ("3c5ab4", 5),  # Google
        ("640980", 4),  # Xiaomi
        ("94652d", 1),  # OnePlus
        ("3ca9f4", 2),  # Intel
        ("fcf152", 4),  # Sony
        ("48435a", 4),  # Huawei
        ("9cd917", 4),  # Motorola
        ("240ac4", 3),  # Espressif
        ("b827eb", 3),  # Raspberry Pi
        ("50c7bf", 3),  # TP-Link
    )
)
# Random MACs come from phones and laptops that randomise: iPhone, Samsung, Windows, Pixel.
_RANDOMIZING_PROFILES = (0, 0, 1, 1, 2, 5)

SSID_POOL: tuple[bytes, ...] = (
    b"eduroam",
    b"Starbucks WiFi",
    b"FRITZ!Box 7590 XY",
    b"Vodafone-Homespot",
    b"TP-Link_5G_3A7C",
    b"NETGEAR42",
    b"linksys",
    b"Telekom_FON",
    b"BTWifi-with-FON",
    b"xfinitywifi",
    b"attwifi",
    b"HUAWEI-B525-7A1F",
    b"DIRECT-roku-842",
    b"Office-Guest",
    b"Hotel_Lobby",
    b"AndroidAP5521",
    "iPhone von Jörg".encode(),
    "Café Müller".encode(),
    "Кафе-Гость".encode(),
    "ホテル_Guest".encode(),
    "星巴克WiFi".encode(),
    b"\xb2\xe2\xca\xd4",  # GBK for a Chinese name: not valid UTF-8
)

_HT_CAPS = bytes.fromhex("ef011bffff000000000000000000000000000000000000000000")
_HT_CAPS_1SS = bytes.fromhex("2d4017ff00000000000000000000000000000000000000000000")
_RATES = bytes.fromhex("02040b160c121824")
_RATES_B = bytes.fromhex("02040b16")
_EXT_RATES = bytes.fromhex("3048606c")
_EXT_RATES_G = bytes.fromhex("0c1218243048606c")
_VHT_CAPS = bytes.fromhex("b2798033faff0c00faff0c00")
_HE_CAPS = bytes.fromhex("230108000000000000000000000000000000000000000000")


def _ie(eid: int, body: bytes) -> bytes:
    return bytes((eid, len(body))) + body


_DEFAULT_ELEMENTS = _ie(1, _RATES_B)

# Device models: the element list after SSID and DS parameter set. Devices of one model share an
# ie_fingerprint, as real phones of one model/OS do.
_PROFILES: tuple[tuple[bytes, bytes], ...] = (
    (  # iPhone-like
        _ie(1, _RATES) + _ie(50, _EXT_RATES),
        _ie(45, _HT_CAPS)
        + _ie(127, bytes.fromhex("0400080000000040"))
        + _ie(191, _VHT_CAPS)
        + _ie(255, _HE_CAPS)
        + _ie(221, bytes.fromhex("0017f20a000104000000"))
        + _ie(221, bytes.fromhex("00101802000010000000")),
    ),
    (  # Samsung/Android-like
        _ie(1, _RATES_B) + _ie(50, _EXT_RATES_G),
        _ie(45, _HT_CAPS)
        + _ie(127, bytes.fromhex("0500080000000040000020"))
        + _ie(191, _VHT_CAPS)
        + _ie(255, _HE_CAPS)
        + _ie(221, bytes.fromhex("0050f208002000"))
        + _ie(221, bytes.fromhex("00904c0408bf0c")),
    ),
    (  # Windows laptop with an Intel card
        _ie(1, _RATES) + _ie(50, _EXT_RATES),
        _ie(45, _HT_CAPS)
        + _ie(127, bytes.fromhex("0000080000000040"))
        + _ie(191, _VHT_CAPS)
        + _ie(221, bytes.fromhex("0050f208002c00")),
    ),
    (  # ESP32 / IoT
        _ie(1, _RATES_B) + _ie(50, _EXT_RATES_G),
        _ie(45, _HT_CAPS_1SS),
    ),
    (  # older Android with WPS
        _ie(1, _RATES) + _ie(50, _EXT_RATES),
        _ie(45, _HT_CAPS_1SS)
        + _ie(127, bytes.fromhex("00000a02"))
        + _ie(221, bytes.fromhex("0050f204104a000110103a000100")),
    ),
    (  # Pixel-like
        _ie(1, _RATES_B) + _ie(50, _EXT_RATES_G),
        _ie(45, _HT_CAPS)
        + _ie(127, bytes.fromhex("040048000100004001"))
        + _ie(191, _VHT_CAPS)
        + _ie(255, _HE_CAPS)
        + _ie(255, bytes.fromhex("0b00")),
    ),
)

_CHANNELS: tuple[tuple[int, int], ...] = (
    (1, 2412),
    (6, 2437),
    (11, 2462),
    (3, 2422),
    (36, 5180),
    (44, 5220),
    (149, 5745),
)
_CHANNEL_WEIGHTS = (30, 30, 30, 5, 8, 5, 4)

# radiotap: Flags, Rate, Channel, dBm antenna signal, Antenna, RX flags (18 bytes, like a
# Linux mac80211 monitor interface without TSFT)
_RADIOTAP = struct.Struct("<BBHIBBHHbBH")
_RT_PRESENT = 0x0000482E
_RT_LEN = _RADIOTAP.size
_RT_FLAG_FCS = 0x10
_CHAN_2GHZ_CCK = 0x00A0
_CHAN_5GHZ_OFDM = 0x0140
_PCAP_HEADER = struct.Struct("<IHHiIII")
_PCAP_RECORD = struct.Struct("<IIII")
_BROADCAST = b"\xff" * 6


@dataclass(frozen=True, slots=True)
class SynthStats:
    """What a synthetic capture contains, so tests can check a replay against it."""

    probes: int
    devices: int
    randomized_devices: int
    wildcard_probes: int
    distinct_ssids: int
    first_ts: float
    last_ts: float


@dataclass(slots=True)
class _Device:
    mac: bytes
    profile: int
    ssids: tuple[bytes, ...]
    seq: int
    rssi: int
    weight: float


def write_pcap(
    out: BinaryIO,
    linktype: int,
    records: Iterable[tuple[float, bytes]],
    snaplen: int = 65535,
) -> int:
    """Write a little-endian microsecond pcap; returns the number of records.

    A tiny writer: fast, and able to write any link-type word (FCS-length bits included).
    """
    out.write(_PCAP_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
    count = 0
    pack = _PCAP_RECORD.pack
    for ts, data in records:
        sec = int(ts)
        usec = round((ts - sec) * 1_000_000)
        if usec >= 1_000_000:
            sec, usec = sec + 1, usec - 1_000_000
        out.write(pack(sec, usec, len(data), len(data)))
        out.write(data)
        count += 1
    return count


def probe_request(
    mac: bytes,
    seq: int,
    ssid: bytes,
    elements: bytes = _DEFAULT_ELEMENTS,
    *,
    flags: int = 0,
) -> bytes:
    """An 802.11 probe request (no FCS): header, SSID element, then `elements` as given."""
    header = struct.pack("<BBH", 0x40, flags, 0) + _BROADCAST + mac + _BROADCAST
    return header + struct.pack("<H", (seq & 0xFFF) << 4) + _ie(0, ssid) + elements


def radiotap_frame(frame: bytes, *, freq: int, signal: int, fcs: bool = True) -> bytes:
    """Wrap an 802.11 frame in the synth radiotap header, appending the FCS when asked."""
    chan_flags = _CHAN_2GHZ_CCK if freq < 3000 else _CHAN_5GHZ_OFDM
    rate = 2 if freq < 3000 else 12
    header = _RADIOTAP.pack(
        0, 0, _RT_LEN, _RT_PRESENT, _RT_FLAG_FCS if fcs else 0, rate, freq, chan_flags, signal, 0, 0
    )
    if fcs:
        frame += struct.pack("<I", zlib.crc32(frame))
    return header + frame


def _make_devices(rng: random.Random, count: int) -> list[_Device]:
    devices: list[_Device] = []
    seen: set[bytes] = set()
    while len(devices) < count:
        if rng.random() < 0.4:
            oui, profile = rng.choice(VENDOR_OUIS)
            mac = oui + rng.randbytes(3)
        else:
            first = (rng.randrange(256) | 0x02) & 0xFE  # locally administered, unicast
            mac = bytes((first,)) + rng.randbytes(5)
            profile = rng.choice(_RANDOMIZING_PROFILES)
        if mac in seen:
            continue
        seen.add(mac)
        known = rng.choice((0, 0, 1, 1, 2, 3, 4))
        devices.append(
            _Device(
                mac=mac,
                profile=profile,
                ssids=tuple(rng.sample(SSID_POOL, known)),
                seq=rng.randrange(4096),
                rssi=rng.randint(-88, -35),
                weight=rng.paretovariate(1.2),
            )
        )
    return devices


class SynthCapture:
    """The records (ts, radiotap frame) of one synthetic capture, generated lazily.

    Streaming keeps memory flat for captures of millions of frames. Every iteration starts from
    the seed again, so it yields the same records; `stats` describes them once one has ended.
    """

    def __init__(
        self,
        probes: int,
        devices: int,
        seed: int = 0,
        start: float = DEFAULT_START,
        rate: float = 100.0,
    ) -> None:
        if probes < 0 or devices < 1 or not rate > 0:
            raise ValueError("need probes >= 0, devices >= 1 and rate > 0")
        # The capture must end before 2100 (sniffer.parse refuses later times): the time span
        # is a sum of exponential gaps, so allow ten standard deviations above its mean.
        span = (probes + 10 * math.sqrt(probes) + 10) / rate
        if not (start >= 0 and start + span < TS_LIMIT):
            raise ValueError(
                f"a capture of {probes} probes at {rate:g}/s from {start:g} would not end "
                "before 2100-01-01: lower --probes or --start, or raise --rate"
            )
        self.probes = probes
        self.devices = devices
        self.seed = seed
        self.start = start
        self.rate = rate
        self.stats: SynthStats | None = None

    def __iter__(self) -> Iterator[tuple[float, bytes]]:
        rng = random.Random(self.seed)
        fleet = _make_devices(rng, self.devices)
        order = list(range(self.devices))
        rng.shuffle(order)
        order = order[: self.probes]
        weights = [d.weight for d in fleet]
        order += rng.choices(range(self.devices), weights=weights, k=self.probes - len(order))
        channels = rng.choices(_CHANNELS, weights=_CHANNEL_WEIGHTS, k=self.probes)

        ts = last_ts = self.start
        wildcard = 0
        ssids_seen: set[bytes] = set()
        for index, (channel, freq) in zip(order, channels, strict=True):
            device = fleet[index]
            if device.ssids and rng.random() < 0.45:
                ssid = rng.choice(device.ssids)
                ssids_seen.add(ssid)
            else:
                ssid = b""
                wildcard += 1
            rates, caps = _PROFILES[device.profile]
            elements = rates + _ie(3, bytes((channel,))) + caps
            frame = probe_request(device.mac, device.seq, ssid, elements)
            device.seq = (device.seq + 1) & 0xFFF
            signal = max(-100, min(-20, device.rssi + rng.randint(-4, 4)))
            if ts >= TS_LIMIT:  # not expected after the check in __init__; never write it
                raise ValueError("the synthetic capture ran past 2100-01-01")
            yield ts, radiotap_frame(frame, freq=freq, signal=signal)
            last_ts = ts
            ts += rng.expovariate(self.rate)

        seen = set(order)
        self.stats = SynthStats(
            probes=self.probes,
            devices=len(seen),
            randomized_devices=sum(1 for i in seen if fleet[i].mac[0] & 0x02),
            wildcard_probes=wildcard,
            distinct_ssids=len(ssids_seen),
            first_ts=self.start,
            last_ts=last_ts,
        )


def generate(
    probes: int,
    devices: int,
    seed: int = 0,
    start: float = DEFAULT_START,
    rate: float = 100.0,
) -> tuple[list[tuple[float, bytes]], SynthStats]:
    """All records of a synthetic capture in memory, with their description."""
    capture = SynthCapture(probes, devices, seed=seed, start=start, rate=rate)
    records = list(capture)
    assert capture.stats is not None
    return records, capture.stats


def write_synthetic_pcap(
    path: str | os.PathLike[str],
    probes: int = 10_000,
    devices: int = 200,
    seed: int = 0,
    start: float = DEFAULT_START,
    rate: float = 100.0,
) -> SynthStats:
    """Write a synthetic radiotap capture to `path` and describe what is in it."""
    capture = SynthCapture(probes, devices, seed=seed, start=start, rate=rate)
    with open(path, "wb", buffering=1 << 20) as out:
        write_pcap(out, LINKTYPE_IEEE802_11_RADIOTAP, capture)
    assert capture.stats is not None
    return capture.stats
