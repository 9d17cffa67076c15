"""History over time: `GET /devices/{mac}/activity` (from the device's owner) and
`GET /activity` (every partition's counters, gathered from every worker and added up)."""

from __future__ import annotations

from typing import Any

from faust import web

from app.logic.activity import (
    BadParameter,
    Counters,
    deployment_activity,
    device_activity,
    merge_counters,
    newest_ts,
    parse_activity_query,
)
from app.logic.grouping.members import add_probable_devices
from app.main import app, settings
from app.tables.activity import activity_counters_table, device_activity_row, partition_counters
from app.tables.devices import device_row, devices_table
from app.tables.groups import group_counters_table, partition_group_counters
from app.web.devices import owned_here
from app.web.gather import WorkerUnavailable, gather, is_local_request, owned_partitions
from app.web.routing import OwnerUnknown, partition_of, recovering

blueprint = web.Blueprint("activity")


def bad_parameter(view: web.View, bad: BadParameter) -> web.Response:
    return view.json({"error": str(bad), "parameter": bad.parameter}, status=400)


@blueprint.route("/devices/{mac}/activity", name="device-activity")
class DeviceActivityView(web.View):
    """A device's probes and signal per minute (last hour), hour (last week) and day (last
    year), from whichever worker owns its partition."""

    async def get(self, request: web.Request, mac: str) -> web.Response:
        canonical = await owned_here(self, request, mac)
        if not isinstance(canonical, str):
            return canonical
        # Co-partitioned with `devices`, whose layout finding the owner just made known.
        topic = devices_table.changelog_topic.get_topic_name()
        partition = partition_of(app, topic, canonical.encode())
        row = device_activity_row(partition, canonical)
        if row is None:
            return self.json({"error": _unknown(canonical)}, status=404)
        counts = partition_counters(partition)
        now = newest_ts(None if counts is None else counts["counters"])
        return self.json({"mac": canonical, **device_activity(row["activity"], now)})


@blueprint.route("/activity", name="activity")
class ActivityView(web.View):
    """The deployment's probes, devices and new devices per minute, hour or day."""

    async def get(self, request: web.Request) -> web.Response:
        try:
            query = parse_activity_query(request.query)
        except BadParameter as bad:
            return bad_parameter(self, bad)
        if is_local_request(request):
            return self.json(local_counters())
        try:
            shares = await gather(self.app, request)
        except WorkerUnavailable as err:
            return self.json({"error": f"cannot add up activity: {err}"}, status=503)
        by_partition: dict[str, Counters | None] = {}
        groups: dict[str, Counters | None] = {}
        for share in shares:
            by_partition.update(share["partitions"])
            groups.update(share.get("groups", {}))
        # A worker of an older version gives no groups' share: then no probable devices.
        known = all("groups" in share for share in shares)
        every = set(range(settings.partitions))
        missing = sorted(
            (every - set(map(int, by_partition)))
            | (every - set(map(int, groups)) if known else set())
        )
        if missing:
            return self.json(
                {"error": f"no worker answered for partitions {missing}; retry shortly"},
                status=503,
            )
        merged = merge_counters(rows for rows in by_partition.values() if rows is not None)
        devices = merge_counters(rows for rows in groups.values() if rows is not None)
        return self.json(
            add_probable_devices(
                deployment_activity(merged, query),
                devices,
                query.resolution,
                settings.grouping and known,
            )
        )


def _unknown(mac: str) -> str:
    if device_row(mac) is None:
        return f"no probes seen from {mac}"
    return f"no history of {mac}: its probes were captured far ahead of this worker's clock"


def local_counters() -> dict[str, Any]:
    """This worker's share: the counters of each partition it actively owns (null: no probe
    folded there yet), and the probable devices' counters of each partition of groups it owns."""
    if recovering(app):
        raise OwnerUnknown("this worker is reading its tables back from Kafka; retry shortly")
    topic = activity_counters_table.changelog_topic.get_topic_name()
    shares: dict[str, Counters | None] = {}
    for partition in sorted(owned_partitions(app, topic)):
        row = partition_counters(partition)
        shares[str(partition)] = None if row is None else row["counters"]
    groups: dict[str, Counters | None] = {}
    for partition in sorted(
        owned_partitions(app, group_counters_table.changelog_topic.get_topic_name())
    ):
        held = partition_group_counters(partition)
        groups[str(partition)] = None if held is None else held["counters"]
    return {"partitions": shares, "groups": groups}
