"""The mirrored lists of this deployment, started with every worker."""

from __future__ import annotations

from app.logic.watchlist import decode_watch_value
from app.main import app, settings
from app.mirror import TopicMirror

#: SSID → reason.
watchlist = TopicMirror[str]("watchlist", settings.topic("ssid-watchlist"), decode_watch_value)


def _decode_subscription(raw: bytes | None) -> bool | None:
    return None if raw is None else True


#: chat id → subscribed to alerts.
subscriptions = TopicMirror[bool](
    "subscriptions", settings.topic("chat-subscriptions"), _decode_subscription
)


@app.task  # type: ignore[untyped-decorator]
async def start_mirrors() -> None:
    """Begin reading the lists as the worker starts; agents wait for them to be caught up."""
    await watchlist.start(settings.kafka_bootstrap_servers)
    await subscriptions.start(settings.kafka_bootstrap_servers)
