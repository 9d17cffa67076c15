"""Device names: what a valid name is, and how a `device-names` message is read."""

from __future__ import annotations

import unicodedata
from typing import Any

import orjson

MAX_NAME = 64


class InvalidName(ValueError):
    """A name nobody could mean, or a `device-names` value of the wrong shape."""


def clean_name(name: Any) -> str:
    """The name trimmed; InvalidName for empty, over-long or control-character names."""
    if not isinstance(name, str):
        raise InvalidName("a name must be text")
    cleaned = " ".join(name.split())
    if not cleaned:
        raise InvalidName("a name must not be empty")
    if len(cleaned) > MAX_NAME:
        raise InvalidName(f"a name has at most {MAX_NAME} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in cleaned):
        raise InvalidName("a name must not contain control characters")
    return cleaned


def name_key(name: str) -> str:
    """How names are compared: case-insensitively, whitespace folded."""
    return " ".join(name.split()).casefold()


def decode_name_value(raw: bytes | None) -> str | None:
    """The name in a `device-names` value; None for a tombstone (forget the name)."""
    if raw is None:
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidName("value is not JSON") from None
    if not isinstance(data, dict) or "name" not in data:
        raise InvalidName('value must be a JSON object with a "name"')
    return clean_name(data["name"])


def encode_name_value(name: str, source: str) -> bytes:
    """A `device-names` value; `source` says who set it (http, bot, import)."""
    return orjson.dumps({"name": name, "source": source})
