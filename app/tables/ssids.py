"""`ssids`: per SSID, the devices that probed for it and how often."""

from __future__ import annotations

from app.main import app, settings

ssids_table = app.Table(
    "ssids",
    default=None,
    partitions=settings.partitions,
    key_type=bytes,
    help="Devices per probed SSID: {mac: [probes, last_seen_ts, last source offset]}.",
)
