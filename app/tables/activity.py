"""History by capture time (`app.logic.activity`): per device, and per partition of `probes`.

`device-activity` holds each device's buckets, keyed by MAC like `devices` and co-partitioned
with it; a row of its own instead of a field of the device's row, so `GET /devices/{mac}` and
the `devices` flush stay small (a busy device's history is kilobytes).
`activity-counters` holds, per partition of `probes`, the probes, devices and new devices per
minute, hour and day of the devices of that partition, and the sensors that heard them, keyed
by the partition's number and written to the same partition of its changelog, so the worker
folding `probes:3` owns `activity-counters:3`.

Each row carries the offset guard of the records applied to it (`offset`, and `sources` for
forwarded records), because rows of different tables reach their changelogs apart: after a
crash between them, each table skips exactly what it already holds. The counters are tallied
from what the device rows' fold reports, so they are flushed ahead of them (`leading`): a record
whose device rows are durable has its counts durable too, and is never needed again.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

from app.logic.activity import Counters, DeviceActivity
from app.logic.sensors import SensorTally
from app.main import app, settings
from app.tables.staged import write_behind
from app.tables.store_options import ROCKSDB_OPTIONS


class DeviceActivityRow(TypedDict):
    """A `device-activity` row: the device's buckets and the guard of the records they hold."""

    activity: DeviceActivity
    #: The `probes` offset of the last record applied.
    offset: int
    #: Per forwarding source partition (`pcap:3`), the last source offset applied.
    sources: NotRequired[dict[str, int]]


class CountersRow(TypedDict):
    """An `activity-counters` row: one partition's counts and the last record tallied."""

    counters: Counters | None
    offset: int
    #: The sensors that heard the partition's probes (`app.logic.sensors`).
    sensors: NotRequired[SensorTally]


device_activity_table = app.Table(
    "device-activity",
    default=None,
    partitions=settings.partitions,
    key_type=bytes,
    help="Per-device probes and signal per minute, hour and day, keyed by MAC.",
    options=ROCKSDB_OPTIONS,
)
write_behind.track(device_activity_table, counted=False)

activity_counters_table = app.Table(
    "activity-counters",
    default=None,
    partitions=settings.partitions,
    key_type=bytes,
    help="Per partition of `probes`: probes, devices and new devices per minute, hour and day.",
    options=ROCKSDB_OPTIONS,
)
write_behind.track(activity_counters_table, leading=True)


def counters_key(partition: int) -> bytes:
    """The key of a partition's counters row (stored in that partition of the changelog)."""
    return str(partition).encode()


def device_activity_row(partition: int | None, mac: str) -> DeviceActivityRow | None:
    """A device's history row on the worker that owns it, staged changes included."""
    row: DeviceActivityRow | None = write_behind.get(device_activity_table, partition, mac.encode())
    return row


def partition_counters(partition: int) -> CountersRow | None:
    """A partition's counters row on the worker that owns it, staged changes included."""
    row: CountersRow | None = write_behind.get(
        activity_counters_table, partition, counters_key(partition)
    )
    return row
