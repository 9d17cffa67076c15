"""Push queries as Server-Sent Events: `GET /stream/probes`, `GET /stream/alerts`.

One JSON object per `data:` line, optional filters `mac` and `ssid`; `curl -N` shows them live.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web as aiohttp_web
from faust import web

from app.logic.mac import InvalidMac, normalize_mac
from app.main import settings
from app.worker.fanout import Event, TopicFanout

blueprint = web.Blueprint("streams")

KEEPALIVE_S = 15.0

fanouts = {
    name: TopicFanout(
        name, settings.topic(name), settings.kafka_bootstrap_servers, settings.stream_queue_size
    )
    for name in ("probes", "alerts")
}


def event_filter(query: Any) -> Any:
    """`mac` (any spelling) and `ssid` (exact) filters; InvalidMac for a malformed MAC."""
    mac = normalize_mac(query["mac"]) if query.get("mac") else None
    ssid = query.get("ssid")

    def wants(event: Event) -> bool:
        return (mac is None or event.get("mac") == mac) and (
            ssid is None or event.get("ssid") == ssid
        )

    return wants


async def serve_events(request: web.Request, fanout: TopicFanout) -> aiohttp_web.StreamResponse:
    """Stream matching events until the client goes away."""
    try:
        wants = event_filter(request.query)
    except InvalidMac as bad:
        return aiohttp_web.json_response({"error": str(bad)}, status=400)
    response = aiohttp_web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)  # type: ignore[arg-type]
    subscriber = await fanout.subscribe(wants)
    try:
        await response.write(b": listening\n\n")
        while True:
            try:
                event = await asyncio.wait_for(subscriber.queue.get(), KEEPALIVE_S)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if subscriber.dropped:
                notice = orjson.dumps({"dropped": subscriber.dropped})
                subscriber.dropped = 0
                await response.write(b"event: dropped\ndata: " + notice + b"\n\n")
            await response.write(b"data: " + orjson.dumps(event) + b"\n\n")
    except ConnectionResetError:
        pass  # the client went away; unsubscribing is all there is to do
    finally:
        await fanout.unsubscribe(subscriber)
    return response


@blueprint.route("/stream/probes", name="stream-probes")
class ProbeStreamView(web.View):
    async def get(self, request: web.Request) -> Any:
        return await serve_events(request, fanouts["probes"])


@blueprint.route("/stream/alerts", name="stream-alerts")
class AlertStreamView(web.View):
    async def get(self, request: web.Request) -> Any:
        return await serve_events(request, fanouts["alerts"])
