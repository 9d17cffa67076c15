"""Device look-ups: `/device <mac>`, or any text that is a MAC address (the catch-all).

Each reply comes from the HTTP API (`GET /devices/{mac}`), never from a table, so it is right
whichever worker handles the chat. A query is parsed into a query type first; look-up by device
name will be a further type with its own branch in `parse_query` and `lookup`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from app.bot.api import (
    ApiUnavailable,
    DeviceFound,
    DeviceNotFound,
    InvalidQuery,
    ProbewatchApi,
)
from app.bot.format import format_device, invalid_query, lookup_failed, no_result, not_a_mac
from app.logic.mac import InvalidMac, normalize_mac

logger = logging.getLogger(__name__)

USAGE = "Send /device followed by a MAC address, e.g. <code>/device aa:bb:cc:dd:ee:ff</code>."
UNKNOWN_COMMAND = "I don't know that command. /help lists what I can do."


@dataclass(frozen=True)
class MacQuery:
    """A question about the device with this (canonical) MAC address."""

    mac: str


DeviceQuery = MacQuery


def parse_query(text: str) -> DeviceQuery | None:
    """What the user asked about, or None when the text is no query we know."""
    try:
        return MacQuery(normalize_mac(text))
    except InvalidMac:
        return None


async def lookup(query: DeviceQuery, api: ProbewatchApi, timezone: ZoneInfo) -> str:
    """The reply to one query, failures included: the user always gets an answer."""
    try:
        result = await api.device(query.mac)
    except ApiUnavailable as err:
        logger.warning("device look-up failed: %s", err)
        return lookup_failed(str(err))
    match result:
        case DeviceFound(stats):
            return format_device(stats, timezone)
        case DeviceNotFound(mac):
            return no_result(mac)
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


async def any_text(message: Message, api: ProbewatchApi, timezone: ZoneInfo) -> None:
    """Any other text: a MAC address in any common spelling, or a hint."""
    text = message.text or ""
    if text.startswith("/"):
        await message.answer(UNKNOWN_COMMAND)
        return
    await answer_query(message, text, api, timezone)


def create_router() -> Router:
    """A fresh router: aiogram attaches a router to one dispatcher only, and tests build many.

    The catch-all text handler is registered last, after the command it must not shadow.
    """
    router = Router(name=__name__)
    router.message.register(command_device, Command("device"))
    router.message.register(any_text, F.text)
    return router
