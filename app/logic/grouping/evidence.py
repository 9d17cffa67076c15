"""What one signal says about a MAC continuing a group: small functions of plain values.

Each answers one question (does the sequence counter continue? how far apart are the signals?
which SSIDs do both ask for?) so that `decide` reads as the rules it applies, and each can be
tested alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from statistics import median
from typing import Literal, NamedTuple

#: 802.11 sequence numbers are 12 bits: they wrap from 4095 to 0.
SEQ_MODULO = 4096


def seq_step(last_seq: int | None, first_seq: int | None) -> int | None:
    """Steps from a group's last sequence number to a MAC's first, modulo 4096; None when
    either is unknown."""
    if last_seq is None or first_seq is None:
        return None
    return (first_seq - last_seq) % SEQ_MODULO


def continues_sequence(step: int | None, step_max: int) -> bool:
    """True when the step is what one counter would have advanced by: 1 to `step_max` frames.

    0 is not a continuation (the same frame again, or a counter that restarted)."""
    return step is not None and 1 <= step <= step_max


SeqHabit = Literal["keeps", "resets", "unknown"]


def sequence_habit(kept: int, reset: int, changes: int) -> SeqHabit:
    """What a group's device does with its counter when it changes MAC, from what it did so
    far: `keeps` or `resets` once that was seen at least `changes` times and at least as often
    as the other; `unknown` before."""
    if kept >= changes and kept >= reset:
        return "keeps"
    if reset >= changes and reset > kept:
        return "resets"
    return "unknown"


def radio(sensor: str, freq_mhz: int | None) -> str:
    """The key signals are compared under: one sensor on one channel. The radios of a sensor
    rig differ per channel (antenna, gain, place): ProbingPatternsDataset's three sniffers hear
    one iPhone 12 with medians 10 dB apart across channels 1, 6 and 11."""
    return f"{sensor}@{'' if freq_mhz is None else freq_mhz}"


class SignalDistance(NamedTuple):
    """How far apart two sets of MACs are in signal (dB), averaged over radios."""

    #: As heard.
    measured: float
    #: Less the gain two radios may differ by, where another radio of the sensor stood in:
    #: what a contradiction is judged on.
    beyond_spread: float


def rssi_distance(
    mine: Mapping[str, Sequence[int]],
    theirs: Mapping[str, Sequence[int]],
    radio_spread_db: float = 0.0,
) -> SignalDistance | None:
    """How far apart two sets of MACs are in signal: per radio, the distance between the
    medians of their strongest signals, averaged over the radios of `mine`. A radio `theirs`
    has no signal of is compared with the other radios of its sensor (a scan visits channels
    in turn), and that distance is also given less `radio_spread_db`, as radios differ in gain;
    a sensor that heard none of `theirs` says nothing: None when no sensor did."""
    measured = beyond = 0.0
    radios = 0
    for key, peaks in mine.items():
        if not peaks:
            continue
        history: Sequence[int] | None = theirs.get(key)
        spread = 0.0
        if not history:
            sensor = sensor_of(key)
            history = [p for k, ps in theirs.items() if sensor_of(k) == sensor for p in ps]
            spread = radio_spread_db
        if history:
            diff = abs(median(peaks) - median(history))
            measured += diff
            beyond += max(0.0, diff - spread)
            radios += 1
    return SignalDistance(measured / radios, beyond / radios) if radios else None


def as_history(peaks: Mapping[str, int]) -> dict[str, list[int]]:
    """One MAC's signal in the shape `rssi_distance` compares: per sensor, only the radio that
    heard it strongest. A frame sent on channel 6 is also heard by a radio on channel 11, 20-30
    dB weaker; that is the channel's loss, not the device's distance, so such off-channel
    receptions are left out."""
    best: dict[str, tuple[str, int]] = {}
    for key, peak in peaks.items():
        sensor = sensor_of(key)
        held = best.get(sensor)
        if held is None or peak > held[1]:
            best[sensor] = (key, peak)
    return {key: [peak] for key, peak in best.values()}


def sensor_of(radio_key: str) -> str:
    """The sensor of a `radio` key (whatever its name holds: the channel comes last)."""
    return radio_key.rpartition("@")[0]


def remember_peaks(
    kept: dict[str, list[int]], new: Mapping[str, Sequence[int]], history: int
) -> None:
    """Add new members' strongest signals to the recent ones (in place, `history` a radio)."""
    for key, peaks in new.items():
        recent = kept.setdefault(key, [])
        recent.extend(peaks)
        del recent[:-history]


def scan_signal(peaks: Mapping[str, Sequence[int]]) -> dict[str, list[int]]:
    """A scan's signal as one value a radio: the median of its MACs' strongest signals."""
    return {key: [round(median(values))] for key, values in peaks.items() if values}


def shared_ssids(mine: Iterable[str], theirs: Iterable[str]) -> tuple[str, ...]:
    """Named SSIDs both asked for, sorted. A remembered network asked for by name is personal
    (a home, an office), so sharing one supports a link; not sharing one says nothing, as a
    phone asks for different networks in different scans."""
    return tuple(sorted(set(mine).intersection(theirs)))


def add_ssids(kept: list[str], new: Iterable[str], limit: int) -> None:
    """Add named SSIDs not yet kept (in place), up to `limit`."""
    for ssid in new:
        if len(kept) >= limit:
            return
        if ssid and ssid not in kept:
            kept.append(ssid)
