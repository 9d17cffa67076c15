"""Erasing a device: the request that travels on `probes` itself, in the device's partition.

An erasure is a `probes` record keyed by the MAC whose value is
`{"erase": "<mac>", "requested_ts": <epoch s>, "by": "api|cli|retention|…"}`, and for retention
also `"unseen_since": <epoch s>`: the device is erased only if it has not been heard since
(a probe folded between the sweep and the erasure keeps it). Sent through the
device's own partition, it is folded in order with its probes: everything before it is erased,
anything after it starts the device afresh, and a crash that makes the fold read the partition
again re-applies both in the same order. (A separate topic could not promise that order.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson

from app.logic.mac import InvalidMac, normalize_mac

#: Who may ask (counted per requester, `probes.erased.<by>`).
REQUESTERS = frozenset({"api", "cli", "bot", "retention"})


class InvalidErasure(ValueError):
    """A record that says `erase` but is not a valid erasure."""


@dataclass(frozen=True, slots=True)
class Erasure:
    mac: str
    requested_ts: float
    by: str
    #: Erase only a device last heard before this capture time (retention); None: always.
    unseen_since: float | None = None

    def applies_to(self, last_seen_ts: float | None) -> bool:
        """Whether a device last heard at `last_seen_ts` (None: no row) is to be erased."""
        return (
            self.unseen_since is None or last_seen_ts is None or (last_seen_ts < self.unseen_since)
        )


def looks_like_erasure(value: bytes | None) -> bool:
    """A cheap test on the hot path: probes are arrays or objects starting with other fields."""
    return value is not None and value[:1] == b"{" and b'"erase"' in value[:24]


def decode_erasure(value: bytes | None) -> Erasure:
    try:
        held = orjson.loads(value or b"")
    except orjson.JSONDecodeError as bad:
        raise InvalidErasure(f"not JSON: {bad}") from None
    if not isinstance(held, dict) or not isinstance(held.get("erase"), str):
        raise InvalidErasure('an erasure is {"erase": "<mac>", "requested_ts": …, "by": …}')
    try:
        mac = normalize_mac(held["erase"])
    except InvalidMac as bad:
        raise InvalidErasure(str(bad)) from None
    requested = held.get("requested_ts")
    by = held.get("by")
    since = held.get("unseen_since")
    if since is not None and not isinstance(since, int | float):
        raise InvalidErasure("unseen_since must be epoch seconds")
    return Erasure(
        mac,
        float(requested) if isinstance(requested, int | float) else 0.0,
        by if by in REQUESTERS else "other",
        None if since is None else float(since),
    )


def erasure_record(
    mac: str, by: str, now: float | None = None, unseen_since: float | None = None
) -> tuple[bytes, bytes]:
    """(key, value) of the record that erases `mac` (if unheard since `unseen_since`)."""
    mac = normalize_mac(mac)
    value: dict[str, object] = {
        "erase": mac,
        "requested_ts": time.time() if now is None else now,
        "by": by,
    }
    if unseen_since is not None:
        value["unseen_since"] = unseen_since
    return mac.encode(), orjson.dumps(value)


#: A Telegram user's messages: `{"erase_user": <user id>, "requested_ts": …, "by": …}`, sent to
#: every partition of `telegram-updates` (a user writes in many chats, and updates are keyed by
#: chat), so each partition's archiver takes the user out of what it archived.
def looks_like_user_erasure(value: bytes | None) -> bool:
    return value is not None and value[:1] == b"{" and b'"erase_user"' in value[:30]


def decode_user_erasure(value: bytes | None) -> int:
    """The user id a user erasure names; InvalidErasure for anything else."""
    try:
        held = orjson.loads(value or b"")
    except orjson.JSONDecodeError as bad:
        raise InvalidErasure(f"not JSON: {bad}") from None
    user = held.get("erase_user") if isinstance(held, dict) else None
    if not isinstance(user, int) or isinstance(user, bool) or user <= 0:
        raise InvalidErasure('a user erasure is {"erase_user": <positive user id>, …}')
    return user


def user_erasure_record(user_id: int, by: str, now: float | None = None) -> bytes:
    if user_id <= 0:
        raise InvalidErasure("a Telegram user id is a positive integer")
    value = {
        "erase_user": user_id,
        "requested_ts": time.time() if now is None else now,
        "by": by,
    }
    return orjson.dumps(value)
