"""Before any handler runs: group messages not meant for the bot are dropped unanswered, then
the chat allow-list is enforced (device histories are personal data)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import Chat, TelegramObject, Update

from app.bot.addressing import GROUPS, addressed_text
from app.bot.format import refused

#: The key handlers read what a message asks from (`addressed_text` of `app.bot.addressing`).
ADDRESSED = "addressed_text"

logger = logging.getLogger(__name__)


class AllowedChatsMiddleware(BaseMiddleware):
    """Pass updates from allowed chats on; answer a message from any other chat with a refusal.

    An outer middleware on `dp.update`, so it runs after aiogram has found the update's chat
    (`event_chat`) and before any filter or handler. Updates without a chat are dropped.
    """

    def __init__(self, allowed: frozenset[int]) -> None:
        self.allowed = allowed

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        chat = data.get("event_chat")
        if isinstance(chat, Chat) and chat.id in self.allowed:
            return await handler(event, data)
        if isinstance(chat, Chat) and isinstance(event, Update) and event.message is not None:
            logger.info("refused a message from chat %d, which is not allowed", chat.id)
            await event.message.answer(refused(chat.id))
        return None


class AddressedMiddleware(BaseMiddleware):
    """Drop what the bot must not answer; tell handlers what a message asks of it.

    An outer middleware on `dp.update`, registered before the allow-list, so a group that is
    not allowed is not told so for every message its members exchange. Channel posts are never
    answered. A group message not meant for the bot (see `app.bot.addressing`) stops here:
    it reached Kafka, and so the lake, before the dispatcher saw it. For the others, handlers
    get `addressed_text`: the text, with a mention of the bot taken out.
    """

    def __init__(self, commands: Iterable[str]) -> None:
        self.commands = frozenset(command.lower() for command in commands)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        if event.channel_post is not None or event.edited_channel_post is not None:
            return None
        message = event.message
        if message is not None:
            text: str | None = message.text or ""
            if message.chat.type in GROUPS:
                bot: Bot = data["bot"]  # its getMe answer is cached (BotService asked at start)
                text = addressed_text(message, await bot.me(), self.commands)
            if text is None:
                return None
            data[ADDRESSED] = text
        return await handler(event, data)
