"""Fold `ssid-probes` (the probe stream re-keyed by SSID) into the `ssids` table."""

from __future__ import annotations

import orjson
from faust.types import StreamT

from app.counters import counters
from app.logic.ssids import InvalidSsidProbes, apply_ssid_probes
from app.main import app
from app.tables.ssids import ssids_table
from app.topics import ssid_probes_topic

STREAM = "ssid-probes"


@app.agent(ssid_probes_topic, name="fold-ssids")
async def fold_ssids(stream: StreamT[bytes]) -> None:
    """One message says: device M sent N more probes for this SSID, up to source offset O."""
    async for event in stream.events():
        message = event.message
        ssid = (message.key or b"").decode("utf-8", "replace")
        try:
            update = orjson.loads(message.value) if message.value is not None else None
            row = apply_ssid_probes(ssids_table.get(ssid), update)
        except (orjson.JSONDecodeError, InvalidSsidProbes) as bad:
            counters.reject(STREAM, "bad_value", f"{ssid!r}: {bad}")
            continue
        if row is not None:
            ssids_table[ssid] = row
            counters.incr(f"{STREAM}.applied")
        else:
            counters.incr(f"{STREAM}.duplicates_skipped")
