"""The one Dispatcher of a worker: routers in order, the chat allow-list, injected dependencies."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from aiogram import Dispatcher
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import BotCommand, ErrorEvent

from app.bot.api import ApiUnavailable, ProbewatchApi
from app.bot.format import request_failed
from app.bot.middlewares import AddressedMiddleware, AllowedChatsMiddleware
from app.bot.routers import devices, erase, names, start, stats, subscriptions, watchlist

logger = logging.getLogger(__name__)

#: The command menu Telegram shows (setMyCommands).
BOT_COMMANDS = (
    BotCommand(command="device", description="Statistics of a device: /device aa:bb:cc:dd:ee:ff"),
    BotCommand(command="name", description="Name a device: /name aa:bb:cc:dd:ee:ff Alice phone"),
    BotCommand(command="unname", description="Forget a device's name: /unname <mac>"),
    BotCommand(command="watch", description='Watch an SSID: /watch "Free WiFi" phishing bait'),
    BotCommand(command="unwatch", description="Stop watching an SSID: /unwatch Free WiFi"),
    BotCommand(command="watchlist", description="The watched SSIDs"),
    BotCommand(command="subscribe", description="Get an alert here when a watched SSID is probed"),
    BotCommand(command="unsubscribe", description="No more alerts in this chat"),
    BotCommand(command="stats", description="Reports over the history: /stats messages-per-day 7d"),
    BotCommand(
        command="erase", description="Erase a device everywhere (admin chats): /erase <mac>"
    ),
    BotCommand(command="help", description="What this bot does and how to ask it"),
    BotCommand(command="start", description="Start talking to the bot"),
)


async def api_unavailable(event: ErrorEvent) -> None:
    """A handler's API call failed (down, timing out, rebalancing): tell the chat, don't go quiet.

    Look-ups answer such failures themselves; this catches the edits, lists and reports.
    """
    logger.warning("API call for a chat failed: %s", event.exception)
    message = event.update.message
    if message is not None:
        await message.answer(request_failed(str(event.exception)))


def build_dispatcher(
    *,
    api: ProbewatchApi,
    allowed_chats: frozenset[int],
    timezone: ZoneInfo,
    stats_chats: frozenset[int] = frozenset(),
    admin_chats: frozenset[int] = frozenset(),
) -> Dispatcher:
    """A dispatcher whose handlers get `api`, `timezone`, `stats_chats` and `admin_chats`
    injected by name.

    Group messages not meant for the bot are dropped before the allow-list (which would answer
    them) and any handler. The devices router goes last: its catch-all takes any text.
    """
    dp = Dispatcher(name="probewatch")
    dp.update.outer_middleware(AddressedMiddleware(c.command for c in BOT_COMMANDS))
    dp.update.outer_middleware(AllowedChatsMiddleware(allowed_chats))
    dp.errors.register(api_unavailable, ExceptionTypeFilter(ApiUnavailable))
    dp.include_routers(
        start.create_router(),
        names.create_router(),
        watchlist.create_router(),
        subscriptions.create_router(),
        stats.create_router(),
        erase.create_router(),
        devices.create_router(),
    )
    dp["api"] = api
    dp["timezone"] = timezone
    dp["stats_chats"] = stats_chats
    dp["admin_chats"] = admin_chats
    return dp


#: Update types Telegram is asked for although no handler answers them: the lake keeps every
#: message of a chat (`telegram-updates` → `messages`), edits and channel posts included.
KEPT_UPDATE_TYPES = ("message", "edited_message", "channel_post", "edited_channel_post")


def update_types(dispatcher: Dispatcher) -> list[str]:
    """What to ask Telegram for: the types the handlers use, and those the lake keeps."""
    return sorted({*dispatcher.resolve_used_update_types(), *KEPT_UPDATE_TYPES})
