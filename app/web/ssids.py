"""`GET /ssids/{ssid}`: which devices probed for an SSID, with counts, from the SSID's owner."""

from __future__ import annotations

from faust import web

from app.logic.ssids import ssid_view
from app.logic.watchlist import InvalidWatch, clean_ssid
from app.tables.ssids import ssid_row, ssids_table
from app.web.paths import BadPath, path_tail
from app.web.routing import routed

blueprint = web.Blueprint("ssids")


@blueprint.route(r"/ssids/{ssid:[\s\S]+}", name="ssid")
class SsidView(web.View):
    async def get(self, request: web.Request, ssid: str) -> web.Response:
        try:
            ssid = clean_ssid(path_tail(request, "/ssids/"))
        except (InvalidWatch, BadPath) as bad:
            return self.json({"error": str(bad)}, status=400)
        response = await routed(self, request, ssids_table.name, ssid)
        if response is not None:
            return response
        row = ssid_row(ssid)
        if row is None:
            return self.json({"error": f"no device probed for {ssid!r}"}, status=404)
        return self.json(ssid_view(ssid, row))
