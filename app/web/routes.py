"""The route table: every module of the HTTP API, registered on the App here and nowhere else.

| module | routes |
|---|---|
| health | `GET /health` |
| devices | `GET /devices` (`?name=`…), `GET /devices/{mac}`, `PUT`/`DELETE /devices/{mac}/name` |
| groups | `GET /groups/{group}` (a probable device: randomized MACs grouped) |
| activity | `GET /devices/{mac}/activity`, `GET /activity` |
| ssids | `GET /ssids` (the most probed for), `GET /ssids/{ssid}` |
| sensors | `GET /sensors` |
| analytics | `GET /analytics`, `GET /analytics/{report}` (reports over the lake) |
| watchlist | `GET /watchlist`, `PUT`/`DELETE /watchlist/{ssid}` |
| subscriptions | `GET /subscriptions`, `PUT`/`DELETE /subscriptions/{chat_id}` |
| streams | `GET /stream/probes`, `GET /stream/alerts` (Server-Sent Events) |
| cluster | `GET /cluster`, `GET /metrics` |
| telegram | `POST /telegram/{secret path}`, only while the bot is on |
| telegram_users | `DELETE /telegram-users/{user_id}` (a user's messages, from the lake) |
| dashboard | `GET /` (the page), `GET /ui/{asset}` (its scripts and style sheet) |
| docs | `GET /openapi.json` (the description, `app.web.openapi`), `GET /docs` (the same, a page) |
| session | `POST /login`, `POST /logout` (the dashboard's token, in a cookie) |

Every request passes `app.web.access` (tokens and roles) between routing and its view.
"""

from __future__ import annotations

from app.main import app, settings
from app.web import (
    access,
    activity,
    analytics,
    cluster,
    dashboard,
    devices,
    docs,
    groups,
    health,
    sensors,
    session,
    ssids,
    streams,
    subscriptions,
    telegram,
    telegram_users,
    watchlist,
)

MODULES = (
    health,
    devices,
    groups,
    activity,
    ssids,
    sensors,
    watchlist,
    subscriptions,
    streams,
    cluster,
    analytics,
    telegram_users,
)
for module in (*MODULES, dashboard, docs, session):
    module.blueprint.register(app)
access.install(app.web.web_app)  # type: ignore[attr-defined]
if settings.telegram_token is not None:
    telegram.blueprint.register(app)
