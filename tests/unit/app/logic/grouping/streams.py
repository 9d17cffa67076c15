"""Synthetic probe streams for the grouper's tests: devices that scan, rotating their MAC."""

from __future__ import annotations

import random
from dataclasses import dataclass

from app.models import ProbeEvent

T0 = 1_800_000_000.0
FP = "46a71088949f8ba7"
CHANNELS = (2412, 2437, 2462)


def random_mac(rng: random.Random, randomized: bool = True) -> str:
    """A MAC with the locally administered bit as asked (and never a group address)."""
    first = rng.randrange(256) & 0xFC | (0x02 if randomized else 0x00)
    return ":".join(f"{b:02x}" for b in [first, *(rng.randrange(256) for _ in range(5))])


def probe(
    mac: str,
    ts: float,
    *,
    seq: int | None = None,
    rssi: int | None = -50,
    freq: int | None = 2437,
    fp: str | None = FP,
    randomized: bool = True,
    ssid: str = "",
    sensor: str = "s1",
) -> ProbeEvent:
    return ProbeEvent(
        ts=ts,
        mac=mac,
        ssid=ssid,
        rssi_dbm=rssi,
        freq_mhz=freq,
        seq=seq,
        randomized=randomized,
        sensor=sensor,
        ie_fingerprint=fp,
    )


@dataclass
class Phone:
    """A phone that scans now and then: each scan sends two probes on each channel, with a new
    MAC per channel (as recent iPhones do), or one MAC per scan (`macs_per_scan=1`)."""

    rng: random.Random
    rssi: int = -50
    fp: str | None = FP
    keeps_counter: bool = False
    macs_per_scan: int = 3
    seq: int = 0

    def scan(self, t: float, *, ssid: str = "") -> list[ProbeEvent]:
        probes: list[ProbeEvent] = []
        for index in range(self.macs_per_scan):
            mac = random_mac(self.rng)
            if not self.keeps_counter:
                self.seq = self.rng.randrange(4096)
            for repeat in range(2):
                self.seq = (self.seq + 1) % 4096
                probes.append(
                    probe(
                        mac,
                        t + index * 0.05 + repeat * 0.02,
                        seq=self.seq,
                        rssi=self.rssi + self.rng.choice((-2, 0, 2)),
                        freq=CHANNELS[index % len(CHANNELS)],
                        fp=self.fp,
                        ssid=ssid,
                    )
                )
        return probes


def alike_crowd(phones: int = 4, scans: int = 6, seed: int = 3) -> list[ProbeEvent]:
    """Phones alike (one fingerprint), far apart in signal, scanning every 20 s."""
    rng = random.Random(seed)
    crowd: list[ProbeEvent] = []
    for index in range(phones):
        phone = Phone(rng, rssi=-40 - 14 * index)
        for scan in range(scans):
            crowd += phone.scan(T0 + 20 * scan + 3 * index)
    return sorted(crowd, key=lambda p: p.ts)
