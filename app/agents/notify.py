"""Where alerts reach people: `alerts` → one Telegram message per subscribed, allowed chat.

Alerts are keyed (and partitioned) by MAC, so each one is notified once, by the worker that owns
its partition; repeats of a device and SSID were already folded by the fold agent. A value that is
not an Alert is counted (`alerts.rejected.<reason>`) and skipped. Per alert, the messages sent,
the chats that failed (blocked the bot, network) and the subscribed chats no longer on the
allow-list are counted: `alerts.notified`, `alerts.notify_failed`, `alerts.not_allowed`.
The agent exists only while the bot is on (PROBEWATCH_TELEGRAM_TOKEN set).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

from faust.types import EventT, StreamT

from app.agents.once import once_per_record
from app.logic.alerts import InvalidAlert, decode_alert
from app.logic.subscriptions import subscribers_from
from app.main import app, settings
from app.topics import alerts_topic
from app.worker import dead_letters
from app.worker.counters import counters
from app.worker.lists import subscriptions

if TYPE_CHECKING:
    from app.bot.notifier import AlertSender

logger = logging.getLogger(__name__)

STREAM = "alerts"
SUBSCRIPTIONS_WAIT_S = 30.0


async def notify(sender: AlertSender, event: EventT[bytes]) -> None:
    """Send one record's alert to the subscribed chats, or count why not; never raises."""
    message = event.message
    try:
        alert = decode_alert(message.value if isinstance(message.value, bytes) else None)
    except InvalidAlert as bad:
        await dead_letters.reject(event, STREAM, bad.reason, str(bad))
        return
    try:
        delivery = await sender.send(alert, subscribers_from(subscriptions.items()))
    except Exception as err:
        counters.reject(
            STREAM, "notify_error", f"{type(err).__name__} at {dead_letters.where(event)}"
        )
        return
    counters.incr(f"{STREAM}.notified", delivery.sent)
    counters.incr(f"{STREAM}.notify_failed", delivery.failed)
    counters.incr(f"{STREAM}.not_allowed", delivery.not_allowed)


if settings.telegram_token is not None:
    # aiogram takes seconds to import (its pydantic models): only a worker with a bot pays that.
    from app.bot.notifier import AlertSender

    sender = AlertSender(settings)

    @app.task  # type: ignore[untyped-decorator]
    async def start_alert_sender() -> None:
        """Start the sender with the worker (and stop it with it)."""
        await app.add_runtime_dependency(sender)

    @app.agent(alerts_topic, name="notify-alerts")
    async def notify_alerts(stream: StreamT[bytes]) -> None:
        """Notify each alert in turn, once the subscribed chats are known.

        Without the whole subscription list an alert would reach too few chats, so the stream
        waits for the mirror (it keeps retrying Kafka on its own).
        """
        await sender.wait_ready()
        if not await subscriptions.wait_ready(timeout=SUBSCRIPTIONS_WAIT_S):
            logger.warning(
                "subscriptions not read within %.0f s; alerts wait for them", SUBSCRIPTIONS_WAIT_S
            )
            await subscriptions.wait_ready()
        await dead_letters.each_record(
            stream, STREAM, once_per_record(STREAM, partial(notify, sender))
        )
