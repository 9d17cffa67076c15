"""The SSID watch list: valid entries and the messages of the `ssid-watchlist` topic."""

from __future__ import annotations

from typing import Any

import orjson

from app.logic.limits import OutOfRange, check_ssid, check_text

MAX_REASON = 200


class InvalidWatch(ValueError):
    """An SSID that cannot be watched, or a reason or value of the wrong shape."""


def clean_ssid(ssid: Any) -> str:
    """An SSID as it is watched: the text form probes carry (`app.logic.limits.check_ssid`)."""
    try:
        return check_ssid(ssid, "an SSID")
    except OutOfRange as bad:
        raise InvalidWatch(str(bad)) from None


def clean_reason(reason: Any) -> str:
    """A reason with its whitespace folded; no control or format characters."""
    if reason is None:
        return ""
    if not isinstance(reason, str):
        raise InvalidWatch(f"a reason is text of at most {MAX_REASON} characters")
    try:
        return check_text(" ".join(reason.split()), "a reason", MAX_REASON)
    except OutOfRange as bad:
        raise InvalidWatch(str(bad)) from None


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
