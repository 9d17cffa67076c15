"""Where a device is served: `GET /devices/{mac}`."""

from __future__ import annotations

from faust import web

from app.logic.mac import InvalidMac, normalize_mac
from app.logic.stats import device_stats
from app.main import app
from app.tables.devices import devices_table
from app.web.routing import routed

blueprint = web.Blueprint("devices")


@blueprint.route("/devices/{mac}", name="device")
class DeviceView(web.View):
    """One device's statistics, from whichever worker owns its partition."""

    async def get(self, request: web.Request, mac: str) -> web.Response:
        try:
            canonical = normalize_mac(mac)
        except InvalidMac as bad:
            return self.json({"error": str(bad)}, status=400)
        response = await routed(self, request, app, devices_table.name, canonical)
        if response is not None:
            return response
        state = devices_table.get(canonical)
        if state is None:
            return self.json({"error": f"no probes seen from {canonical}"}, status=404)
        return self.json(device_stats(canonical, state))


blueprint.register(app)
