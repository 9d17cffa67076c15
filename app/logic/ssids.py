"""SSID → devices: the messages that carry a device's probes for an SSID, and how they fold.

The fold of `probes` sends, per SSID, each changed device's *total* for it (`totals`): the
device's row holds that total, so a message sent twice, or sent again with other totals after a
crash made the fold re-read its input, still leaves the right count. A device's probes all come
from one partition of `probes`, in offset order, so the source offset orders a device's totals
and an older one arriving late is skipped. An erased device is forgotten (`forget`: {mac: the
erasure's offset}), its probes taken off the SSID's count. Messages of the earlier shape
(`devices`: the probes of one batch, added) are still applied, skipped when their offset was
applied before.
"""

from __future__ import annotations

from typing import Any

from app.logic.limits import INT64, OutOfRange, check_int, check_ts
from app.logic.mac import InvalidMac, normalize_mac

MAX_DEVICES_PER_SSID = 5000


class InvalidSsidProbes(ValueError):
    """An `ssid-probes` value of the wrong shape."""


#: Per device: [probes, last capture time, last source offset].
SsidTally = dict[str, list[Any]]


def ssid_totals_message(totals: SsidTally) -> dict[str, Any]:
    """One `ssid-probes` value per SSID and flush: `{"totals": {mac: [total, last_ts, offset]}}`."""
    return {"totals": totals}


def apply_ssid_probes(row: dict[str, Any] | None, update: Any) -> dict[str, Any] | None:
    """The new row, or None when every device's share was applied before (a re-sent message)."""
    if not isinstance(update, dict):
        raise InvalidSsidProbes('value must be an object like {"totals": {mac: [n, ts, offset]}}')
    if isinstance(update.get("forget"), dict):
        return _forget(row, update["forget"])
    if isinstance(update.get("totals"), dict):
        shares, apply = update["totals"], _apply_total
    elif isinstance(update.get("devices"), dict):
        shares, apply = update["devices"], _apply_share
    else:
        raise InvalidSsidProbes('value must be an object like {"totals": {mac: [n, ts, offset]}}')
    valid = [_valid_share(mac, share) for mac, share in shares.items()]
    row = row or {"devices": {}, "probe_count": 0, "devices_truncated": False}
    changed = False
    for mac, count, last_ts, offset in valid:
        changed |= apply(row, mac, count, last_ts, offset)
    if row["probe_count"] > INT64[1]:
        raise InvalidSsidProbes("the SSID's probe count would exceed 64 bits")
    return row if changed else None


def _forget(row: dict[str, Any] | None, erased: dict[str, Any]) -> dict[str, Any] | None:
    """The row without the erased devices' shares (None: none of them was in it)."""
    for mac, offset in erased.items():
        try:
            if normalize_mac(mac) != mac:
                raise InvalidSsidProbes(f"{mac!r} is not a MAC in canonical form")
            check_int(offset, "offset", (0, INT64[1]))
        except (InvalidMac, OutOfRange) as bad:
            raise InvalidSsidProbes(f"forget {str(mac)[:40]!r}: {bad}") from None
    if row is None:
        return None
    devices: dict[str, list[Any]] = row["devices"]
    changed = False
    for mac, offset in erased.items():
        share = devices.get(mac)
        if share is not None and share[2] <= offset:
            del devices[mac]
            row["probe_count"] -= share[0]
            changed = True
    return row if changed else None


def _valid_share(mac: Any, share: Any) -> tuple[str, int, float, int]:
    """One device's share, every number within what a row can hold; checked before applying."""
    if not (isinstance(share, list) and len(share) == 3):
        raise InvalidSsidProbes(f"share of {str(mac)[:40]!r} must be [probes, last_ts, offset]")
    try:
        if normalize_mac(mac) != mac:
            raise InvalidSsidProbes(f"{mac!r} is not a MAC in canonical form")
        return (
            mac,
            check_int(share[0], "probes", (1, INT64[1])),
            check_ts(share[1], "last_ts"),
            check_int(share[2], "offset", (0, INT64[1])),
        )
    except (InvalidMac, OutOfRange) as bad:
        raise InvalidSsidProbes(f"share of {str(mac)[:40]!r}: {bad}") from None


def _apply_share(row: dict[str, Any], mac: str, count: int, last_ts: float, offset: int) -> bool:
    devices: dict[str, list[Any]] = row["devices"]
    seen = devices.get(mac)
    if seen is not None and seen[2] >= offset:
        return False
    row["probe_count"] += count
    if seen is not None:
        devices[mac] = [seen[0] + count, max(seen[1], last_ts), offset]
    elif len(devices) < MAX_DEVICES_PER_SSID:
        devices[mac] = [count, last_ts, offset]
    else:
        row["devices_truncated"] = True
    return True


def _apply_total(row: dict[str, Any], mac: str, count: int, last_ts: float, offset: int) -> bool:
    """`count` is the device's total for the SSID: it replaces what was known of the device."""
    devices: dict[str, list[Any]] = row["devices"]
    seen = devices.get(mac)
    if seen is not None and seen[2] >= offset:
        return False
    if seen is not None:
        row["probe_count"] += count - seen[0]
        devices[mac] = [count, max(seen[1], last_ts), offset]
    elif len(devices) < MAX_DEVICES_PER_SSID:
        row["probe_count"] += count
        devices[mac] = [count, last_ts, offset]
    else:
        row["devices_truncated"] = True
        row["probe_count"] += count
    return True


def is_empty(row: dict[str, Any]) -> bool:
    """Whether no device is left in the row (every one erased): the row itself goes."""
    return not row["devices"] and row["probe_count"] <= 0 and not row["devices_truncated"]


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
