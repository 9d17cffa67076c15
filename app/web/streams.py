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
from app.main import app, settings
from app.worker.fanout import Event, TopicFanout

blueprint = web.Blueprint("streams")

KEEPALIVE_S = 15.0
#: The streams being served. A stream never ends by itself, and the web server waits for every
#: request in progress before it stops: a worker stopping while a dashboard or `curl -N` is
#: connected waited out its whole shutdown deadline (30 s) and exited with status 3.
_serving: set[asyncio.Task[Any]] = set()
_stopping = False

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
    if _stopping:  # a stream begun now would hold the stop back again
        return aiohttp_web.json_response(
            {"error": "this worker is stopping; connect to another one"}, status=503
        )
    response = aiohttp_web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)  # type: ignore[arg-type]
    subscriber = await fanout.subscribe(wants)
    task = asyncio.current_task()
    assert task is not None
    _serving.add(task)
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
    except asyncio.CancelledError:
        if not _stopping:
            raise
        await response.write_eof()  # the worker is stopping: the stream ends, cleanly
    finally:
        _serving.discard(task)
        await fanout.unsubscribe(subscriber)
    return response


@app.on_before_shutdown.connect  # type: ignore[arg-type]
async def _end_streams(app: Any, **_: Any) -> None:
    """End every stream before the web server stops (it waits for requests in progress)."""
    global _stopping
    _stopping = True
    for task in list(_serving):
        task.cancel()


@blueprint.route("/stream/probes", name="stream-probes")
class ProbeStreamView(web.View):
    async def get(self, request: web.Request) -> Any:
        return await serve_events(request, fanouts["probes"])


@blueprint.route("/stream/alerts", name="stream-alerts")
class AlertStreamView(web.View):
    async def get(self, request: web.Request) -> Any:
        return await serve_events(request, fanouts["alerts"])
