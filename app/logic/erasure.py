"""Erasing a device: the request that travels on `probes` itself, in the device's partition.

An erasure is a `probes` record keyed by the MAC whose value is
`{"erase": "<mac>", "requested_ts": <epoch s>, "by": "api|cli|retention|…"}`. Sent through the
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
    return Erasure(
        mac,
        float(requested) if isinstance(requested, int | float) else 0.0,
        by if by in REQUESTERS else "other",
    )


def erasure_record(mac: str, by: str, now: float | None = None) -> tuple[bytes, bytes]:
    """(key, value) of the record that erases `mac`."""
    mac = normalize_mac(mac)
    value = {"erase": mac, "requested_ts": time.time() if now is None else now, "by": by}
    return mac.encode(), orjson.dumps(value)
