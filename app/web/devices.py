"""Where devices are served: the listing (`GET /devices`), one device, naming a device, and
erasing one (`DELETE /devices/{mac}`)."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from typing import Any

import orjson
from faust import web

from app.logic.erasure import erasure_record
from app.logic.listing import DeviceQuery, ListingError, Page, merge_pages, parse_query
from app.logic.mac import InvalidMac, normalize_mac
from app.logic.names import InvalidName, clean_name, encode_name_value
from app.logic.stats import device_stats
from app.main import app, settings
from app.tables.activity import device_activity_row
from app.tables.devices import device_partition, device_row, devices_table
from app.tables.listing import device_index, owned_devices_partitions
from app.tables.names import device_name, device_names_table, names_applied
from app.topics import device_names_topic, probes_topic
from app.web.gather import WorkerUnavailable, gather, is_local_request
from app.web.replicas import (
    STANDBY_HEADER,
    InvalidReplica,
    parse_replica,
    standby_caught_up,
)
from app.web.routing import OwnerUnknown, recovering, routed
from app.web.server import RETRY_AFTER_S, read_body
from app.worker.counters import counters
from app.worker.device_index import NotReady

blueprint = web.Blueprint("devices")

#: How long a name edit waits to see itself in the table before answering.
EDIT_VISIBLE_WITHIN_S = 10.0


def stats_with_name(mac: str) -> dict[str, Any] | None:
    """DeviceStats plus the device's name and its probable device (`group`: null until its
    shard decided it, or with grouping off), from this worker's tables: it must own the MAC, or
    hold a caught-up standby copy of its partition (`app.web.replicas`)."""
    partition = device_partition(mac)
    state = device_row(mac, partition)
    if state is None:
        return None
    return {
        **device_stats(mac, state),
        "name": device_name(mac, partition),
        "group": state.get("group"),
        "group_in_doubt": state.get("group_in_doubt", False),
    }


async def owned_here(
    view: web.View,
    request: web.Request,
    mac: str,
    body: bytes | None = None,
    *,
    from_standby: Callable[[str], web.Response | None] | None = None,
) -> str | web.Response:
    """The canonical MAC when this worker owns it, else the answer to give: a 400 for a malformed
    MAC, the owning worker's own answer (or `from_standby`'s, when it gives one), or a 503
    during a rebalance."""
    try:
        canonical = normalize_mac(mac)
    except InvalidMac as bad:
        return view.json({"error": str(bad)}, status=400)
    standby = None if from_standby is None else functools.partial(from_standby, canonical)
    response = await routed(
        view, request, devices_table.name, canonical, body, from_standby=standby
    )
    return canonical if response is None else response


@blueprint.route("/devices/{mac}", name="device")
class DeviceView(web.View):
    """One device's statistics, from whichever worker owns its partition; with `?replica=any`,
    from this worker's standby copy of it when that copy is caught up (`app.web.replicas`)."""

    async def get(self, request: web.Request, mac: str) -> web.Response:
        try:
            replica = parse_replica(request.query.get("replica"))
        except InvalidReplica as bad:
            return self.json({"error": str(bad)}, status=400)
        standby = self._from_standby if replica == "any" else None
        canonical = await owned_here(self, request, mac, from_standby=standby)
        if not isinstance(canonical, str):
            return canonical
        return self._answer(canonical)

    def _answer(self, canonical: str, headers: dict[str, str] | None = None) -> web.Response:
        stats = stats_with_name(canonical)
        if stats is None:
            return self.json(
                {"error": f"no probes seen from {canonical}"}, status=404, headers=headers
            )
        return self.json(stats, headers=headers)

    def _from_standby(self, canonical: str) -> web.Response | None:
        """The answer of this worker's standby copy of a MAC another worker owns, when the copy
        has applied all its changelogs hold; None to have the owner answer."""
        partition = device_partition(canonical)
        if partition is None:
            return None
        if not standby_caught_up(self.app, (devices_table, device_names_table), partition):
            return None
        counters.incr("reads.standby")
        return self._answer(canonical, {STANDBY_HEADER: "standby"})

    async def delete(self, request: web.Request, mac: str) -> web.Response:
        """Erase the device everywhere probewatch keeps it (`app.logic.erasure`): the request
        goes through its own partition of `probes`; answered once this worker (its owner) has
        applied it, saying where it was found."""
        canonical = await owned_here(self, request, mac)
        if not isinstance(canonical, str):
            return canonical
        state = device_row(canonical)
        found = {
            "device": state is not None,
            "history": device_activity_row(None, canonical) is not None,
            "name": device_names_table.get(canonical) is not None,
            "ssids": len(state["ssids"]) if state is not None else 0,
            "lake": bool(settings.lake),
        }
        key, value = erasure_record(canonical, "api")
        await (await probes_topic.send(key=key, value=value))
        if not await _erased(canonical):
            return self.json(
                {"error": "the erasure was stored in Kafka but is not applied yet", "mac": mac},
                status=202,
            )
        return self.json({"mac": canonical, "erased": found})


