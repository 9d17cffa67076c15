"""Fold `ssid-probes` (the probe stream re-keyed by SSID) into the `ssids` table.

Rows are folded in memory and written behind (`app.worker.write_behind`), with the `devices`
rows: the changelog first, then the local store, then the records are acknowledged. A row
written to the store before its changelog would be trusted by a restarted worker, which then
skips the messages it reads again, while any worker rebuilding the partition never sees it.
"""

from __future__ import annotations

import orjson
from faust.types import EventT, StreamT

from app.logic.limits import OutOfRange, check_ssid
from app.logic.ssids import InvalidSsidProbes, apply_ssid_probes, is_empty
from app.main import app
from app.tables.ssids import ssids_table
from app.tables.staged import fold_each, write_behind
from app.topics import ssid_probes_topic
from app.worker import dead_letters
from app.worker.counters import counters

STREAM = "ssid-probes"


@app.agent(ssid_probes_topic, name="fold-ssids")
async def fold_ssids(stream: StreamT[bytes]) -> None:
    """One message says: device M has sent N probes for this SSID, up to source offset O."""
    await fold_each(stream, STREAM, apply)


async def apply(event: EventT[bytes]) -> None:
    """Fold one message into its SSID's row, or dead-letter it saying why not."""
    message = event.message
    try:
        ssid = check_ssid((message.key or b"").decode("utf-8"), "key")
        update = orjson.loads(message.value) if message.value is not None else None
        key = ssid.encode()
        current = write_behind.get(ssids_table, message.partition, key)
        # A fresh copy: a row the update fails half-way through must stay as it was.
        row = apply_ssid_probes(orjson.loads(orjson.dumps(current)) if current else None, update)
    except UnicodeDecodeError:
        await dead_letters.reject(event, STREAM, "bad_key", "the key is not UTF-8")
        return
    except (orjson.JSONDecodeError, InvalidSsidProbes, OutOfRange) as bad:
        await dead_letters.reject(event, STREAM, "bad_value", str(bad))
        return
    if row is not None:
        write_behind.stage(ssids_table, message.partition, key, None if is_empty(row) else row)
        counters.incr(f"{STREAM}.applied")
    else:
        counters.incr(f"{STREAM}.duplicates_skipped")
