"""Fold `device-names` into the `device-names` table (set, rename, forget)."""

from __future__ import annotations

from faust.types import StreamT

from app.counters import counters
from app.logic.mac import InvalidMac, normalize_mac
from app.logic.names import InvalidName, decode_name_value
from app.main import app
from app.tables.names import device_names_table
from app.topics import device_names_topic

STREAM = "names"


@app.agent(device_names_topic, name="fold-names")
async def fold_names(stream: StreamT[bytes]) -> None:
    """Last write wins per MAC, like the compacted topic itself; a null value forgets the name."""
    async for event in stream.events():
        message = event.message
        try:
            mac = normalize_mac((message.key or b"").decode("utf-8", "replace"))
            name = decode_name_value(message.value)
        except (InvalidMac, InvalidName) as bad:
            counters.reject(STREAM, type(bad).__name__, f"{message.key!r}: {bad}")
            continue
        if message.key != mac.encode():
            counters.reject(STREAM, "key_not_canonical", f"{message.key!r} should be {mac!r}")
            continue
        if name is None:
            device_names_table.pop(mac, None)
            counters.incr(f"{STREAM}.forgotten")
        else:
            device_names_table[mac] = name
            counters.incr(f"{STREAM}.set")
