"""The sensors that heard probes: how many each heard and the capture time of its last one.

Kept per partition of `probes`, in the partition's `activity-counters` row, by the same fold
and offset guard as the counters (so a record delivered again is not heard twice); the
deployment's view is the sum over partitions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.logic.stats import iso_utc

#: Per sensor name: [probes heard, capture time of the newest one].
SensorTally = dict[str, list[Any]]

#: A sensor that probes reached with no name (a producer that leaves `sensor` empty).
UNNAMED = ""


def hear(tally: SensorTally | None, sensor: str, ts: float) -> SensorTally:
    """Count one probe heard by `sensor` at capture time `ts` (in place when given a tally)."""
    if tally is None:
        tally = {}
    heard = tally.get(sensor)
    if heard is None:
        tally[sensor] = [1, ts]
    else:
        heard[0] += 1
        if ts > heard[1]:
            heard[1] = ts
    return tally


def merge_sensors(tallies: Iterable[SensorTally]) -> SensorTally:
    """The sum of partitions' tallies: probes added, the newest capture time kept."""
    merged: SensorTally = {}
    for tally in tallies:
        for sensor, (probes, last) in tally.items():
            held = merged.get(sensor)
            if held is None:
                merged[sensor] = [probes, last]
            else:
                held[0] += probes
                held[1] = max(held[1], last)
    return merged


def sensors_json(tally: SensorTally, devices: dict[str, int]) -> list[dict[str, Any]]:
    """Every sensor, the one heard last first: its probes, devices and last capture time.

    A sensor only the devices name (history is off, or its probes were counted before this
    tally existed) has null probes and last capture time, and comes last."""
    named = sorted(devices.keys() - tally.keys())
    ordered = sorted(tally.items(), key=lambda item: (-item[1][1], item[0]))
    return [
        {
            "sensor": sensor,
            "probes": probes,
            "devices": devices.get(sensor, 0),
            "last_probe_ts": last,
            "last_probe": iso_utc(last),
        }
        for sensor, (probes, last) in ordered
    ] + [
        {
            "sensor": sensor,
            "probes": None,
            "devices": devices[sensor],
            "last_probe_ts": None,
            "last_probe": None,
        }
        for sensor in named
    ]
