"""The history side of folding a `probes` record: each device's buckets, and the counters of the
record's partition (`app.tables.activity`), both by capture time.

Once a record's devices are folded (and any that failed rebuilt), `fold_record_history` folds
each device's probes of the record into its `device-activity` row, with the row's own offset
guard, and tallies what each probe meant (`Sighting`) into the partition's counters, unless the
counters hold the record already. It runs with no await, so a flush holds all of a record's
history or none of it; the counters are flushed ahead of the device rows (`leading`), so after
a crash the device rows never hold a record whose counts were lost.

A probe captured far ahead of the worker's clock (`ahead_of_clock`) is left out of history:
counted in the device's row, it would otherwise push every window past all real data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

import orjson

from app.logic.activity import Sighting, ahead_of_clock, fold, tally
from app.logic.forwarding import ForwardedFrom, already_applied
from app.logic.sensors import hear
from app.models import ProbeEvent
from app.tables.activity import (
    CountersRow,
    DeviceActivityRow,
    activity_counters_table,
    counters_key,
    device_activity_table,
)
from app.tables.staged import write_behind
from app.worker.counters import counters

logger = logging.getLogger(__name__)

#: A device's probes in one record, with their index in it.
DeviceProbes = list[tuple[int, ProbeEvent]]
#: The device's probes in the records of the partition folded since the last flush began:
#: (offset, forwarded from, probes), in order.
EarlierRecords = Callable[[str], Iterable[tuple[int, ForwardedFrom | None, DeviceProbes]]]
#: A probe's sensor and capture time.
Heard = tuple[str, float]

AHEAD_OF_CLOCK = "activity.ahead_of_clock"
FOLD_FAILED = "activity.fold_failed"
TALLY_FAILED = "activity.tally_failed"


def fold_record_history(
    partition: int,
    offset: int,
    source: ForwardedFrom | None,
    devices: dict[str, DeviceProbes],
    earlier: EarlierRecords,
) -> None:
    """Fold one record's probes, by device, into history, and stage what changed."""
    get = write_behind.get
    stage = write_behind.stage
    table = device_activity_table
    clock = time.time()
    sightings: list[Sighting] = []
    heard: list[Heard] = []
    for mac, probes in devices.items():
        key = mac.encode()
        row: DeviceActivityRow | None = get(table, partition, key)
        if row is not None and (row["offset"] >= offset or already_applied(row, source)):
            continue
        told = len(sightings)
        try:
            row = fold_history(row, probes, offset, source, clock, sightings)
        except Exception:
            logger.warning("folding a device's history failed; folding it one by one")
            logger.debug("the device whose history failed: %s", mac)
            del sightings[told:]
            row = _rebuilt(partition, key, probes, offset, source, clock, sightings, earlier(mac))
        if row is not None:
            stage(table, partition, key, row)
        _heard(probes, clock, heard)
    _tally(partition, offset, sightings, heard)


def fold_history(
    row: DeviceActivityRow | None,
    probes: DeviceProbes,
    offset: int,
    source: ForwardedFrom | None,
    clock: float,
    sightings: list[Sighting],
) -> DeviceActivityRow | None:
    """`row` with one record's probes of its device applied (in place); what each meant is
    appended to `sightings`. None only for a device with no history and nothing to add."""
    activity = None if row is None else row["activity"]
    for _, probe in probes:
        ts = probe.ts
        if ahead_of_clock(ts, clock):
            counters.incr(AHEAD_OF_CLOCK)
            continue
        activity, seen = fold(activity, ts, probe.rssi_dbm)
        sightings.append(seen)
    if activity is None:
        return None
    if row is None:
        row = {"activity": activity, "offset": offset}
    else:
        row["offset"] = offset
    if source is not None:
        row.setdefault("sources", {})[source.partition_key] = source.offset
    return row


def _rebuilt(
    partition: int,
    key: bytes,
    probes: DeviceProbes,
    offset: int,
    source: ForwardedFrom | None,
    clock: float,
    sightings: list[Sighting],
    earlier: Iterable[tuple[int, ForwardedFrom | None, DeviceProbes]],
) -> DeviceActivityRow | None:
    """A row whose fold raised, rebuilt from the row as flushed: the generation's earlier
    records again (their counts were tallied then), then this record's probes one at a time,
    each that fails left out and counted."""
    row: DeviceActivityRow | None = write_behind.committed(device_activity_table, partition, key)
    for earlier_offset, earlier_source, earlier_probes in earlier:
        if row is None or (
            row["offset"] < earlier_offset and not already_applied(row, earlier_source)
        ):
            row = _folded_alone(row, earlier_probes, earlier_offset, earlier_source, clock, [])
    return _folded_alone(row, probes, offset, source, clock, sightings)


def _folded_alone(
    row: DeviceActivityRow | None,
    probes: DeviceProbes,
    offset: int,
    source: ForwardedFrom | None,
    clock: float,
    sightings: list[Sighting],
) -> DeviceActivityRow | None:
    for item in probes:
        seen: list[Sighting] = []
        try:
            copy = None if row is None else orjson.loads(orjson.dumps(row))
            row = fold_history(copy, [item], offset, source, clock, seen)
        except Exception:
            counters.incr(FOLD_FAILED)
            logger.exception("a probe at offset %s left out of history", offset)
            logger.debug("the device whose probe was left out: %s", item[1].mac)
            continue
        sightings += seen
    return row


def _heard(probes: DeviceProbes, clock: float, heard: list[Heard]) -> None:
    """The sensors that heard a device's probes (those history keeps)."""
    heard.extend(
        (probe.sensor, probe.ts) for _, probe in probes if not ahead_of_clock(probe.ts, clock)
    )


def _tally(partition: int, offset: int, sightings: list[Sighting], heard: list[Heard]) -> None:
    """Count a record's sightings in its partition's counters, and its probes in its sensors'
    tallies, unless they hold the record already."""
    if not sightings:
        return
    key = counters_key(partition)
    row: CountersRow | None = write_behind.get(activity_counters_table, partition, key)
    if row is not None and row["offset"] >= offset:
        return
    if row is None:
        row = {"counters": None, "offset": offset}
    counts = row["counters"]
    for seen in sightings:
        try:
            counts = tally(counts, seen)
        except Exception:  # a bug: the stream goes on, and says what it missed
            counters.incr(TALLY_FAILED)
            logger.exception("tallying %r failed; the partition's counts miss it", seen)
    row["counters"] = counts
    sensors = row.get("sensors")
    for sensor, ts in heard:
        sensors = hear(sensors, sensor, ts)
    if sensors is not None:
        row["sensors"] = sensors
    row["offset"] = offset
    write_behind.stage(activity_counters_table, partition, key, row)
