"""`devices`: per source MAC, the state folded from its probes (see `app.logic.stats`)."""

from __future__ import annotations

from app.main import app, settings

#: Keys are the MAC as raw UTF-8 bytes, exactly as the sniffer keys `probes`, so faust's router
#: (murmur2 over the serialized key) finds the partition the table row was written to (faust#514).
devices_table = app.Table(
    "devices",
    default=None,
    partitions=settings.partitions,
    key_type=bytes,
    help="Per-device probe statistics, keyed by MAC.",
)
