"""The SSID watch list over HTTP: `GET /watchlist`, `PUT` and `DELETE /watchlist/{ssid}`.

Every worker holds the whole list (see `app.worker.topic_mirror`), so any worker answers and an
edit through any of them changes alerting everywhere, without a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from faust import web

from app.logic.watchlist import InvalidWatch, clean_reason, clean_ssid, encode_watch_value
from app.topics import ssid_watchlist_topic
from app.web.paths import BadPath, path_tail
from app.web.server import read_body
from app.worker.lists import watchlist
from app.worker.topic_mirror import TopicMirror

blueprint = web.Blueprint("watchlist")

EDIT_VISIBLE_WITHIN_S = 10.0


def watchlist_json() -> dict[str, Any]:
    return {"watchlist": [{"ssid": ssid, "reason": reason} for ssid, reason in watchlist.items()]}


@blueprint.route("/watchlist", name="watchlist")
class WatchlistView(web.View):
    async def get(self, request: web.Request) -> web.Response:
        return self.json(watchlist_json())


@blueprint.route(r"/watchlist/{ssid:[\s\S]+}", name="watch")
class WatchView(web.View):
    """One watched SSID (URL-encode it: `/watchlist/Caf%C3%A9%20M%C3%BCller`)."""

    async def put(self, request: web.Request, ssid: str) -> web.Response:
        body = await read_body(request)
        try:
            ssid = clean_ssid(path_tail(request, "/watchlist/"))
            payload = orjson.loads(body) if body.strip() else {}
            if not isinstance(payload, dict):
                raise InvalidWatch('body must be JSON like {"reason": "…"}')
            reason = clean_reason(payload.get("reason"))
        except orjson.JSONDecodeError:
            return self.json({"error": 'body must be JSON like {"reason": "…"}'}, status=400)
        except (InvalidWatch, BadPath) as bad:
            return self.json({"error": str(bad)}, status=400)
        await (await ssid_watchlist_topic.send(key=ssid.encode(), value=encode_watch_value(reason)))
        return await self._answer_when(lambda m: m.get(ssid) == reason, ssid, reason)

    async def delete(self, request: web.Request, ssid: str) -> web.Response:
        try:
            ssid = path_tail(request, "/watchlist/")
        except BadPath as bad:
            return self.json({"error": str(bad)}, status=400)
        if ssid not in watchlist:
            return self.json({"error": f"{ssid!r} is not on the watch list"}, status=404)
        await (await ssid_watchlist_topic.send(key=ssid.encode(), value=None))
        return await self._answer_when(lambda m: ssid not in m, ssid, None)

    async def _answer_when(
        self, applied: Callable[[TopicMirror[str]], bool], ssid: str, reason: str | None
    ) -> web.Response:
        """Answer once this worker's copy of the list shows the edit (read your writes)."""
        if not await watchlist.wait_until(applied, EDIT_VISIBLE_WITHIN_S):
            return self.json(
                {"error": "stored in Kafka, not applied yet", "ssid": ssid}, status=202
            )
        if reason is None:
            return self.json({"ssid": ssid, "watched": False})
        return self.json({"ssid": ssid, "reason": reason, "watched": True})
