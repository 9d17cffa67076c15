"""Where Telegram updates are answered: `telegram-updates` → the aiogram dispatcher.

Every worker shares the topic's partitions, so any number of workers share the chats. Each
record is decoded and fed to the dispatcher with the Bot its `bot` header names; whatever goes
wrong with one update (bad JSON, an Update aiogram cannot read, a handler error, Telegram
refusing the reply) is logged without secrets, counted as `telegram.rejected.<reason>` and
skipped, so one poisoned update never stops the agent. Also starts the `BotService` (the Bot
objects; polling on the leader) and gives it the way to publish polled updates.
The agent exists only while the bot is on (PROBEWATCH_TELEGRAM_TOKEN set).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from faust.types import EventT, StreamT
from pydantic import ValidationError

from app.agents.once import once_per_record
from app.bot.config import BotIdentity
from app.bot.updates import (
    InvalidUpdate,
    bot_headers,
    bot_id_from_headers,
    decode_update,
    kafka_key,
)
from app.cli.preflight import EXIT_BAD_SETTING
from app.logic.erasure import looks_like_user_erasure
from app.main import app, settings
from app.topics import telegram_updates_topic
from app.worker import dead_letters
from app.worker.counters import counters
from app.worker.lifecycle import request_exit

if TYPE_CHECKING:
    from app.bot.service import BotService

logger = logging.getLogger(__name__)

STREAM = "telegram"


async def publish_update(bot: BotIdentity, update: dict[str, Any], body: bytes) -> None:
    """Put a polled update into the topic, as the webhook does, and return once Kafka has it."""
    delivery = await telegram_updates_topic.send(
        key=kafka_key(update), value=body, headers=bot_headers(bot.bot_id)
    )
    await delivery
    counters.incr(f"{STREAM}.polled")


async def handle_update(bots: BotService, event: EventT[bytes]) -> None:
    """Answer one record of the topic, or count why not; never raises.

    A record without a `bot` header (written by another tool) goes to the first bot.
    """
    where = dead_letters.where(event)
    if looks_like_user_erasure(event.value if isinstance(event.value, bytes) else None):
        counters.incr(f"{STREAM}.user_erasures")  # for the lake's archiver, not for the bot
        return
    try:
        update = decode_update(event.value if isinstance(event.value, bytes) else b"")
    except InvalidUpdate as bad:
        await dead_letters.reject(event, STREAM, bad.reason, str(bad))
        return
    config, dispatcher = bots.config, bots.dispatcher
    bot_id = bot_id_from_headers(event.headers)
    if bot_id is None and config is not None:
        bot_id = config.bots[0].bot_id
    bot = bots.bot(bot_id) if bot_id is not None else None
    if bot is None or dispatcher is None or config is None:
        await dead_letters.reject(event, STREAM, "unknown_bot", f"no bot {bot_id} in this worker")
        return
    try:
        await dispatcher.feed_raw_update(bot, update)
    except ValidationError as err:
        await dead_letters.reject(event, STREAM, "invalid_update", f"{err.error_count()} errors")
        return
    except Exception as err:
        detail = config.redact(f"{type(err).__name__}: {err}")[:300]
        counters.reject(STREAM, "handler_error", f"{detail} at {where}")
        return
    counters.incr(f"{STREAM}.handled")


if settings.telegram_token is not None:
    # aiogram takes seconds to import (its pydantic models): only a worker with a bot pays that.
    from app.bot.service import BotService
    from app.web.access import worker_headers

    bots = BotService(
        settings,
        publish=publish_update,
        is_leader=app.is_leader,
        on_unusable=lambda err: request_exit(EXIT_BAD_SETTING, err.line()),
        credential=worker_headers,
    )

    @app.task  # type: ignore[untyped-decorator]
    async def start_bots() -> None:
        """Start the bots with the worker (and stop them with it); a bad token stops the worker."""
        await app.add_runtime_dependency(bots)

    @app.agent(telegram_updates_topic, name="telegram-updates")
    async def answer_updates(stream: StreamT[bytes]) -> None:
        """Feed each update to the dispatcher, in order within a chat (the key is the chat id)."""
        await bots.wait_ready()
        await dead_letters.each_record(
            stream, STREAM, once_per_record(STREAM, partial(handle_update, bots))
        )
