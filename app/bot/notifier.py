"""Alerts to chats: each Alert as one message to every subscribed chat on the allow-list.

The notifier has Bot objects (and HTTP sessions) of its own, so the alerts agent depends on no
other agent; it needs no getMe, since the `BotService` checks the tokens at start. Every chat is
tried on its own: a chat that blocked the bot (403), a chat Telegram no longer knows, a network
error is logged without secrets and counted as failed, and the next chat still gets its message.
A short flood-control wait (429) is waited out once. A subscribed chat no longer on the
allow-list gets nothing: the allow-list is checked again for every alert.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter
from mode import Service

from app.bot.config import BotConfigError, TelegramConfig, telegram_config
from app.bot.format import format_alert
from app.bot.service import new_bot
from app.models import Alert, Subscriber
from app.settings import Settings

logger = logging.getLogger(__name__)

#: How long one chat's sendMessage may take before it counts as failed (aiogram waits 60 s).
SEND_TIMEOUT_S = 10
#: Longest flood-control wait (Telegram's `retry_after`) worth holding the alert stream for.
MAX_RETRY_AFTER_S = 5.0


@dataclass
class Delivery:
    """What became of one alert: messages sent, chats that failed, chats not allowed."""

    sent: int = 0
    failed: int = 0
    not_allowed: int = 0


class AlertSender(Service):
    """Sends alerts through this deployment's bots; `wait_ready` before the first `send`."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.config: TelegramConfig | None = None
        self.bots: dict[int, Bot] = {}
        self._ready = asyncio.Event()

    async def on_start(self) -> None:
        """Make the Bots; a bad configuration is left to the BotService, which stops the worker."""
        try:
            config = telegram_config(self.settings)
        except BotConfigError:
            return
        if config is None:
            return
        self.config = config
        self.bots = {identity.bot_id: new_bot(identity, config) for identity in config.bots}
        self._ready.set()

    async def wait_ready(self) -> None:
        """Until the Bots exist (never, while the bot is off or misconfigured)."""
        await self._ready.wait()

    async def send(self, alert: Alert, subscribers: Iterable[Subscriber]) -> Delivery:
        """One message to every subscriber on the allow-list; one chat's failure stops no other."""
        config = self.config
        if config is None:
            raise RuntimeError("AlertSender.send before the sender is ready")
        text = format_alert(alert, config.timezone)
        delivery = Delivery()
        for subscriber in subscribers:
            if subscriber.chat_id not in config.allowed_chats:
                delivery.not_allowed += 1
                continue
            bot_id = subscriber.bot_id if subscriber.bot_id is not None else config.bots[0].bot_id
            bot = self.bots.get(bot_id)
            if bot is None:
                logger.warning(
                    "alert not sent to chat %d: it subscribed through bot %d, which this "
                    "deployment no longer serves",
                    subscriber.chat_id,
                    bot_id,
                )
                delivery.failed += 1
            elif await self._send_one(bot, subscriber.chat_id, text, config):
                delivery.sent += 1
            else:
                delivery.failed += 1
        return delivery

    async def _send_one(self, bot: Bot, chat_id: int, text: str, config: TelegramConfig) -> bool:
        """Send one message; False (logged) when Telegram or the network refused it."""
        for attempt in (1, 2):
            try:
                await bot.send_message(chat_id, text, request_timeout=SEND_TIMEOUT_S)
                return True
            except TelegramRetryAfter as err:
                if attempt == 1 and err.retry_after <= MAX_RETRY_AFTER_S:
                    await self.sleep(err.retry_after)
                    continue
                problem = f"flood control, retry after {err.retry_after} s"
            except Exception as err:
                problem = f"{type(err).__name__}: {err}"
            logger.warning("alert not sent to chat %d: %s", chat_id, config.redact(problem)[:300])
            return False
        return False

    async def on_stop(self) -> None:
        for bot in self.bots.values():
            await bot.session.close()
