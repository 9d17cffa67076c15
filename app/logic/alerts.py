"""Alerts: when a probe for a watched SSID becomes one, what it says, and how a notifier reads
one back. Any producer may write to `alerts`, so a value of the wrong shape is refused with a
short reason to count, instead of making the notifier fail halfway through a message.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from app.logic.limits import RSSI_DBM, OutOfRange, check_ssid, check_ts
from app.logic.mac import InvalidMac, normalize_mac
from app.logic.stats import iso_utc
from app.logic.vendor import vendor_for
from app.models import Alert, AlertRecord, DeviceState, ProbeEvent


def should_alert(state: DeviceState, probe: ProbeEvent, window_s: float) -> bool:
    """True unless this device already raised an alert for this SSID within the window.

    The time of the last alert per SSID lives in the device's own row, so the folding survives
    restarts and rebalances with the rest of the row; the capture time decides, not the clock, so
    a replayed capture alerts exactly as the live one did.
    """
    alerted: dict[str, float] = state.setdefault("alerted", {})
    last = alerted.get(probe.ssid)
    if last is not None and abs(probe.ts - last) < window_s:
        return False
    alerted[probe.ssid] = probe.ts
    return True


def make_alert(probe: ProbeEvent, reason: str, name: str | None) -> AlertRecord:
    """The Alert JSON (DESIGN.md): time, MAC, name if known, SSID, reason, signal."""
    return {
        "ts": probe.ts,
        "time": iso_utc(probe.ts),
        "mac": probe.mac,
        "name": name,
        "vendor": vendor_for(probe.mac),
        "ssid": probe.ssid,
        "reason": reason,
        "rssi_dbm": probe.rssi_dbm,
        "sensor": probe.sensor,
    }


class InvalidAlert(ValueError):
    """Not an Alert; `reason` is the short name it is counted under."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def decode_alert(raw: bytes | None) -> Alert:
    """The Alert in a record's value, or InvalidAlert saying what is wrong with it."""
    try:
        data = orjson.loads(raw or b"")
    except orjson.JSONDecodeError:
        raise InvalidAlert("not_json", "the value is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidAlert("not_an_object", "the value is not a JSON object")
    try:
        ts = check_ts(data.get("ts"))
    except OutOfRange as bad:
        raise InvalidAlert("bad_ts", str(bad)) from None
    mac_text: Any = data.get("mac")
    try:
        mac = normalize_mac(mac_text)
    except InvalidMac:
        raise InvalidAlert("bad_mac", "mac is not a MAC address") from None
    try:
        ssid = check_ssid(data.get("ssid"))
    except OutOfRange as bad:
        raise InvalidAlert("bad_ssid", str(bad)) from None
    rssi: Any = data.get("rssi_dbm")
    if rssi is not None and (
        not _is_number(rssi) or not math.isfinite(rssi) or not RSSI_DBM[0] <= rssi <= RSSI_DBM[1]
    ):
        raise InvalidAlert("bad_field", f"rssi_dbm must be between {RSSI_DBM[0]} and {RSSI_DBM[1]}")
    return Alert(
        ts=ts,
        mac=mac,
        ssid=ssid,
        reason=_text(data, "reason") or "",
        name=_text(data, "name"),
        vendor=_text(data, "vendor"),
        rssi_dbm=None if rssi is None else round(rssi),
        sensor=_text(data, "sensor"),
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(data: dict[str, Any], field: str) -> str | None:
    """An optional text field; anything but text or null is refused."""
    value = data.get(field)
    if value is None or isinstance(value, str):
        return value or None
    raise InvalidAlert("bad_field", f"{field} must be text or null")
