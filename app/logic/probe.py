"""Turn the bytes of a `probes` message into a ProbeEvent, or say exactly why not.

Producers other than our sniffer may write to the topic, so nothing is trusted: a bad message is
rejected with a reason the worker counts and logs, and the stream moves on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
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
    has_hidden,
)
from app.logic.mac import CANONICAL_MAC_PATTERN, InvalidMac, is_randomized, normalize_mac
from app.models import ProbeEvent

#: Sensor names and IE fingerprints.
MAX_LABEL = 128


class InvalidProbe(ValueError):
    """A message on `probes` that is not a ProbeEvent; `reason` is a short, countable label."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class _UsualProbe(msgspec.Struct, frozen=True, gc=False):
    """A ProbeEvent in the form our sniffer writes it, decoded and range-checked by msgspec in C.

    This is the per-probe path, so it holds only the rules msgspec checks cheaply (types, ranges,
    lengths, the canonical MAC); `_usual_probe` adds the text rules. Any other form (a MAC spelled
    otherwise, `randomized` missing, a wrong type or range) fails here and goes through
    `_checked_probe`, which accepts it or names the fault. A property test holds the two equal.
    """

    ts: Annotated[float, msgspec.Meta(ge=MIN_TS, lt=MAX_TS)]
    mac: Annotated[str, msgspec.Meta(pattern=CANONICAL_MAC_PATTERN)]
    randomized: bool
    ssid: Annotated[str, msgspec.Meta(max_length=4 * MAX_SSID_BYTES)] = ""
    ssid_hex: str | None = None
    rssi_dbm: Annotated[int, msgspec.Meta(ge=RSSI_DBM[0], le=RSSI_DBM[1])] | None = None
    freq_mhz: Annotated[int, msgspec.Meta(ge=FREQ_MHZ[0], le=FREQ_MHZ[1])] | None = None
    seq: Annotated[int, msgspec.Meta(ge=SEQ[0], le=SEQ[1])] | None = None
    sensor: Annotated[str, msgspec.Meta(max_length=MAX_LABEL)] | None = None
    ie_fingerprint: Annotated[str, msgspec.Meta(max_length=MAX_LABEL)] | None = None


#: One probe, or an array of them: the two shapes of a `probes` record.
_USUAL_RECORD = msgspec.json.Decoder(list[_UsualProbe] | _UsualProbe)
_USUAL_PROBE = msgspec.json.Decoder(_UsualProbe)


def _usual_probe(usual: _UsualProbe) -> ProbeEvent | None:
    """The probe, when its text fields pass the rules msgspec left out; None sends it through
    `_checked_probe`. Plain ASCII, the usual case, settles each with two string tests."""
    ssid = usual.ssid
    if ssid and not (len(ssid) <= MAX_SSID_BYTES and _plain(ssid) and "\\" not in ssid):
        try:
            check_ssid(ssid, allow_empty=True)
        except OutOfRange:
            return None
    ssid_hex = usual.ssid_hex
    if ssid_hex is not None:
        try:
            _optional_hex(ssid_hex)
        except OutOfRange:
            return None
    sensor = usual.sensor
    fingerprint = usual.ie_fingerprint
    if not (_visible(sensor) and _visible(fingerprint)):
        return None
    return ProbeEvent(
        usual.ts,
        usual.mac,
        ssid,
        ssid_hex,
        usual.rssi_dbm,
        usual.freq_mhz,
        usual.seq,
        usual.randomized,
        sensor or "",
        fingerprint,
    )


def _plain(text: str) -> bool:
    return text.isascii() and text.isprintable()


def _visible(text: str | None) -> bool:
    return text is None or _plain(text) or not has_hidden(text)


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
    if raw is None:
        raise InvalidProbe("empty_value")
    try:
        usual = _USUAL_RECORD.decode(raw)
    except msgspec.MsgspecError:
        return _checked_record(raw)
    if isinstance(usual, _UsualProbe):
        return RecordProbes(False, [(0, _usual_or_checked(usual, raw))], [])
    _check_batch_size(len(usual))
    probes: list[tuple[int, ProbeEvent]] = []
    rejected: list[tuple[int, InvalidProbe, Any]] = []
    items: list[Any] | None = None
    for index, one in enumerate(usual):
        probe = _usual_probe(one)
        if probe is None:
            if items is None:
                items = _json_value(raw)
            try:
                probe = _checked_probe(items[index])
            except InvalidProbe as bad:
                rejected.append((index, bad, items[index]))
                continue
        probes.append((index, probe))
    return RecordProbes(True, probes, rejected)


def _checked_record(raw: bytes) -> RecordProbes:
    """A record that is not all in the usual form: every probe through `_checked_probe`."""
    data = _json_value(raw)
    if not isinstance(data, list):
        return RecordProbes(False, [(0, _checked_probe(data))], [])
    _check_batch_size(len(data))
    probes: list[tuple[int, ProbeEvent]] = []
    rejected: list[tuple[int, InvalidProbe, Any]] = []
    for index, item in enumerate(data):
        try:
            probes.append((index, _checked_probe(item)))
        except InvalidProbe as bad:
            rejected.append((index, bad, item))
    return RecordProbes(True, probes, rejected)


def _check_batch_size(size: int) -> None:
    if not size:
        raise InvalidProbe("empty_batch")
    if size > MAX_PROBES_PER_RECORD:
        raise InvalidProbe("batch_too_large", f"{size} > {MAX_PROBES_PER_RECORD} probes")


def decode_probe(raw: bytes | None) -> ProbeEvent:
    """Parse and validate a `probes` value of one probe (the record of `--batch 1`)."""
    if raw is None:
        raise InvalidProbe("empty_value")
    try:
        usual = _USUAL_PROBE.decode(raw)
    except msgspec.MsgspecError:
        return _checked_probe(_json_value(raw))
    return _usual_or_checked(usual, raw)


def _usual_or_checked(usual: _UsualProbe, raw: bytes) -> ProbeEvent:
    probe = _usual_probe(usual)
    return probe if probe is not None else _checked_probe(_json_value(raw))


def _json_value(raw: bytes | None) -> Any:
    if raw is None:
        raise InvalidProbe("empty_value")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidProbe("not_json", repr(raw[:40])) from None
