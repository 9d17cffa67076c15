"""The mirrored lists of this deployment, started with every worker."""

from __future__ import annotations

from typing import Any

from app.logic.subscriptions import decode_subscription, parse_chat_id
from app.logic.watchlist import clean_ssid, decode_watch_value
from app.main import app, settings
from app.worker.topic_mirror import TopicMirror

#: SSID → reason.
watchlist = TopicMirror[str](
    "watchlist", settings.topic("ssid-watchlist"), decode_watch_value, clean_ssid
)


#: chat id → `{"subscribed": True, "bot": the bot it subscribed through, or None}`.
subscriptions = TopicMirror[dict[str, Any]](
    "subscriptions", settings.topic("chat-subscriptions"), decode_subscription, parse_chat_id
)


@app.task  # type: ignore[untyped-decorator]
async def start_mirrors() -> None:
    """Begin reading the lists as the worker starts; agents wait for them to be caught up."""
    await watchlist.start(settings.kafka_bootstrap_servers)
    await subscriptions.start(settings.kafka_bootstrap_servers)
