"""The ProbeEvent record: one probe request as it travels on the `probes` topic.

Field names, types and meanings are fixed by DESIGN.md; the faust app and any other consumer
rely on them, so this module changes only together with that table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import orjson

FIELDS: tuple[str, ...] = (
    "ts",
    "mac",
    "ssid",
    "ssid_hex",
    "rssi_dbm",
    "freq_mhz",
    "seq",
    "randomized",
    "sensor",
    "ie_fingerprint",
)


class ProbeEvent(msgspec.Struct, frozen=True, gc=False):
    """One observed probe request, as DESIGN.md's ProbeEvent table defines it.

    A msgspec Struct: made once per frame, it costs a tenth of a frozen dataclass, and a packed
    record of hundreds is encoded in one call (`encode_many`).
    """

    ts: float
    mac: str
    ssid: str
    ssid_hex: str | None
    rssi_dbm: int | None
    freq_mhz: int | None
    seq: int | None
    randomized: bool
    sensor: str
    ie_fingerprint: str | None

    def to_json(self) -> bytes:
        """Serialise with exactly the DESIGN.md field names, in their order."""
        return _encode(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbeEvent:
        """Build from a decoded JSON object, rejecting missing fields and wrong types.

        Consumers get a clear ValueError instead of a half-valid event further down the stream.
        """
        missing = [name for name in FIELDS if name not in data]
        if missing:
            raise ValueError(f"ProbeEvent is missing field(s): {', '.join(missing)}")
        ts = data["ts"]
        if isinstance(ts, bool) or not isinstance(ts, int | float):
            raise ValueError(f"ProbeEvent.ts must be a number, got {ts!r}")
        randomized = data["randomized"]
        if not isinstance(randomized, bool):
            raise ValueError(f"ProbeEvent.randomized must be a bool, got {randomized!r}")
        return cls(
            ts=float(ts),
            mac=_str(data, "mac"),
            ssid=_str(data, "ssid"),
            ssid_hex=_opt_str(data, "ssid_hex"),
            rssi_dbm=_opt_int(data, "rssi_dbm"),
            freq_mhz=_opt_int(data, "freq_mhz"),
            seq=_opt_int(data, "seq"),
            randomized=randomized,
            sensor=_str(data, "sensor"),
            ie_fingerprint=_opt_str(data, "ie_fingerprint"),
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> ProbeEvent:
        """Decode a `probes` topic value."""
        obj = orjson.loads(raw)
        if not isinstance(obj, dict):
            raise ValueError("ProbeEvent JSON must be an object")
        return cls.from_dict(obj)


_encode = msgspec.json.Encoder().encode


def encode_many(events: Sequence[ProbeEvent]) -> bytes:
    """A JSON array of the events: the value of a packed `probes` record."""
    return _encode(events)


def _str(data: Mapping[str, Any], name: str) -> str:
    value = data[name]
    if not isinstance(value, str):
        raise ValueError(f"ProbeEvent.{name} must be a string, got {value!r}")
    return value


def _opt_str(data: Mapping[str, Any], name: str) -> str | None:
    value = data[name]
    if value is not None and not isinstance(value, str):
        raise ValueError(f"ProbeEvent.{name} must be a string or null, got {value!r}")
    return value


def _opt_int(data: Mapping[str, Any], name: str) -> int | None:
    value = data[name]
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"ProbeEvent.{name} must be an integer or null, got {value!r}")
    return value
