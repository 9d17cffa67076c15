"""`GET /ssids/{ssid}`: which devices probed for an SSID, with counts, from the SSID's owner;
`GET /ssids`: the SSIDs most devices probed for, counted over every worker's devices."""

from __future__ import annotations

from faust import web

from app.logic.listing import ListingError
from app.logic.listing.ranking import (
    TopShare,
    first_size,
    parse_ranking_query,
    ranked,
    top_share,
)
from app.logic.ssids import ssid_view
from app.logic.watchlist import InvalidWatch, clean_ssid
from app.main import app
from app.tables.listing import device_index, owned_devices_partitions
from app.tables.ssids import ssid_row, ssids_table
from app.web.gather import WorkerUnavailable, gather, is_local_request
from app.web.paths import BadPath, path_tail
from app.web.routing import OwnerUnknown, recovering, routed
from app.web.server import RETRY_AFTER_S
from app.worker.device_index import NotReady

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


@blueprint.route("/ssids", name="ssids")
class SsidsView(web.View):
    """The SSIDs the most devices probed for, most first (`app.logic.listing.ranking`)."""

    async def get(self, request: web.Request) -> web.Response:
        try:
            query = parse_ranking_query(request.query)
        except ListingError as bad:
            return self.json(bad.as_json(), status=400)
        if is_local_request(request):
            return self.json(local_share(query.top or 0).as_json())
        try:
            shares = await _shares(request, first_size(query.limit))
            first = ranked(shares, query.limit)
            if first is None:
                first = ranked(await _shares(request, 0), query.limit)
        except (WorkerUnavailable, ValueError) as err:
            return self.json(
                {"error": f"cannot rank SSIDs: {err}"},
                status=503,
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        ssids = [{"ssid": ssid, "devices": devices} for ssid, devices in first or ()]
        return self.json({"ssids": ssids})


async def _shares(request: web.Request, size: int) -> list[TopShare]:
    answers = await gather(app, request, {"top": str(size)})
    return [TopShare.from_json(answer) for answer in answers]


def local_share(size: int) -> TopShare:
    """This worker's share: its `size` SSIDs with most devices (0: all), from its index."""
    if recovering(app):
        raise OwnerUnknown("this worker is reading its tables back from Kafka; retry shortly")
    try:
        index = device_index.ready_index(owned_devices_partitions())
    except NotReady as why:
        raise OwnerUnknown(str(why)) from None
    return top_share(index.devices_per_ssid(), size)
