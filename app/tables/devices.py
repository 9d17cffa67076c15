"""`devices`: per source MAC, the state folded from its probes (see `app.logic.stats`).

Rows are staged in memory and written behind (`app.tables.staged`): read them with
`device_row`, which sees staged rows too.
"""

from __future__ import annotations

from app.main import app, settings
from app.models import DeviceState
from app.tables.staged import write_behind
from app.tables.store_options import ROCKSDB_OPTIONS
from app.worker.partitions import key_partition

#: Keys are the MAC as raw UTF-8 bytes, exactly as the sniffer keys `probes`, so faust's router
#: (murmur2 over the serialized key) finds the partition the table row was written to (faust#514).
devices_table = app.Table(
    "devices",
    default=None,
    partitions=settings.partitions,
    key_type=bytes,
    help="Per-device probe statistics, keyed by MAC.",
    options=ROCKSDB_OPTIONS,
)
write_behind.track(devices_table)


def device_partition(mac: str) -> int | None:
    """The partition of `devices` (and of `device-names`, co-partitioned) that holds the MAC,
    remembered (`app.worker.partitions`); None while the producer does not know the topic yet."""
    try:
        return key_partition(app, devices_table.changelog_topic.get_topic_name(), mac.encode())
    except Exception:  # the producer does not know the topic yet
        return None


def device_row(mac: str, partition: int | None = None) -> DeviceState | None:
    """A device's row on the worker that owns it, staged changes included; `partition` if the
    caller knows it (`device_partition`); without one, every partition is looked in."""
    if partition is None:
        partition = device_partition(mac)
    row: DeviceState | None = write_behind.get(devices_table, partition, mac.encode())
    return row
