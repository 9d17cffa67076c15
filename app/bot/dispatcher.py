"""The one Dispatcher of a worker: routers in order, the chat allow-list, injected dependencies."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import Dispatcher
from aiogram.types import BotCommand

from app.bot.api import ProbewatchApi
from app.bot.middlewares import AllowedChatsMiddleware
from app.bot.routers import devices, start

#: The command menu Telegram shows (setMyCommands).
BOT_COMMANDS = (
    BotCommand(command="device", description="Statistics of a device: /device aa:bb:cc:dd:ee:ff"),
    BotCommand(command="help", description="What this bot does and how to ask it"),
    BotCommand(command="start", description="Start talking to the bot"),
)


def build_dispatcher(
    *, api: ProbewatchApi, allowed_chats: frozenset[int], timezone: ZoneInfo
) -> Dispatcher:
    """A dispatcher whose handlers get `api` and `timezone` injected by parameter name."""
    dp = Dispatcher(name="probewatch")
    dp.update.outer_middleware(AllowedChatsMiddleware(allowed_chats))
    dp.include_routers(start.create_router(), devices.create_router())
    dp["api"] = api
    dp["timezone"] = timezone
    return dp
