"""Fold `ssid-probes` (the probe stream re-keyed by SSID) into the `ssids` table."""

from __future__ import annotations

import orjson
from faust.types import EventT, StreamT

from app.logic.limits import OutOfRange, check_ssid
from app.logic.ssids import InvalidSsidProbes, apply_ssid_probes
from app.main import app
from app.tables.ssids import ssids_table
from app.topics import ssid_probes_topic
from app.worker import dead_letters
from app.worker.counters import counters

STREAM = "ssid-probes"


@app.agent(ssid_probes_topic, name="fold-ssids")
async def fold_ssids(stream: StreamT[bytes]) -> None:
    """One message says: device M sent N more probes for this SSID, up to source offset O."""
    await dead_letters.each_record(stream, STREAM, apply)


async def apply(event: EventT[bytes]) -> None:
    """Fold one message into its SSID's row, or dead-letter it saying why not."""
    message = event.message
    try:
        ssid = check_ssid((message.key or b"").decode("utf-8"), "key")
        update = orjson.loads(message.value) if message.value is not None else None
        row = apply_ssid_probes(ssids_table.get(ssid), update)
    except UnicodeDecodeError:
        await dead_letters.reject(event, STREAM, "bad_key", "the key is not UTF-8")
        return
    except (orjson.JSONDecodeError, InvalidSsidProbes, OutOfRange) as bad:
        await dead_letters.reject(event, STREAM, "bad_value", str(bad))
        return
    if row is not None:
        ssids_table[ssid] = row
        counters.incr(f"{STREAM}.applied")
    else:
        counters.incr(f"{STREAM}.duplicates_skipped")
