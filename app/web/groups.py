"""Probable devices: `GET /groups/{id}`, a group's MACs, totals, SSIDs and the evidence of each
link, from whichever worker owns it (a group's id is its first MAC, and its row lives where that
MAC's does: routed like `GET /devices/{mac}`)."""

from __future__ import annotations

from faust import web

from app.logic.grouping.members import group_view
from app.logic.mac import InvalidMac, normalize_mac
from app.tables.groups import group_row, groups_table
from app.web.routing import routed

blueprint = web.Blueprint("groups")


@blueprint.route("/groups/{group}", name="group")
class GroupView(web.View):
    """One probable device."""

    async def get(self, request: web.Request, group: str) -> web.Response:
        try:
            canonical = normalize_mac(group)
        except InvalidMac as bad:
            return self.json({"error": f"a group id is a MAC: {bad}"}, status=400)
        response = await routed(self, request, groups_table.name, canonical)
        if response is not None:
            return response
        row = group_row(canonical)
        if row is None:
            return self.json({"error": f"no group {canonical}"}, status=404)
        return self.json(group_view(canonical, row))
