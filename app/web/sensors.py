"""`GET /sensors`: every sensor, with the probes it heard, its devices and its last probe,
added up from every partition's tally (`app.logic.sensors`) and every worker's index."""

from __future__ import annotations

from typing import Any

from faust import web

from app.logic.sensors import SensorTally, merge_sensors, sensors_json
from app.main import app, settings
from app.tables.activity import activity_counters_table, partition_counters
from app.tables.listing import device_index, owned_devices_partitions
from app.web.gather import WorkerUnavailable, gather, is_local_request, owned_partitions
from app.web.routing import OwnerUnknown, recovering
from app.web.server import RETRY_AFTER_S
from app.worker.device_index import NotReady

blueprint = web.Blueprint("sensors")


@blueprint.route("/sensors", name="sensors")
class SensorsView(web.View):
    async def get(self, request: web.Request) -> web.Response:
        if is_local_request(request):
            return self.json(local_sensors())
        try:
            shares = await gather(self.app, request)
            tallies, devices = _added_up(shares)
        except (WorkerUnavailable, ValueError) as err:
            return self.json(
                {"error": f"cannot add up the sensors: {err}"},
                status=503,
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        return self.json({"sensors": sensors_json(merge_sensors(tallies), devices)})


def _added_up(shares: list[Any]) -> tuple[list[SensorTally], dict[str, int]]:
    """Every partition's tally and the devices per sensor; ValueError when a partition of
    `probes` has no worker's answer (a partial sum would be silently wrong)."""
    by_partition: dict[str, SensorTally | None] = {}
    devices: dict[str, int] = {}
    for share in shares:
        by_partition.update(share["partitions"])
        for sensor, count in share["devices"].items():
            devices[sensor] = devices.get(sensor, 0) + count
    missing = sorted(set(range(settings.partitions)) - set(map(int, by_partition)))
    if missing:
        raise ValueError(f"no worker answered for partitions {missing}; retry shortly")
    return [tally for tally in by_partition.values() if tally], devices


def local_sensors() -> dict[str, Any]:
    """This worker's share: the tally of each `probes` partition it actively owns (null: none
    yet), and its devices per sensor."""
    if recovering(app):
        raise OwnerUnknown("this worker is reading its tables back from Kafka; retry shortly")
    try:
        index = device_index.ready_index(owned_devices_partitions())
    except NotReady as why:
        raise OwnerUnknown(str(why)) from None
    topic = activity_counters_table.changelog_topic.get_topic_name()
    tallies: dict[str, SensorTally | None] = {}
    for partition in sorted(owned_partitions(app, topic)):
        row = partition_counters(partition)
        tallies[str(partition)] = None if row is None else row.get("sensors")
    return {"partitions": tallies, "devices": index.devices_per_sensor()}
