"""Turn the bytes of a `probes` message into a ProbeEvent, or say exactly why not.

Producers other than our sniffer may write to the topic, so nothing is trusted: a bad message is
rejected with a reason the worker counts and logs, and the stream moves on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from app.logic.limits import (
    FREQ_MHZ,
    MAX_SSID_BYTES,
    MAX_TS,
    MIN_TS,
    RSSI_DBM,
    SEQ,
    OutOfRange,
    check_optional_int,
    check_ssid,
    check_text,
    check_ts,
)
from app.logic.mac import InvalidMac, is_canonical_mac, is_randomized, normalize_mac
from app.models import ProbeEvent

#: Sensor names and IE fingerprints.
MAX_LABEL = 128


class InvalidProbe(ValueError):
    """A message on `probes` that is not a ProbeEvent; `reason` is a short, countable label."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def probe_from_dict(data: Any) -> ProbeEvent:
    """Validate a decoded JSON value against DESIGN.md's ProbeEvent and the ranges of
    `app.logic.limits`."""
    if type(data) is dict:
        usual = _usual_probe(data)
        if usual is not None:
            return usual
    return _checked_probe(data)


def _usual_probe(data: dict[str, Any]) -> ProbeEvent | None:
    """The probe, when every field has its usual form (canonical MAC, ASCII text, no escapes);
    None sends the record through `_checked_probe`, which accepts the rest or says why not.

    Each test here only narrows the one of `_checked_probe` (a property test holds them to it):
    this is the per-probe path, so it asks the cheapest questions that settle the usual case.
    """
    mac = data.get("mac")
    if type(mac) is not str or not is_canonical_mac(mac):
        return None
    ts = data.get("ts")
    if (type(ts) is not float and type(ts) is not int) or not MIN_TS <= ts < MAX_TS:
        return None
    ssid = data.get("ssid", "")
    if type(ssid) is not str or len(ssid) > MAX_SSID_BYTES or not _plain(ssid) or "\\" in ssid:
        return None
    if data.get("ssid_hex") is not None:
        return None
    rssi = data.get("rssi_dbm")
    freq = data.get("freq_mhz")
    seq = data.get("seq")
    if not (_int_in(rssi, RSSI_DBM) and _int_in(freq, FREQ_MHZ) and _int_in(seq, SEQ)):
        return None
    sensor = data.get("sensor")
    fingerprint = data.get("ie_fingerprint")
    if not (_label(sensor) and _label(fingerprint)):
        return None
    randomized = data.get("randomized")
    if type(randomized) is not bool:
        randomized = is_randomized(mac)
    return ProbeEvent(
        float(ts), mac, ssid, None, rssi, freq, seq, randomized, sensor or "", fingerprint
    )


def _plain(text: str) -> bool:
    return text.isascii() and text.isprintable()


def _int_in(value: Any, bounds: tuple[int, int]) -> bool:
    return value is None or (type(value) is int and bounds[0] <= value <= bounds[1])


def _label(value: Any) -> bool:
    return value is None or (type(value) is str and len(value) <= MAX_LABEL and _plain(value))


def _checked_probe(data: Any) -> ProbeEvent:
    """Every field checked by `app.logic.limits`, any spelling accepted, any fault named."""
    if not isinstance(data, dict):
        raise InvalidProbe("not_an_object", type(data).__name__)
    try:
        mac = normalize_mac(data["mac"])
        ts = data["ts"]
    except KeyError as missing:
        raise InvalidProbe("missing_field", str(missing)) from None
    except InvalidMac as bad:
        raise InvalidProbe("bad_mac", str(bad)) from None
    randomized = data.get("randomized")
    if not isinstance(randomized, bool):
        randomized = is_randomized(mac)
    try:
        return ProbeEvent(
            ts=check_ts(ts),
            mac=mac,
            ssid=check_ssid(data.get("ssid", ""), allow_empty=True),
            ssid_hex=_optional_hex(data.get("ssid_hex")),
            rssi_dbm=check_optional_int(data.get("rssi_dbm"), "rssi_dbm", RSSI_DBM),
            freq_mhz=check_optional_int(data.get("freq_mhz"), "freq_mhz", FREQ_MHZ),
            seq=check_optional_int(data.get("seq"), "seq", SEQ),
            randomized=randomized,
            sensor=_optional_text(data.get("sensor"), "sensor") or "",
            ie_fingerprint=_optional_text(data.get("ie_fingerprint"), "ie_fingerprint"),
        )
    except OutOfRange as bad:
        raise InvalidProbe("bad_field", str(bad)) from None


def _optional_text(value: Any, field: str) -> str | None:
    return None if value is None else check_text(value, field, MAX_LABEL)


def _optional_hex(value: Any) -> str | None:
    """`ssid_hex`: the SSID's octets in lower-case hex, at most 32 of them."""
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or len(value) > 2 * MAX_SSID_BYTES
        or len(value) % 2
        or value.strip("0123456789abcdef")
    ):
        raise OutOfRange(f"ssid_hex must be lower-case hex of at most {MAX_SSID_BYTES} octets")
    return value


#: Probes one record of `probes` may carry (the sniffer packs a few hundred).
MAX_PROBES_PER_RECORD = 10_000


@dataclass(frozen=True, slots=True)
class RecordProbes:
    """The probes of one `probes` record: one object, or an array of them (`batch`).

    In an array, each probe stands alone: a bad one is `rejected` (its index, why, its JSON)
    and the others are kept.
    """

    batch: bool
    probes: list[tuple[int, ProbeEvent]]
    rejected: list[tuple[int, InvalidProbe, Any]]


def decode_record(raw: bytes | None) -> RecordProbes:
    """Parse and validate the value of one `probes` record of either shape."""
    data = _json_value(raw)
    if not isinstance(data, list):
        return RecordProbes(False, [(0, probe_from_dict(data))], [])
    if not data:
        raise InvalidProbe("empty_batch")
    if len(data) > MAX_PROBES_PER_RECORD:
        raise InvalidProbe("batch_too_large", f"{len(data)} > {MAX_PROBES_PER_RECORD} probes")
    probes: list[tuple[int, ProbeEvent]] = []
    rejected: list[tuple[int, InvalidProbe, Any]] = []
    for index, item in enumerate(data):
        try:
            probes.append((index, probe_from_dict(item)))
        except InvalidProbe as bad:
            rejected.append((index, bad, item))
    return RecordProbes(True, probes, rejected)


def decode_probe(raw: bytes | None) -> ProbeEvent:
    """Parse and validate a `probes` value of one probe (the record of `--batch 1`)."""
    return probe_from_dict(_json_value(raw))


def _json_value(raw: bytes | None) -> Any:
    if raw is None:
        raise InvalidProbe("empty_value")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidProbe("not_json", repr(raw[:40])) from None