async def _erased(mac: str) -> bool:
    """Whether the fold on this worker has applied the erasure within EDIT_VISIBLE_WITHIN_S:
    the row is gone, and the name too (its tombstone goes with the next flush)."""
    deadline = time.monotonic() + EDIT_VISIBLE_WITHIN_S
    while time.monotonic() < deadline:
        if device_row(mac) is None and device_names_table.get(mac) is None:
            return True
        await asyncio.sleep(0.05)
    return False


@blueprint.route("/devices/{mac}/name", name="device-name")
class DeviceNameView(web.View):
    """Name a device (`PUT {"name": …}`) or forget its name (`DELETE`), at run time.

    The edit is produced to `device-names`, the same topic inventories feed, and answered once
    the owning worker's table shows it, so a GET right after sees the new name. A device may be
    named before it is seen (users name their own devices to watch for them); `seen` says which.
    """

    async def put(self, request: web.Request, mac: str) -> web.Response:
        body = await read_body(request)
        canonical = await owned_here(self, request, mac, body)
        if not isinstance(canonical, str):
            return canonical
        try:
            payload = orjson.loads(body)
            name = clean_name(payload.get("name") if isinstance(payload, dict) else None)
        except orjson.JSONDecodeError:
            return self.json({"error": 'body must be JSON like {"name": "…"}'}, status=400)
        except InvalidName as bad:
            return self.json({"error": str(bad)}, status=400)
        source = request.query.get("source", "http")[:16]
        await device_names_topic.send(key=canonical.encode(), value=encode_name_value(name, source))
        return await self._visible(canonical, name)

    async def delete(self, request: web.Request, mac: str) -> web.Response:
        canonical = await owned_here(self, request, mac)
        if not isinstance(canonical, str):
            return canonical
        if device_names_table.get(canonical) is None:
            return self.json({"error": f"{canonical} has no name"}, status=404)
        await (await device_names_topic.send(key=canonical.encode(), value=None))
        return await self._visible(canonical, None)

    async def _visible(self, mac: str, name: str | None) -> web.Response:
        """Answer once the names agent on this worker has applied the edit."""
        applied = await names_applied.wait_until(
            lambda: device_names_table.get(mac) == name, EDIT_VISIBLE_WITHIN_S
        )
        if not applied:
            return self.json(
                {"error": "the edit was stored in Kafka but is not applied yet", "mac": mac},
                status=202,
            )
        return self.json({"mac": mac, "name": name, "seen": device_row(mac) is not None})


@blueprint.route("/devices", name="devices")
class DevicesView(web.View):
    """`GET /devices`: a page of the devices of every worker, sorted and filtered
    (`app.logic.listing`); `?name=` is its name filter (a substring, case-insensitive)."""

    async def get(self, request: web.Request) -> web.Response:
        try:
            query = parse_query(request.query)
        except ListingError as bad:
            return self.json(bad.as_json(), status=400)
        if is_local_request(request):
            return self.json(local_page(query).as_json(query))
        try:
            shares = await gather(self.app, request)
            pages = [Page.from_json(share) for share in shares]
        except (WorkerUnavailable, ValueError) as err:
            return self.json(
                {"error": f"cannot list devices: {err}"},
                status=503,
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        return self.json(merge_pages(pages, query).as_json(query))


def local_page(query: DeviceQuery) -> Page:
    """This worker's share: its page of the partitions it actively owns; a 503 (OwnerUnknown)
    while its tables or its index are being rebuilt."""
    if recovering(app):
        raise OwnerUnknown("this worker is reading its tables back from Kafka; retry shortly")
    try:
        return device_index.query(query, owned_devices_partitions())
    except NotReady as why:
        raise OwnerUnknown(str(why)) from None
