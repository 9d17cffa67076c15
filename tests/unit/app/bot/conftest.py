"""Fixtures for the bot: the fake Bot API, a Bot pointed at it, and a tiny stand-in of our API."""

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
from tests.fake_telegram import FakeBotApi, SentMessage, text_update

TOKEN = "123456:TEST-token_abc"
BOT_ID = 123456
MAC = "f0:18:98:11:22:33"
CHAT = 1001
STRANGER = 2002

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


def devices_app(devices: dict[str, dict[str, Any]], fail_with: list[int]) -> web.Application:
    """A stand-in of `GET /devices/{mac}`: known devices, else 404; `fail_with` statuses first."""

    async def device(request: web.Request) -> web.Response:
        if fail_with:
            status = fail_with.pop(0)
            return web.json_response({"error": "failing on purpose"}, status=status)
        mac = request.match_info["mac"]
        if mac == "bad":
            return web.json_response({"error": "not a MAC address: 'bad'"}, status=400)
        if mac not in devices:
            return web.json_response({"error": f"no probes seen from {mac}"}, status=404)
        return web.json_response(devices[mac])

    app = web.Application()
    app.router.add_get("/devices/{mac}", device)
    return app


class DevicesApi:
    """The stand-in's URL and its knobs."""

    def __init__(self, url: str, devices: dict[str, dict[str, Any]], fail_with: list[int]):
        self.url = url
        self.devices = devices
        self.fail_with = fail_with


@pytest.fixture()
async def devices_api() -> AsyncIterator[DevicesApi]:
    devices = {MAC: dict(STATS)}
    fail_with: list[int] = []
    async with serve(devices_app(devices, fail_with)) as url:
        yield DevicesApi(url, devices, fail_with)


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
async def dispatcher(devices_api: DevicesApi) -> AsyncIterator[Dispatcher]:
    """The real dispatcher, asking the stand-in API, serving CHAT only, in London time."""
    async with ProbewatchApi(devices_api.url, busy_retry_s=0.2) as api:
        yield build_dispatcher(
            api=api, allowed_chats=frozenset({CHAT}), timezone=ZoneInfo("Europe/London")
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
        before = len(self.telegram.messages(chat_id))
        self.update_id += 1
        await self.dispatcher.feed_raw_update(self.bot, text_update(self.update_id, chat_id, text))
        return self.telegram.messages(chat_id)[before:]


@pytest.fixture()
def chat(dispatcher: Dispatcher, bot: Bot, telegram: FakeBotApi) -> Chat:
    return Chat(dispatcher, bot, telegram)
