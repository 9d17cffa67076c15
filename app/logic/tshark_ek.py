"""Frames as the original ksqlDB demo fed them: `tshark -T ek` JSON flattened by jq.

One object per frame, `{"timestamp": "<epoch ms>", "wlan_fc_type_subtype": ["4"], "wlan_sa": [...],
"wlan_ssid": [...], "wlan_radio_signal_dbm": [...], ...}`. tshark 3.x writes the subtype as `4` and
SSIDs as text; tshark 4.x writes `0x0004`, SSIDs as hex bytes and `<MISSING>` for a wildcard.
"""

from __future__ import annotations

import math
from typing import Any

from app.logic.limits import FREQ_MHZ, MAX_SSID_BYTES, RSSI_DBM, SEQ, check_ts, ssid_from_octets
from app.logic.mac import InvalidMac, is_randomized, normalize_mac
from app.logic.probe import InvalidProbe
from app.models import ProbeEvent

PROBE_REQUEST = 4
WILDCARD_MARKERS = frozenset({"", "<MISSING>"})


def _first(frame: dict[str, Any], field: str) -> str | None:
    """The first value of an ek field (ek writes `wlan.sa` as `wlan_sa`, values as arrays)."""
    value = frame.get(field)
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidProbe("bad_field", f"{field} must be a string or an array of strings")
    return str(value)


def _int_or_none(text: str | None, field: str, bounds: tuple[int, int]) -> int | None:
    """A whole number within `bounds`; tshark writes some as `-61` and some as `-61.0`."""
    if text is None or text == "":
        return None
    try:
        number = float(text)
    except ValueError:
        raise InvalidProbe("bad_field", f"{field} is not a number: {text[:20]!r}") from None
    if not math.isfinite(number) or not bounds[0] <= number <= bounds[1]:
        raise InvalidProbe("bad_field", f"{field} must be between {bounds[0]} and {bounds[1]}")
    return int(number)


def _ssid(text: str | None, hex_encoded: bool) -> tuple[str, str | None]:
    """The SSID in probewatch's text form plus its hex when needed (DESIGN.md's `ssid_hex`)."""
    if text is None or text in WILDCARD_MARKERS:
        return "", None
    raw: bytes | None = None
    if hex_encoded:
        try:
            raw = bytes.fromhex(text.replace(":", ""))
        except ValueError:
            raw = None
    if raw is None:
        raw = text.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_SSID_BYTES:
        raise InvalidProbe("bad_field", f"wlan_ssid has more than {MAX_SSID_BYTES} octets")
    return ssid_from_octets(raw)


def _capture_time(frame: dict[str, Any]) -> float:
    """`frame_time_epoch` when the feed has it (µs), else the ek `timestamp` (ms)."""
    epoch = _first(frame, "frame_time_epoch")
    text, scale = (epoch, 1.0) if epoch is not None else (_first(frame, "timestamp"), 1000.0)
    if text is None:
        raise InvalidProbe("missing_field", "timestamp")
    try:
        return check_ts(float(text) / scale, "timestamp")
    except ValueError as bad:
        raise InvalidProbe("bad_field", f"{text[:20]!r}: {bad}") from None


def probe_from_tshark_ek(frame: Any) -> ProbeEvent | None:
    """The ProbeEvent in one tshark-ek frame; None when the frame is not a probe request."""
    if not isinstance(frame, dict):
        raise InvalidProbe("not_an_object", type(frame).__name__)
    subtype_text = _first(frame, "wlan_fc_type_subtype")
    if subtype_text is None:
        raise InvalidProbe("missing_field", "wlan_fc_type_subtype")
    tshark4 = subtype_text.lower().startswith("0x")
    try:
        subtype = int(subtype_text, 16 if tshark4 else 10)
    except ValueError:
        raise InvalidProbe("bad_field", f"wlan_fc_type_subtype {subtype_text[:20]!r}") from None
    if subtype != PROBE_REQUEST:
        return None
    sa = _first(frame, "wlan_sa")
    if sa is None:
        raise InvalidProbe("missing_field", "wlan_sa")
    try:
        mac = normalize_mac(sa)
    except InvalidMac as bad:
        raise InvalidProbe("bad_mac", str(bad)) from None
    ts = _capture_time(frame)
    ssid, ssid_hex = _ssid(_first(frame, "wlan_ssid"), hex_encoded=tshark4)
    return ProbeEvent(
        ts=ts,
        mac=mac,
        ssid=ssid,
        ssid_hex=ssid_hex,
        rssi_dbm=_int_or_none(
            _first(frame, "wlan_radio_signal_dbm"), "wlan_radio_signal_dbm", RSSI_DBM
        ),
        freq_mhz=_int_or_none(
            _first(frame, "wlan_radio_frequency"), "wlan_radio_frequency", FREQ_MHZ
        ),
        seq=_int_or_none(_first(frame, "wlan_seq"), "wlan_seq", SEQ),
        randomized=is_randomized(mac),
        sensor="tshark",
    )
