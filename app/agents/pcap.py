"""The ksqlDB demo's input: tshark-ek frames on `pcap`, turned into ProbeEvents on `probes`.

Forwarding (rather than folding here) keys each probe by MAC, so it is counted by the one agent
and partition that own that device.
"""

from __future__ import annotations

import orjson
from faust.types import StreamT

from app.counters import counters
from app.logic.probe import InvalidProbe
from app.logic.tshark_ek import probe_from_tshark_ek
from app.main import app
from app.topics import pcap_topic, probes_topic

STREAM = "pcap"


@app.agent(pcap_topic, name="pcap-to-probes")
async def pcap_to_probes(stream: StreamT[bytes]) -> None:
    """Forward every probe request of the tshark feed; skip other frames, reject garbage."""
    async for value in stream:
        try:
            probe = probe_from_tshark_ek(orjson.loads(value) if value is not None else None)
        except orjson.JSONDecodeError:
            counters.reject(STREAM, "not_json", repr(value[:40]))
            continue
        except InvalidProbe as bad:
            counters.reject(STREAM, bad.reason, str(bad))
            continue
        if probe is None:
            counters.incr(f"{STREAM}.not_probe_request")
            continue
        await probes_topic.send(key=probe.mac.encode(), value=orjson.dumps(probe.as_json_dict()))
        counters.incr(f"{STREAM}.forwarded")
