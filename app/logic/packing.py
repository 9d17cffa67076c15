"""Packing many items into Kafka records that the producer accepts.

faust's producer refuses a request over `producer_max_request_size` (1,000,000 bytes by
default), and a write-behind flush that derived such a record tries again for ever, holding
every fold behind it. A pack is therefore halved until each part fits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: A packed record's value at most, in bytes: below faust's 1,000,000, with room for the key,
#: the headers and the record's own framing.
MAX_RECORD_BYTES = 900_000


def bounded(
    items: list[T], encode: Callable[[list[T]], bytes], max_bytes: int | None = None
) -> list[tuple[list[T], bytes]]:
    """`items` encoded in as few records as halving finds, each at most `max_bytes`
    (MAX_RECORD_BYTES), in order; an item too large alone is a record of its own (and its
    flush says why it cannot be sent)."""
    limit = MAX_RECORD_BYTES if max_bytes is None else max_bytes
    value = encode(items)
    if len(value) <= limit or len(items) <= 1:
        return [(items, value)]
    half = len(items) // 2
    return bounded(items[:half], encode, limit) + bounded(items[half:], encode, limit)
