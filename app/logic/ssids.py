"""SSID → devices: the messages that carry a device's probes for an SSID, and how they fold.

A device's probes all come from one partition of `probes`, in offset order, so remembering per
(SSID, device) the last source offset applied makes a re-sent message harmless.
"""

from __future__ import annotations

from typing import Any

MAX_DEVICES_PER_SSID = 5000


class InvalidSsidProbes(ValueError):
    """An `ssid-probes` value of the wrong shape."""


def ssid_probes_message(mac: str, count: int, last_ts: float, offset: int) -> dict[str, Any]:
    return {"mac": mac, "count": count, "last_ts": last_ts, "offset": offset}


def apply_ssid_probes(row: dict[str, Any] | None, update: Any) -> dict[str, Any] | None:
    """The new row, or None when the update was applied before (a duplicate)."""
    if not isinstance(update, dict):
        raise InvalidSsidProbes("value must be an object")
    mac, count, last_ts, offset = (update.get(k) for k in ("mac", "count", "last_ts", "offset"))
    if not (isinstance(mac, str) and isinstance(count, int) and isinstance(offset, int)):
        raise InvalidSsidProbes("mac, count and offset are required")
    if not isinstance(last_ts, int | float):
        raise InvalidSsidProbes("last_ts must be a number")
    row = row or {"devices": {}, "probe_count": 0, "devices_truncated": False}
    devices: dict[str, list[Any]] = row["devices"]
    seen = devices.get(mac)
    if seen is not None and seen[2] >= offset:
        return None
    row["probe_count"] += count
    if seen is not None:
        devices[mac] = [seen[0] + count, max(seen[1], last_ts), offset]
    elif len(devices) < MAX_DEVICES_PER_SSID:
        devices[mac] = [count, last_ts, offset]
    else:
        row["devices_truncated"] = True
    return row


def ssid_view(ssid: str, row: dict[str, Any]) -> dict[str, Any]:
    """The JSON of `GET /ssids/{ssid}`: devices busiest first."""
    devices = sorted(row["devices"].items(), key=lambda item: (-item[1][0], item[0]))
    return {
        "ssid": ssid,
        "probe_count": row["probe_count"],
        "device_count": len(devices),
        "devices_truncated": row["devices_truncated"],
        "devices": [
            {"mac": mac, "probe_count": count, "last_seen_ts": last_ts}
            for mac, (count, last_ts, _offset) in devices
        ],
    }
