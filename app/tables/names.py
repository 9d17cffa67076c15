"""`device-names`: per MAC, the name an inventory or a user gave the device."""

from __future__ import annotations

from typing import Any

from app.main import app, settings
from app.tables.store_options import ROCKSDB_OPTIONS
from app.worker.changes import Changes

#: Co-partitioned with `devices` (both keyed by MAC bytes, same partition count), so the worker
#: that owns a device's statistics also owns its name.
device_names_table = app.Table(
    "device-names",
    default=None,
    partitions=settings.partitions,
    key_type=bytes,
    help="Device name by MAC.",
    options=ROCKSDB_OPTIONS,
)


def device_name(mac: str, partition: int | None) -> str | None:
    """The device's name, read from its own partition when it is known: faust's `get` looks
    for a key in every partition this worker holds (its own and its standbys: eight RocksDB
    reads for a MAC with no name, the common case, with two workers and eight partitions)."""
    store: Any = device_names_table.data
    dbs = getattr(store, "_dbs", None)  # faust's RocksDB store: one database per partition
    if partition is None or dbs is None:
        return device_names_table.get(mac)
    db = dbs.get(partition)
    raw = None if db is None else db.get(store._encode_key(mac))
    return None if raw is None else store._decode_value(raw)


#: Woken each time the names agent applied an edit (read-your-writes for `PUT .../name`).
names_applied = Changes()
