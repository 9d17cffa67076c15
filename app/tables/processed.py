"""`processed-offsets`: per input partition, the last record whose effect reached a person.

Replies and alerts cannot be taken back, so re-delivery after a crash must not send them again.
Co-partitioned with the inputs it guards (same partition count): the worker that owns
`telegram-updates:3` owns the row `telegram-updates:3` too, and gets it back from the changelog
after any restart or rebalance.
"""

from __future__ import annotations

from app.main import app, settings
from app.tables.store_options import ROCKSDB_OPTIONS

processed_offsets_table = app.Table(
    "processed-offsets",
    default=None,
    partitions=settings.partitions,
    key_type=str,
    value_type=int,
    help="Last processed offset by input partition, for effects that cannot be repeated.",
    options=ROCKSDB_OPTIONS,
)
