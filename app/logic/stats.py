"""Per-device statistics: how one probe folds into a device's state, and how that state is shown.

The state is a plain JSON dict so that the changelog stays compact and readable by any consumer.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from datetime import UTC, datetime

from app.logic.mac import is_randomized
from app.logic.vendor import vendor_for
from app.models import DeviceState, DeviceStats, ProbeEvent

MAX_SENSORS = 32


def new_state(probe: ProbeEvent) -> DeviceState:
    """The state of a device seen for the first time."""
    return {
        "probe_count": 0,
        "first_seen_ts": probe.ts,
        "last_seen_ts": probe.ts,
        "ssids": [],
        "ssids_truncated": False,
        "wildcard_probes": 0,
        "rssi_last": None,
        "rssi_min": None,
        "rssi_max": None,
        "rssi_sum": 0,
        "rssi_samples": 0,
        "freq_mhz_last": None,
        "ie_fingerprint": None,
        "sensors": [],
    }


def fold_probe(state: DeviceState | None, probe: ProbeEvent, *, max_ssids: int) -> DeviceState:
    """Apply one probe to a device's state (in place when given one) and return it.

    Order-independent for everything but the `*_last` fields, which follow the newest capture time,
    so a replay of an old capture into a live table still gives the right first/last seen.
    """
    if state is None:
        state = new_state(probe)
    state["probe_count"] += 1
    newest = probe.ts >= state["last_seen_ts"]
    if probe.ts < state["first_seen_ts"]:
        state["first_seen_ts"] = probe.ts
    if newest:
        state["last_seen_ts"] = probe.ts
    if probe.ssid:
        _add_ssid(state, probe.ssid, probe.ts, max_ssids)
    else:
        state["wildcard_probes"] += 1
    rssi = probe.rssi_dbm
    if rssi is not None:
        state["rssi_sum"] += rssi
        state["rssi_samples"] += 1
        if state["rssi_min"] is None or rssi < state["rssi_min"]:
            state["rssi_min"] = rssi
        if state["rssi_max"] is None or rssi > state["rssi_max"]:
            state["rssi_max"] = rssi
        if newest or state["rssi_last"] is None:
            state["rssi_last"] = rssi
    if newest:
        if probe.freq_mhz is not None:
            state["freq_mhz_last"] = probe.freq_mhz
        if probe.ie_fingerprint is not None:
            state["ie_fingerprint"] = probe.ie_fingerprint
    if probe.sensor:
        _add_bounded(state["sensors"], probe.sensor, MAX_SENSORS)
    return state


def _add_ssid(state: DeviceState, ssid: str, ts: float, max_ssids: int) -> None:
    if not _add_bounded(state["ssids"], ssid, max_ssids):
        state["ssids_truncated"] = True
        return
    totals = state.setdefault("ssid_probes", {})
    total = totals.get(ssid)
    if total is None:
        totals[ssid] = [1, ts]
    else:
        total[0] += 1
        if ts > total[1]:
            total[1] = ts


def _add_bounded(items: list[str], item: str, limit: int) -> bool:
    """Insert into a sorted list of distinct items; False when it was full and lacked the item."""
    at = bisect_left(items, item)
    if at < len(items) and items[at] == item:
        return True
    if len(items) >= limit:
        return False
    insort(items, item)
    return True


def iso_utc(ts: float) -> str | None:
    """Epoch seconds as ISO-8601 UTC with millisecond precision, e.g. `2026-11-21T16:09:03.123Z`.

    None for a time no date can show: every entry point refuses those now, but a row written
    before it did must still be served, not fail every look-up.
    """
    try:
        moment = datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def device_stats(mac: str, state: DeviceState) -> DeviceStats:
    """The DeviceStats JSON of DESIGN.md for one device."""
    samples = state["rssi_samples"]
    return {
        "mac": mac,
        "probe_count": state["probe_count"],
        "first_seen": iso_utc(state["first_seen_ts"]),
        "last_seen": iso_utc(state["last_seen_ts"]),
        "first_seen_ts": state["first_seen_ts"],
        "last_seen_ts": state["last_seen_ts"],
        "ssids": state["ssids"],
        "unique_ssids": len(state["ssids"]),
        "ssids_truncated": state["ssids_truncated"],
        "wildcard_probes": state["wildcard_probes"],
        "rssi_last_dbm": state["rssi_last"],
        "rssi_min_dbm": state["rssi_min"],
        "rssi_max_dbm": state["rssi_max"],
        "rssi_avg_dbm": round(state["rssi_sum"] / samples, 1) if samples else None,
        "freq_mhz_last": state["freq_mhz_last"],
        "vendor": vendor_for(mac),
        "randomized": is_randomized(mac),
        "ie_fingerprint": state["ie_fingerprint"],
        "sensors": state["sensors"],
    }
