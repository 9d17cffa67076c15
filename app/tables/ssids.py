"""`ssids`: per SSID, the devices that probed for it and how often.

Rows are staged in memory and written behind (`app.tables.staged`), like `devices`: read them with
`ssid_row`, which sees staged rows too.
"""

from __future__ import annotations

from typing import Any

from app.main import app, settings
from app.tables.staged import write_behind
from app.tables.store_options import ROCKSDB_OPTIONS

ssids_table = app.Table(
    "ssids",
    default=None,
    partitions=settings.partitions,
    key_type=bytes,
    help="Devices per probed SSID: {mac: [probes, last_seen_ts, last source offset]}.",
    options=ROCKSDB_OPTIONS,
)
write_behind.track(ssids_table)


def ssid_row(ssid: str) -> dict[str, Any] | None:
    """An SSID's row on the worker that owns it, staged changes included."""
    row: dict[str, Any] | None = write_behind.get(ssids_table, None, ssid.encode())
    return row
