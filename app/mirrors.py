"""The mirrored lists of this deployment, started with every worker."""

from __future__ import annotations

from typing import Any

import orjson

from app.logic.watchlist import decode_watch_value
from app.main import app, settings
from app.mirror import TopicMirror

#: SSID → reason.
watchlist = TopicMirror[str]("watchlist", settings.topic("ssid-watchlist"), decode_watch_value)


def _decode_subscription(raw: bytes | None) -> dict[str, Any] | None:
    """`{"subscribed": true, "bot": <bot id>}` as `{"subscribed": True, "bot": id or None}`.

    The bot is the one the chat subscribed through, so alerts reach it through that bot; a
    value without one (an older or a hand-written record) means the first bot. A tombstone or
    `"subscribed": false` ends the subscription; any other shape raises ValueError (counted).
    """
    if raw is None:
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValueError("value is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("subscribed"), bool):
        raise ValueError('value must be a JSON object like {"subscribed": true, "bot": 123}')
    if not data["subscribed"]:
        return None
    bot = data.get("bot")
    if bot is not None and (not isinstance(bot, int) or isinstance(bot, bool) or bot <= 0):
        raise ValueError("bot must be a bot's numeric id")
    return {"subscribed": True, "bot": bot}


#: chat id → `{"subscribed": True, "bot": the bot it subscribed through, or None}`.
subscriptions = TopicMirror[dict[str, Any]](
    "subscriptions", settings.topic("chat-subscriptions"), _decode_subscription
)


@app.task  # type: ignore[untyped-decorator]
async def start_mirrors() -> None:
    """Begin reading the lists as the worker starts; agents wait for them to be caught up."""
    await watchlist.start(settings.kafka_bootstrap_servers)
    await subscriptions.start(settings.kafka_bootstrap_servers)
