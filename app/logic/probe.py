"""Turn the bytes of a `probes` message into a ProbeEvent, or say exactly why not.

Producers other than our sniffer may write to the topic, so nothing is trusted: a bad message is
rejected with a reason the worker counts and logs, and the stream moves on.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from app.logic.mac import InvalidMac, is_randomized, normalize_mac
from app.models import ProbeEvent

MAX_SSID_TEXT = 256  # 32 raw bytes, escaped as \xNN, fit in 128 characters; this is generous


class InvalidProbe(ValueError):
    """A message on `probes` that is not a ProbeEvent; `reason` is a short, countable label."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def _optional_int(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidProbe("bad_field", f"{field} must be an integer or null")
    return value


def _optional_str(value: Any, field: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidProbe("bad_field", f"{field} must be text of at most {limit} characters")
    return value


def probe_from_dict(data: Any) -> ProbeEvent:
    """Validate a decoded JSON value against DESIGN.md's ProbeEvent."""
    if not isinstance(data, dict):
        raise InvalidProbe("not_an_object", type(data).__name__)
    try:
        mac = normalize_mac(data["mac"])
        ts = data["ts"]
    except KeyError as missing:
        raise InvalidProbe("missing_field", str(missing)) from None
    except InvalidMac as bad:
        raise InvalidProbe("bad_mac", str(bad)) from None
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts) or ts < 0:
        raise InvalidProbe("bad_field", "ts must be a non-negative number of seconds")
    ssid = data.get("ssid", "")
    if not isinstance(ssid, str) or len(ssid) > MAX_SSID_TEXT:
        raise InvalidProbe("bad_field", "ssid must be text")
    randomized = data.get("randomized")
    if not isinstance(randomized, bool):
        randomized = is_randomized(mac)
    return ProbeEvent(
        ts=float(ts),
        mac=mac,
        ssid=ssid,
        ssid_hex=_optional_str(data.get("ssid_hex"), "ssid_hex", 64),
        rssi_dbm=_optional_int(data.get("rssi_dbm"), "rssi_dbm"),
        freq_mhz=_optional_int(data.get("freq_mhz"), "freq_mhz"),
        seq=_optional_int(data.get("seq"), "seq"),
        randomized=randomized,
        sensor=_optional_str(data.get("sensor"), "sensor", 128) or "",
        ie_fingerprint=_optional_str(data.get("ie_fingerprint"), "ie_fingerprint", 128),
    )


def decode_probe(raw: bytes | None) -> ProbeEvent:
    """Parse and validate the value of one `probes` message."""
    if raw is None:
        raise InvalidProbe("empty_value")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidProbe("not_json", repr(raw[:40])) from None
    return probe_from_dict(data)
