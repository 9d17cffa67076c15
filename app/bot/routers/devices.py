"""Device look-ups: `/device <mac or name>`, or any text that is a MAC or a name (the catch-all).

Each reply comes from the HTTP API (`GET /devices/{mac}`, `GET /devices?name=`), never from a
table, so it is right whichever worker handles the chat. A query is parsed into a query type
first (a MAC in any spelling, else a device name), then looked up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from app.bot.api import (
    ApiUnavailable,
    DeviceFound,
    DeviceLookup,
    DeviceNotFound,
    DevicesNamed,
    InvalidQuery,
    NameLookup,
    ProbewatchApi,
)
from app.bot.format import (
    format_device,
    format_devices_named,
    invalid_query,
    lookup_failed,
    mention_usage,
    no_result,
    not_a_mac,
)
from app.logic.mac import InvalidMac, normalize_mac
from app.logic.names import MAX_NAME

logger = logging.getLogger(__name__)

USAGE = (
    "Send /device followed by a MAC address or a device's name, e.g. "
    "<code>/device aa:bb:cc:dd:ee:ff</code>."
)
UNKNOWN_COMMAND = "I don't know that command. /help lists what I can do."


@dataclass(frozen=True)
class MacQuery:
    """A question about the device with this (canonical) MAC address."""

    mac: str


@dataclass(frozen=True)
class NameQuery:
    """A question about the devices with this name (compared case-insensitively by the API)."""

    name: str


DeviceQuery = MacQuery | NameQuery


def parse_query(text: str) -> DeviceQuery | None:
    """A MAC in any spelling, else a name; None for text no device could be named."""
    try:
        return MacQuery(normalize_mac(text))
    except InvalidMac:
        pass
    name = " ".join(text.split())
    if not name or len(name) > MAX_NAME:
        return None
    return NameQuery(name)


async def lookup(query: DeviceQuery, api: ProbewatchApi, timezone: ZoneInfo) -> str:
    """The reply to one query, failures included: the user always gets an answer."""
    try:
        match query:
            case MacQuery(mac):
                return _by_mac(await api.device(mac), timezone)
            case NameQuery(name):
                return _by_name(name, await _named(name, api), timezone)
    except ApiUnavailable as err:
        logger.warning("device look-up failed: %s", err)
        return lookup_failed(str(err))


def _by_mac(result: DeviceLookup, timezone: ZoneInfo) -> str:
    match result:
        case DeviceFound(stats):
            return format_device(stats, timezone)
        case DeviceNotFound(mac):
            return no_result(mac)
        case InvalidQuery(error):
            return invalid_query(error)


async def _named(name: str, api: ProbewatchApi) -> NameLookup:
    """The devices with `name` in their name. One alone is answered in full, from its own
    row: a listing item lacks some statistics, and the listing trails the rows by up to a
    flush interval (the device may just have been named right after its first probe)."""
    result = await api.devices_named(name)
    if isinstance(result, DevicesNamed) and result.count == 1 and len(result.devices) == 1:
        full = await api.device(str(result.devices[0].get("mac", "")))
        if isinstance(full, DeviceFound):
            return DevicesNamed((full.stats,), 1)
    return result


def _by_name(name: str, result: NameLookup, timezone: ZoneInfo) -> str:
    match result:
        case DevicesNamed(devices, count):
            return format_devices_named(name, devices, timezone, count=count)
        case InvalidQuery(error):
            return invalid_query(error)


async def answer_query(message: Message, text: str, api: ProbewatchApi, timezone: ZoneInfo) -> None:
    """Reply to `text` as a query; the reply is awaited here (see feed_raw_update's caveat)."""
    query = parse_query(text)
    if query is None:
        await message.answer(not_a_mac(text))
        return
    await message.answer(await lookup(query, api, timezone))


async def command_device(
    message: Message, command: CommandObject, api: ProbewatchApi, timezone: ZoneInfo
) -> None:
    """`/device <mac>`."""
    if not command.args:
        await message.answer(USAGE)
        return
    await answer_query(message, command.args, api, timezone)


async def any_text(
    message: Message, addressed_text: str, bot: Bot, api: ProbewatchApi, timezone: ZoneInfo
) -> None:
    """Any other text: a MAC address in any common spelling, a device's name, or a hint.

    `addressed_text` is the text without a mention of the bot (`AddressedMiddleware`): in a
    group, `@ThisBot Alice phone` asks for "Alice phone"; a bare mention gets the usage.
    """
    if addressed_text.startswith("/"):
        await message.answer(UNKNOWN_COMMAND)
        return
    if not addressed_text.strip():
        await message.answer(mention_usage((await bot.me()).username or "bot"))
        return
    await answer_query(message, addressed_text, api, timezone)


def create_router() -> Router:
    """A fresh router: aiogram attaches a router to one dispatcher only, and tests build many.

    The catch-all text handler is registered last, after the command it must not shadow.
    """
    router = Router(name=__name__)
    router.message.register(command_device, Command("device"))
    router.message.register(any_text, F.text)
    return router
