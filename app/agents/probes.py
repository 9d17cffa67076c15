"""Where a probe is counted: fold every message of `probes` into the `devices` table."""

from __future__ import annotations

import logging

from faust.types import EventT, StreamT

from app.counters import counters
from app.logic.probe import InvalidProbe, decode_probe
from app.logic.stats import fold_probe
from app.main import app, settings
from app.tables.devices import devices_table
from app.topics import probes_topic

logger = logging.getLogger(__name__)

STREAM = "probes"


@app.agent(probes_topic, name="fold-probes")
async def fold_probes(stream: StreamT[bytes]) -> None:
    """Apply each probe once to its device's row.

    Processing is at-least-once, so after a crash faust hands us again events whose effect is
    already in the table. Each row remembers the offset of the last message applied to it (a MAC
    always lands in the same partition), which makes re-delivery a no-op and the counts exact.
    """
    async for event in stream.events():
        await _apply(event)


async def _apply(event: EventT[bytes]) -> None:
    message = event.message
    try:
        probe = decode_probe(message.value)
    except InvalidProbe as bad:
        counters.reject(STREAM, bad.reason, f"{bad} at {message.topic}[{message.partition}]@{message.offset}")
        return
    key = message.key.decode("utf-8", "replace") if isinstance(message.key, bytes) else None
    if key != probe.mac:
        # Keyed by something else, it sits in the wrong partition for routing: send it on, keyed right.
        await probes_topic.send(key=probe.mac.encode(), value=message.value)
        counters.incr(f"{STREAM}.rekeyed")
        return
    state = devices_table.get(probe.mac)
    if state is not None and state.get("offset", -1) >= message.offset:
        counters.incr(f"{STREAM}.duplicates_skipped")
        return
    state = fold_probe(state, probe, max_ssids=settings.max_ssids_per_device)
    state["offset"] = message.offset
    devices_table[probe.mac] = state
    counters.incr(f"{STREAM}.accepted")
