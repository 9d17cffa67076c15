"""The chat allow-list, enforced before any handler runs: device histories are personal data."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, TelegramObject, Update

from app.bot.format import refused

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
