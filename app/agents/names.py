"""Fold `device-names` into the `device-names` table (set, rename, forget)."""

from __future__ import annotations

from faust.types import EventT, StreamT

from app.logic.mac import InvalidMac, normalize_mac
from app.logic.names import InvalidName, decode_name_value
from app.main import app
from app.tables.listing import device_index
from app.tables.names import device_names_table, names_applied
from app.topics import device_names_topic
from app.worker import dead_letters
from app.worker.counters import counters

STREAM = "names"


@app.agent(device_names_topic, name="fold-names")
async def fold_names(stream: StreamT[bytes]) -> None:
    """Last write wins per MAC, like the compacted topic itself; a null value forgets the name."""
    await dead_letters.each_record(stream, STREAM, apply)


async def apply(event: EventT[bytes]) -> None:
    """Set or forget one name, or dead-letter the record saying why not."""
    message = event.message
    try:
        mac = normalize_mac((message.key or b"").decode("utf-8", "replace"))
        name = decode_name_value(message.value)
    except (InvalidMac, InvalidName) as bad:
        await dead_letters.reject(event, STREAM, type(bad).__name__, str(bad))
        return
    if message.key != mac.encode():
        await dead_letters.reject(event, STREAM, "key_not_canonical", f"the key should be {mac!r}")
        return
    if name is None:
        device_names_table.pop(mac, None)
        counters.incr(f"{STREAM}.forgotten")
    else:
        device_names_table[mac] = name
        counters.incr(f"{STREAM}.set")
    device_index.name_changed(message.key, name, message.partition)
    await names_applied.applied()
