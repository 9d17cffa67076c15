"""Long polling (development, no public URL): getUpdates on the leader, each update into Kafka.

Polled updates take the same road as webhook ones (the `telegram-updates` topic, then the agent),
so both modes are processed alike. Only the faust leader polls, since Telegram serves one
getUpdates caller per bot; leadership moves on a rebalance, so it is checked before every call.
An update is confirmed to Telegram (the next call's `offset`) only after Kafka has it: at least
once, never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiogram import Bot
from aiogram.exceptions import TelegramConflictError, TelegramUnauthorizedError
from aiogram.methods.base import TelegramMethod

from app.bot.config import BotIdentity

logger = logging.getLogger(__name__)

#: Publishes one update (its bot, the decoded update, the JSON bytes) and returns once stored.
Publish = Callable[[BotIdentity, dict[str, Any], bytes], Awaitable[None]]
Sleep = Callable[[float], Awaitable[Any]]

LEADER_CHECK_S = 1.0
MAX_BACKOFF_S = 30.0


class RawGetUpdates(TelegramMethod[list[dict[str, Any]]]):
    """getUpdates returning each update as Telegram sent it, not as aiogram's model of it.

    The topic is the raw zone: a field this aiogram version does not know must survive.
    """

    __returning__ = list[dict[str, Any]]
    __api_method__ = "getUpdates"

    offset: int | None = None
    limit: int | None = None
    timeout: int | None = None
    allowed_updates: list[str] | None = None


class Poller:
    """The getUpdates loop of one bot; `run` returns when `stopped()` says so."""

    def __init__(
        self,
        bot: Bot,
        identity: BotIdentity,
        *,
        publish: Publish,
        is_leader: Callable[[], bool],
        stopped: Callable[[], bool],
        sleep: Sleep,
        allowed_updates: list[str] | None = None,
        timeout: int = 10,
    ) -> None:
        self.bot = bot
        self.identity = identity
        self.publish = publish
        self.is_leader = is_leader
        self.stopped = stopped
        self.sleep = sleep
        self.allowed_updates = allowed_updates
        self.timeout = timeout
        #: The next update id to ask for; None = Telegram's oldest unconfirmed one.
        self.offset: int | None = None
        self._backoff = 1.0

    async def run(self) -> None:
        """Poll while leader; on errors back off and retry, since the worker must keep going."""
        while not self.stopped():
            if not self.is_leader():
                await self._hand_over()
                await self.sleep(LEADER_CHECK_S)
                continue
            try:
                await self.poll_once()
                self._backoff = 1.0
            except TelegramConflictError:
                logger.error(
                    "bot %d: Telegram refuses getUpdates while a webhook is set or another "
                    "poller runs; run `probewatch webhook-delete` to use polling mode",
                    self.identity.bot_id,
                )
                await self._wait()
            except TelegramUnauthorizedError:
                logger.error("bot %d: Telegram no longer accepts its token", self.identity.bot_id)
                await self._wait()
            except Exception as err:
                logger.warning(
                    "bot %d: polling failed (%s), retrying in %.0f s",
                    self.identity.bot_id,
                    type(err).__name__,
                    self._backoff,
                )
                await self._wait()

    async def poll_once(self) -> int:
        """One getUpdates call; publishes what it got and returns how many updates that was."""
        updates = await self.bot(
            RawGetUpdates(
                offset=self.offset, timeout=self.timeout, allowed_updates=self.allowed_updates
            ),
            request_timeout=self.timeout + 10,
        )
        for update in updates:
            update_id = update.get("update_id") if isinstance(update, dict) else None
            if not isinstance(update_id, int):
                logger.warning(
                    "bot %d: skipped a polled update without update_id", self.identity.bot_id
                )
                continue
            await self.publish(self.identity, update, orjson.dumps(update))
            self.offset = update_id + 1
        return len(updates)

    async def _hand_over(self) -> None:
        """Confirm what this worker published, so the next leader does not publish it again."""
        if self.offset is None:
            return
        try:
            await self.bot(RawGetUpdates(offset=self.offset, limit=1, timeout=0))
        except Exception as err:
            logger.warning(
                "bot %d: could not confirm updates (%s)", self.identity.bot_id, type(err).__name__
            )
        self.offset = None

    async def _wait(self) -> None:
        await self.sleep(self._backoff)
        self._backoff = min(self._backoff * 2, MAX_BACKOFF_S)
