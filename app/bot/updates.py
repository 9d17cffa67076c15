"""Raw Telegram updates on their way into Kafka: what is checked, how they are keyed and labelled.

The webhook and the polling loop both publish through these rules, so the `telegram-updates`
topic holds the same records whichever mode received them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

#: The Kafka header naming the bot (its numeric id) an update was sent to; never the token.
BOT_HEADER = "bot"


class InvalidUpdate(ValueError):
    """Not a Telegram Update; `reason` is the short name it is counted under."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def decode_update(body: bytes) -> dict[str, Any]:
    """The update as a dict: a JSON object with an integer `update_id`, or InvalidUpdate."""
    try:
        update = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidUpdate("not_json", "the body is not JSON") from None
    if not isinstance(update, dict):
        raise InvalidUpdate("not_an_object", "the body is not a JSON object")
    update_id = update.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise InvalidUpdate("no_update_id", "the update has no integer update_id")
    return update


def chat_id_of(update: Mapping[str, Any]) -> int | None:
    """The chat an update belongs to (or its sender, for chat-less updates such as inline queries).

    An Update carries one payload object besides `update_id`; its `chat`, the chat of its
    `message` (callback queries) or its `from` user names the conversation.
    """
    for value in update.values():
        if not isinstance(value, dict):
            continue
        message = value.get("message")
        for holder in (value, message if isinstance(message, dict) else {}):
            chat = holder.get("chat")
            if isinstance(chat, dict) and _is_int(chat.get("id")):
                return int(chat["id"])
        user = value.get("from")
        if isinstance(user, dict) and _is_int(user.get("id")):
            return int(user["id"])
    return None


def kafka_key(update: Mapping[str, Any]) -> bytes:
    """The record key: the chat id, so a chat's updates stay in order in one partition."""
    chat_id = chat_id_of(update)
    return str(chat_id if chat_id is not None else 0).encode()


def bot_headers(bot_id: int) -> list[tuple[str, bytes]]:
    """The record's label: which bot the update was sent to, so the agent answers as that bot."""
    return [(BOT_HEADER, str(bot_id).encode())]


def bot_id_from_headers(headers: Mapping[str, bytes | None]) -> int | None:
    """The bot id a record was labelled with; None when it has no (readable) label."""
    raw = headers.get(BOT_HEADER)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
