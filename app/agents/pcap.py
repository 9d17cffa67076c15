"""The ksqlDB demo's input: tshark-ek frames on `pcap`, turned into ProbeEvents on `probes`.

Forwarding (rather than folding here) keys each probe by MAC, so it is counted by the one agent
and partition that own that device. Each forwarded record names its source frame, so a frame
forwarded again after a crash is counted once (`app.logic.forwarding`).
"""

from __future__ import annotations

import orjson
from faust.types import EventT, StreamT

from app.logic.forwarding import ForwardedFrom, forwarded_headers
from app.logic.probe import InvalidProbe
from app.logic.tshark_ek import probe_from_tshark_ek
from app.main import app
from app.topics import pcap_topic, probes_topic
from app.worker import dead_letters
from app.worker.counters import counters

STREAM = "pcap"


@app.agent(pcap_topic, name="pcap-to-probes")
async def pcap_to_probes(stream: StreamT[bytes]) -> None:
    """Forward every probe request of the tshark feed; skip other frames, reject garbage."""
    await dead_letters.each_record(stream, STREAM, forward)


async def forward(event: EventT[bytes]) -> None:
    """Send one frame's probe on to `probes`, naming its source so a re-send counts once."""
    message = event.message
    value = message.value
    try:
        probe = probe_from_tshark_ek(orjson.loads(value) if value is not None else None)
    except orjson.JSONDecodeError:
        await dead_letters.reject(event, STREAM, "not_json", repr((value or b"")[:40]))
        return
    except InvalidProbe as bad:
        await dead_letters.reject(event, STREAM, bad.reason, str(bad))
        return
    if probe is None:
        counters.incr(f"{STREAM}.not_probe_request")
        return
    source = ForwardedFrom(STREAM, message.partition, message.offset)
    await probes_topic.send(
        key=probe.mac.encode(),
        value=orjson.dumps(probe.as_json_dict()),
        headers=forwarded_headers(source),
    )
    counters.incr(f"{STREAM}.forwarded")
