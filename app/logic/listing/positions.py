"""Positions in a listing: a device's sort value and MAC packed into one integer, so every
worker, the merge and the cursor order devices alike."""

from __future__ import annotations

#: A MAC is 48 bits: a position is `value * MAC_SPAN + mac`, ordered as (value, mac).
MAC_SPAN = 1 << 48
#: The value of a device that lacks one (no signal measured; named but never seen): below all.
MISSING = -(1 << 62) - 1
#: Values are clamped into ±VALUE_LIMIT, so that MISSING stays below every one of them.
VALUE_LIMIT = 1 << 62


def ts_value(ts: float) -> int:
    """A capture time as a sort value: whole microseconds (NaN counts as missing)."""
    try:
        value = round(ts * 1_000_000)
    except ValueError:
        return MISSING
    except OverflowError:
        return VALUE_LIMIT if ts > 0 else -VALUE_LIMIT
    return value if -VALUE_LIMIT <= value <= VALUE_LIMIT else clamped(value)


def clamped(value: int) -> int:
    return max(-VALUE_LIMIT, min(VALUE_LIMIT, value))


def mac_int(mac: str) -> int:
    return int(mac.replace(":", ""), 16)


def mac_text(mac: int) -> str:
    digits = f"{mac:012x}"
    return ":".join((digits[0:2], digits[2:4], digits[4:6], digits[6:8], digits[8:10], digits[10:]))


def inside(position: int, low: int | None, high: int | None) -> bool:
    return (low is None or position >= low) and (high is None or position <= high)
