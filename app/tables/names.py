"""`device-names`: per MAC, the name an inventory or a user gave the device."""

from __future__ import annotations

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

#: Woken each time the names agent applied an edit (read-your-writes for `PUT .../name`).
names_applied = Changes()
