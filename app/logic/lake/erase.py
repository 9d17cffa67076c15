"""Taking erased devices and Telegram users out of the raw zone's lines (`app.logic.erasure`):
a record keyed by an erased MAC goes, a packed record loses that MAC's probes (and goes when none
is left), a record of member updates loses the erased MAC's; an update whose message (or edit,
or post) an erased user sent goes; the erasure records themselves go too (they name what they
erase)."""

from __future__ import annotations

from typing import Any

import orjson


def scrub_line(line: bytes, macs: frozenset[str]) -> bytes | None:
    """The line without the erased devices: unchanged, changed, or None to drop it."""
    if not any(mac.encode() in line for mac in macs):
        return line
    held: dict[str, Any] = orjson.loads(line)
    if held.get("key") in macs:
        return None
    value = held.get("value")
    if isinstance(value, dict) and (value.get("mac") in macs or value.get("erase") in macs):
        return None
    if isinstance(value, list):
        return _without_items_of(line, held, value, macs)
    if "value_text" in held and any(mac in held["value_text"] for mac in macs):
        return None
    return line


def scrub_member_line(line: bytes, macs: frozenset[str]) -> bytes | None:
    """A `group-members` line without the erased devices' updates (None when none is left).
    The record's key is a group's id, a MAC too: the other members' updates stay."""
    if not any(mac.encode() in line for mac in macs):
        return line
    held: dict[str, Any] = orjson.loads(line)
    value = held.get("value")
    if not isinstance(value, list):
        return line
    return _without_items_of(line, held, value, macs)


def _without_items_of(
    line: bytes, held: dict[str, Any], items: list[Any], macs: frozenset[str]
) -> bytes | None:
    """A packed record's line without the items (probes, member updates) of the erased MACs:
    unchanged, changed, or None when none is left."""
    kept = [item for item in items if not (isinstance(item, dict) and item.get("mac") in macs)]
    if not kept:
        return None
    if len(kept) == len(items):
        return line
    held["value"] = kept
    return orjson.dumps(held) + b"\n"


#: The parts of an update a user's message can be in (`app.logic.lake.flatten.MESSAGE_KINDS`).
_MESSAGE_KINDS = ("message", "edited_message", "channel_post", "edited_channel_post")


def scrub_user_line(line: bytes, users: frozenset[int]) -> bytes | None:
    """The line, or None when an erased user sent it (or it asks for such an erasure)."""
    if not any(str(user).encode() in line for user in users):
        return line
    held: dict[str, Any] = orjson.loads(line)
    value = held.get("value")
    if not isinstance(value, dict):
        return line
    if value.get("erase_user") in users:
        return None
    for kind in _MESSAGE_KINDS:
        message = value.get(kind)
        if isinstance(message, dict):
            sender = message.get("from")
            if isinstance(sender, dict) and sender.get("id") in users:
                return None
    return line
