"""The SSID watch list: valid entries and the messages of the `ssid-watchlist` topic."""

from __future__ import annotations

from typing import Any

import orjson

MAX_SSID_BYTES = 32  # IEEE 802.11: an SSID is 0-32 octets
MAX_REASON = 200


class InvalidWatch(ValueError):
    """An SSID that cannot be watched, or a reason or value of the wrong shape."""


def clean_ssid(ssid: Any) -> str:
    """An SSID as it is watched; 1 to 32 bytes of UTF-8, as in a probe request."""
    if not isinstance(ssid, str) or not ssid:
        raise InvalidWatch("an SSID must be non-empty text")
    if len(ssid.encode("utf-8")) > MAX_SSID_BYTES:
        raise InvalidWatch(f"an SSID has at most {MAX_SSID_BYTES} bytes")
    return ssid


def clean_reason(reason: Any) -> str:
    if reason is None:
        return ""
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise InvalidWatch(f"a reason is text of at most {MAX_REASON} characters")
    return " ".join(reason.split())


def decode_watch_value(raw: bytes | None) -> str | None:
    """The reason of a watch-list message; None for a tombstone (unwatch)."""
    if raw is None:
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidWatch("value is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidWatch('value must be a JSON object like {"reason": …}')
    return clean_reason(data.get("reason"))


def encode_watch_value(reason: str) -> bytes:
    return orjson.dumps({"reason": reason})
