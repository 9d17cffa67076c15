"""Taking erased devices out of the raw zone's lines (`app.logic.erasure`): a record keyed by an
erased MAC goes, a packed record loses that MAC's probes (and goes when none is left), and the
erasure records themselves go too (they name the MAC)."""

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
        kept = [p for p in value if not (isinstance(p, dict) and p.get("mac") in macs)]
        if not kept:
            return None
        if len(kept) != len(value):
            held["value"] = kept
            return orjson.dumps(held) + b"\n"
    if "value_text" in held and any(mac in held["value_text"] for mac in macs):
        return None
    return line
