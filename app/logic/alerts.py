"""When a probe for a watched SSID becomes an Alert, and what an Alert says."""

from __future__ import annotations

from typing import Any

from app.logic.stats import DeviceState, iso_utc
from app.logic.vendor import vendor_for
from app.models import ProbeEvent


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


def make_alert(probe: ProbeEvent, reason: str, name: str | None) -> dict[str, Any]:
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
