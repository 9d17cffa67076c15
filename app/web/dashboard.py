"""The dashboard: `GET /` serves one page, `GET /ui/{asset}` its scripts and style sheet.

The page is plain HTML, CSS and JavaScript modules kept in `app/web/ui/`, written for this
project and served as they are: no build step, nothing fetched from the internet, every chart
drawn as SVG by `ui/charts.js`. It reads the same HTTP API a user can call (listing, history,
streams, watch list, cluster), so every worker serves the whole dashboard.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from aiohttp import web as aiohttp_web
from faust import web

blueprint = web.Blueprint("dashboard")

#: The files of `app/web/ui/` a browser may ask for, and what they are.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
#: A browser keeps what it fetched and asks again each time (a 304 when unchanged), so a page
#: never mixes the scripts of two versions.
CACHE_CONTROL = "no-cache"


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def _load_assets() -> dict[str, Asset]:
    folder = resources.files("app.web") / "ui"
    assets: dict[str, Asset] = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in CONTENT_TYPES:
            body = entry.read_bytes()
            etag = hashlib.sha256(body).hexdigest()[:16]
            assets[entry.name] = Asset(body, CONTENT_TYPES[suffix], etag)
    return assets


ASSETS = _load_assets()


@blueprint.route("/", name="dashboard")
class DashboardView(web.View):
    """The dashboard page (every view of it is drawn in the browser from the API)."""

    async def get(self, request: web.Request) -> aiohttp_web.Response:
        return _answer(request, ASSETS["index.html"])


@blueprint.route("/ui/{asset}", name="dashboard-asset")
class AssetView(web.View):
    """A script or style sheet of the dashboard."""

    async def get(self, request: web.Request, asset: str) -> web.Response | aiohttp_web.Response:
        found = ASSETS.get(asset)
        if found is None:
            return self.json({"error": f"no dashboard asset named {asset!r}"}, status=404)
        return _answer(request, found)


def _answer(request: web.Request, asset: Asset) -> aiohttp_web.Response:
    headers = {"ETag": f'"{asset.etag}"', "Cache-Control": CACHE_CONTROL}
    if request.headers.get("If-None-Match") == headers["ETag"]:
        return aiohttp_web.Response(status=304, headers=headers)
    headers["Content-Type"] = asset.content_type
    return aiohttp_web.Response(body=asset.body, headers=headers)
