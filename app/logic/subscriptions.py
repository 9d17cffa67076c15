"""Chats subscribed to alerts: valid chat ids, the bot a chat chose, and the topic's records.

The same rules hold for the HTTP API and for the `chat-subscriptions` topic, so every chat
listed can be unsubscribed again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from app.models import Subscriber

logger = logging.getLogger(__name__)

#: A Telegram chat id: users are positive, groups and channels negative; at most 52 bits.
_CHAT_ID = re.compile(r"-?[1-9][0-9]{0,15}")
_BODY_SHAPE = 'body must be JSON like {"bot": 123456789}'


class InvalidSubscription(ValueError):
    """A chat id, body or record that cannot be a subscription; the message says why."""


def parse_chat_id(text: str) -> int:
    if not _CHAT_ID.fullmatch(text):
        raise InvalidSubscription(f"not a Telegram chat id: {text[:30]!r}")
    return int(text)


def check_bot_id(bot: Any) -> int | None:
    """A bot's numeric id (the part of its token before the colon), or None for the first bot."""
    if bot is not None and (not isinstance(bot, int) or isinstance(bot, bool) or bot <= 0):
        raise InvalidSubscription("bot must be a bot's numeric id")
    if bot is not None and bot >= 2**63:
        raise InvalidSubscription("bot must be a bot's numeric id")
    return bot


def parse_bot(body: bytes) -> int | None:
    """The bot of `{"bot": <bot id>}`; an empty body (or no `bot`) means the first bot."""
    if not body.strip():
        return None
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidSubscription(_BODY_SHAPE) from None
    if not isinstance(payload, dict):
        raise InvalidSubscription(_BODY_SHAPE)
    return check_bot_id(payload.get("bot"))


def decode_subscription(raw: bytes | None) -> dict[str, Any] | None:
    """A `chat-subscriptions` record as `{"subscribed": True, "bot": id or None}`.

    The bot is the one the chat subscribed through, so alerts reach it through that bot; a
    value without one (an older or a hand-written record) means the first bot. A tombstone or
    `"subscribed": false` ends the subscription; any other shape raises InvalidSubscription.
    """
    if raw is None:
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidSubscription("value is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("subscribed"), bool):
        raise InvalidSubscription('value must be a JSON object like {"subscribed": true, "bot": 1}')
    if not data["subscribed"]:
        return None
    return {"subscribed": True, "bot": check_bot_id(data.get("bot"))}


def subscribers_from(items: Iterable[tuple[str, Mapping[str, Any]]]) -> list[Subscriber]:
    """The `subscriptions` mirror's entries as subscribers; a key that is no chat id is skipped."""
    found = []
    for key, value in items:
        try:
            chat_id = int(key)
        except ValueError:
            logger.debug("skipped subscription key %r: not a chat id", key[:30])
            continue
        bot_id = value.get("bot")
        found.append(Subscriber(chat_id, bot_id if isinstance(bot_id, int) else None))
    return found
