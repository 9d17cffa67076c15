"""Fixtures for the bot: the fake Bot API, a Bot pointed at it, and a small stand-in of our API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiohttp import web

from app.bot.api import ProbewatchApi
from app.bot.dispatcher import build_dispatcher
from app.logic.lake.reports import REPORTS, BadReport, report_parameters
from app.logic.listing import ListingError, ListItem, parse_query
from app.logic.mac import InvalidMac, normalize_mac
from app.logic.names import InvalidName, clean_name, name_key
from app.logic.watchlist import InvalidWatch, clean_reason, clean_ssid
from tests.fake_telegram import FakeBotApi, SentMessage, text_update

TOKEN = "123456:TEST-token_abc"
BOT_ID = 123456
MAC = "f0:18:98:11:22:33"
LIST_ITEM_FIELDS = tuple(ListItem.__annotations__)
CHAT = 1001
STRANGER = 2002
#: An allowed supergroup; it may not see reports. STRANGERS is a group not allowed.
GROUP = -1001234567890
STRANGERS = -1009999999999
#: The bot as the fake Bot API introduces it (getMe).
BOT_USERNAME = f"probewatch_{BOT_ID}_bot"
#: Messages per day, as the lake's `messages-per-day` report answers them.
MESSAGES_PER_DAY = {
    "columns": ["day", "messages"],
    "rows": [{"day": "2026-11-18", "messages": 4}, {"day": "2026-11-19", "messages": 12}],
}

#: DeviceStats as `GET /devices/{mac}` serves them (app.logic.stats.device_stats).
STATS: dict[str, Any] = {
    "mac": MAC,
    "probe_count": 42,
    "first_seen": "2026-07-01T11:00:00.000Z",
    "last_seen": "2026-11-21T16:09:03.000Z",
    "first_seen_ts": 1782903600.0,
    "last_seen_ts": 1795277343.0,
    "ssids": ["Home <5G>", "Work & Co"],
    "unique_ssids": 2,
    "ssids_truncated": False,
    "wildcard_probes": 7,
    "rssi_last_dbm": -61,
    "rssi_min_dbm": -80,
    "rssi_max_dbm": -50,
    "rssi_avg_dbm": -64.5,
    "freq_mhz_last": 2412,
    "vendor": "Apple, Inc.",
    "randomized": False,
    "ie_fingerprint": None,
    "sensors": ["test-sensor"],
}


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run an aiohttp app on a free local port; yields its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


class FakeApi:
    """A stand-in of our HTTP API with the real validation rules; its state, knobs and log.

    `fail_with` statuses are answered first, one per request, whatever is asked; `requests`
    records (method, path with query, JSON body) of every call the bot made.
    """

    def __init__(self) -> None:
        self.url = ""
        self.devices: dict[str, dict[str, Any]] = {MAC: dict(STATS)}
        self.named_unseen: dict[str, str] = {}
        self.fail_with: list[int] = []
        self.watchlist: dict[str, str] = {}
        self.subscriptions: dict[int, int | None] = {}
        #: What `GET /analytics/{report}` answers: columns and rows per report (else no rows).
        self.reports: dict[str, dict[str, Any]] = {"messages-per-day": MESSAGES_PER_DAY}
        #: False: answer as a worker with PROBEWATCH_LAKE empty does (404).
        self.lake = True
        self.requests: list[tuple[str, str, Any]] = []

    def web_app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/devices/{mac}", self._device)
        app.router.add_get("/devices", self._devices_named)
        app.router.add_put("/devices/{mac}/name", self._name)
        app.router.add_delete("/devices/{mac}/name", self._unname)
        app.router.add_delete("/devices/{mac}", self._erase)
        app.router.add_get("/watchlist", self._watchlist)
        app.router.add_put("/watchlist/{ssid:.+}", self._watch)
        app.router.add_delete("/watchlist/{ssid:.+}", self._unwatch)
        app.router.add_put("/subscriptions/{chat}", self._subscribe)
        app.router.add_delete("/subscriptions/{chat}", self._unsubscribe)
        app.router.add_get("/analytics", self._analytics)
        app.router.add_get("/analytics/{report}", self._report)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.json() if request.can_read_body else None
        self.requests.append((request.method, request.path_qs, body))
        if self.fail_with:
            status = self.fail_with.pop(0)
            return web.json_response({"error": "failing on purpose"}, status=status)
        response: web.StreamResponse = await handler(request)
        return response

    async def _device(self, request: web.Request) -> web.Response:
        mac = request.match_info["mac"]
        if mac == "bad":
            return _error(400, "not a MAC address: 'bad'")
        if mac not in self.devices:
            return _error(404, f"no probes seen from {mac}")
        return web.json_response(self.devices[mac])

    async def _devices_named(self, request: web.Request) -> web.Response:
        """`GET /devices?name=` as the real API answers it: the query parsed by the real
        parser, names matched by part, list items (fewer fields than a device's own row),
        latest first, a page of `limit` and the count of all."""
        try:
            query = parse_query(request.query)
        except ListingError as bad:
            return web.json_response(bad.as_json(), status=400)
        wanted = name_key(query.name or "")
        found = [
            {field: d[field] for field in LIST_ITEM_FIELDS if field in d}
            for d in self.devices.values()
            if wanted in name_key(d.get("name") or "")
        ]
        found.sort(key=lambda d: -float(d.get("last_seen_ts") or 0))
        body = {"name": query.name, "devices": found[: query.limit], "count": len(found)}
        more = len(found) > query.limit
        return web.json_response({**body, "next_cursor": "page-2" if more else None})

    async def _name(self, request: web.Request) -> web.Response:
        try:
            mac = normalize_mac(request.match_info["mac"])
            name = clean_name((await request.json()).get("name"))
        except (InvalidMac, InvalidName) as bad:
            return _error(400, str(bad))
        if mac not in self.devices:
            self.named_unseen[mac] = name
            return web.json_response({"mac": mac, "name": name, "seen": False})
        self.devices[mac]["name"] = name
        return web.json_response({"mac": mac, "name": name, "seen": True})

    async def _erase(self, request: web.Request) -> web.Response:
        """As the real API answers: where the device was found, then nothing is left."""
        try:
            mac = normalize_mac(request.match_info["mac"])
        except InvalidMac as bad:
            return _error(400, str(bad))
        device = self.devices.pop(mac, None)
        found = {
            "device": device is not None,
            "history": device is not None,
            "name": bool(device and device.get("name"))
            or self.named_unseen.pop(mac, None) is not None,
            "ssids": len(device["ssids"]) if device else 0,
            "lake": self.lake,
        }
        return web.json_response({"mac": mac, "erased": found})

    async def _unname(self, request: web.Request) -> web.Response:
        mac = normalize_mac(request.match_info["mac"])
        if not self.devices.get(mac, {}).get("name"):
            return _error(404, f"{mac} has no name")
        self.devices[mac]["name"] = None
        return web.json_response({"mac": mac, "name": None})

    async def _watchlist(self, request: web.Request) -> web.Response:
        entries = [{"ssid": s, "reason": r} for s, r in sorted(self.watchlist.items())]
        return web.json_response({"watchlist": entries})

    async def _watch(self, request: web.Request) -> web.Response:
        try:
            ssid = clean_ssid(request.match_info["ssid"])
            reason = clean_reason((await request.json()).get("reason"))
        except InvalidWatch as bad:
            return _error(400, str(bad))
        self.watchlist[ssid] = reason
        return web.json_response({"ssid": ssid, "reason": reason, "watched": True})

    async def _unwatch(self, request: web.Request) -> web.Response:
        ssid = request.match_info["ssid"]
        if self.watchlist.pop(ssid, None) is None:
            return _error(404, f"{ssid!r} is not on the watch list")
        return web.json_response({"ssid": ssid, "watched": False})

    async def _subscribe(self, request: web.Request) -> web.Response:
        chat, bot = int(request.match_info["chat"]), (await request.json()).get("bot")
        changed = self.subscriptions.get(chat, 0) != bot
        self.subscriptions[chat] = bot
        return web.json_response({"chat_id": chat, "subscribed": True, "changed": changed})

    async def _unsubscribe(self, request: web.Request) -> web.Response:
        chat = int(request.match_info["chat"])
        changed = self.subscriptions.pop(chat, 0) != 0
        return web.json_response({"chat_id": chat, "subscribed": False, "changed": changed})

    async def _analytics(self, request: web.Request) -> web.Response:
        reports = [
            {"name": name, "about": r.about, "parameters": ["since", "until", *r.extra]}
            for name, r in sorted(REPORTS.items())
        ]
        return web.json_response({"reports": reports})

    async def _report(self, request: web.Request) -> web.Response:
        """`GET /analytics/{report}` with the real checks (app.web.analytics), canned rows."""
        name, given = request.match_info["report"], dict(request.query)
        if not self.lake:
            return _error(404, "there is no lake (PROBEWATCH_LAKE is empty)")
        report = REPORTS.get(name)
        try:
            if report is None:
                raise BadReport("report", f"no report {name!r} (see GET /analytics)")
            unknown = sorted(set(given) - {"since", "until", *report.extra})
            if unknown:
                raise BadReport(unknown[0], "is not a parameter of this report")
            report_parameters(report, given)
        except BadReport as bad:
            return web.json_response({"error": str(bad), "parameter": bad.parameter}, status=400)
        canned = self.reports.get(name, {"columns": ["day"], "rows": []})
        return web.json_response({"report": name, **canned})


def _error(status: int, error: str) -> web.Response:
    return web.json_response({"error": error}, status=status)


@pytest.fixture()
async def fake_api() -> AsyncIterator[FakeApi]:
    fake = FakeApi()
    async with serve(fake.web_app()) as url:
        fake.url = url
        yield fake


@pytest.fixture()
async def telegram() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi([TOKEN]) as fake:
        yield fake


def make_bot(base_url: str, token: str = TOKEN) -> Bot:
    return Bot(
        token,
        session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


@pytest.fixture()
async def bot(telegram: FakeBotApi) -> AsyncIterator[Bot]:
    bot = make_bot(telegram.base_url)
    yield bot
    await bot.session.close()


@pytest.fixture()
async def dispatcher(fake_api: FakeApi) -> AsyncIterator[Dispatcher]:
    """The real dispatcher, asking the stand-in API, serving CHAT only, in London time."""
    async with ProbewatchApi(fake_api.url, busy_retry_s=0.2) as api:
        yield build_dispatcher(
            api=api,
            allowed_chats=frozenset({CHAT, GROUP}),
            timezone=ZoneInfo("Europe/London"),
            stats_chats=frozenset({CHAT}),
            admin_chats=frozenset({CHAT}),
        )


class Chat:
    """Talk to the bot as a Telegram user would, and read its replies from the fake."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot, telegram: FakeBotApi) -> None:
        self.dispatcher = dispatcher
        self.bot = bot
        self.telegram = telegram
        self.update_id = 1000

    async def say(self, text: str, chat_id: int = CHAT) -> list[SentMessage]:
        """Feed one text message; the replies it got."""
        self.update_id += 1
        return await self.feed(text_update(self.update_id, chat_id, text), chat_id)

    async def say_in_group(
        self,
        text: str,
        *,
        chat_id: int = GROUP,
        entities: list[dict[str, Any]] | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> list[SentMessage]:
        """Feed a supergroup message (entities as given, commands found as Telegram does);
        `reply_to` is the `from` of the message it replies to. The replies it got."""
        self.update_id += 1
        update = text_update(self.update_id, chat_id, text, group=True)
        message = update["message"]
        message["chat"]["type"] = "supergroup"
        if entities is not None:
            message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = {
                "message_id": 1,
                "date": message["date"],
                "chat": message["chat"],
                "from": reply_to,
                "text": "an earlier message",
            }
        return await self.feed(update, chat_id)

    async def feed(self, update: dict[str, Any], chat_id: int) -> list[SentMessage]:
        """Feed any update; the replies `chat_id` got."""
        before = len(self.telegram.messages(chat_id))
        await self.dispatcher.feed_raw_update(self.bot, update)
        return self.telegram.messages(chat_id)[before:]


@pytest.fixture()
def chat(dispatcher: Dispatcher, bot: Bot, telegram: FakeBotApi) -> Chat:
    return Chat(dispatcher, bot, telegram)
