"""Which partition of a topic a key hashes to, remembered.

The producer's hashing (aiokafka's murmur2 in Python, behind its metadata look-ups) costs
~10-15 µs a call, and answering one `GET /devices/{mac}` asks it twice for the same MAC: once to
find the worker that owns the key (`app.web.routing`), once to read the row from its partition
(`app.tables.devices`). A key's partition never changes while the topic keeps its partitions.
"""

from __future__ import annotations

from faust.types import AppT

#: (topic, key) pairs remembered, at most; all are forgotten at once when it is reached.
MOST = 100_000

_remembered: dict[tuple[str, bytes], int] = {}


def key_partition(app: AppT, topic: str, key: bytes) -> int:
    """The partition of `topic` the producer sends `key` to. Raises what the producer raises
    while it cannot tell (faust's NotReady before it starts; TypeError without the topic's
    metadata); nothing is remembered then."""
    partition = _remembered.get((topic, key))
    if partition is None:
        partition = int(app.producer.key_partition(topic, key).partition)
        if len(_remembered) >= MOST:
            _remembered.clear()
        _remembered[(topic, key)] = partition
    return partition
