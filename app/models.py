"""The records of probewatch, typed: what crosses Kafka, what a table row holds, what the API
serves. The README's contracts (topics, records, routes) are the source of truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NotRequired, TypedDict

import msgspec


class ProbeEvent(msgspec.Struct, frozen=True, gc=False):
    """One probe request, the value of the `probes` topic (DESIGN.md, "ProbeEvent").

    A msgspec Struct: `app.logic.probe` decodes whole packed records straight into these, and
    with only atoms inside, the garbage collector need not track the thousands held per flush.
    """

    ts: float
    mac: str
    ssid: str
    ssid_hex: str | None = None
    rssi_dbm: int | None = None
    freq_mhz: int | None = None
    seq: int | None = None
    randomized: bool = False
    sensor: str = ""
    ie_fingerprint: str | None = None

    def as_json_dict(self) -> dict[str, object]:
        """The JSON object of DESIGN.md, field for field."""
        return {
            "ts": self.ts,
            "mac": self.mac,
            "ssid": self.ssid,
            "ssid_hex": self.ssid_hex,
            "rssi_dbm": self.rssi_dbm,
            "freq_mhz": self.freq_mhz,
            "seq": self.seq,
            "randomized": self.randomized,
            "sensor": self.sensor,
            "ie_fingerprint": self.ie_fingerprint,
        }


class DeviceState(TypedDict):
    """A `devices` table row: what the probes of one device folded into (`app.logic.stats`)."""

    probe_count: int
    first_seen_ts: float
    last_seen_ts: float
    ssids: list[str]
    ssids_truncated: bool
    wildcard_probes: int
    rssi_last: int | None
    rssi_min: int | None
    rssi_max: int | None
    rssi_sum: int
    rssi_samples: int
    freq_mhz_last: int | None
    ie_fingerprint: str | None
    sensors: list[str]
    #: The `probes` offset of the last probe applied: re-delivered probes are skipped.
    offset: NotRequired[int]
    #: Per forwarding source partition (`pcap:3`), the last source offset applied.
    sources: NotRequired[dict[str, int]]
    #: Per SSID of `ssids`: [probes for it, capture time of the last one]. The `ssids` index
    #: is sent these totals, so a total sent twice or out of a crash's re-reading is harmless.
    ssid_probes: NotRequired[dict[str, list[float]]]
    #: Per watched SSID, the capture time of the device's last alert for it.
    alerted: NotRequired[dict[str, float]]
    #: The probable device (`app.agents.groups`): its group's id, the first decision kept.
    group: NotRequired[str]
    #: Whether that group was begun in doubt (its scan fitted several groups alike).
    group_in_doubt: NotRequired[bool]


class DeviceStats(TypedDict):
    """One device as `GET /devices/{mac}` serves it (README, "HTTP API")."""

    mac: str
    probe_count: int
    first_seen: str | None
    last_seen: str | None
    first_seen_ts: float
    last_seen_ts: float
    ssids: list[str]
    unique_ssids: int
    ssids_truncated: bool
    wildcard_probes: int
    rssi_last_dbm: int | None
    rssi_min_dbm: int | None
    rssi_max_dbm: int | None
    rssi_avg_dbm: float | None
    freq_mhz_last: int | None
    vendor: str | None
    randomized: bool
    ie_fingerprint: str | None
    sensors: list[str]
    name: NotRequired[str | None]
    #: The probable device (`GET /groups/{id}`); None until decided.
    group: NotRequired[str | None]
    group_in_doubt: NotRequired[bool]


class AlertRecord(TypedDict):
    """The value of an `alerts` record, as the fold agent writes it."""

    ts: float
    time: str | None
    mac: str
    name: str | None
    vendor: str | None
    ssid: str
    reason: str
    rssi_dbm: int | None
    sensor: str


@dataclass(frozen=True, slots=True)
class Alert:
    """What a notification needs of an `alerts` record, whoever wrote it (`decode_alert`)."""

    ts: float
    mac: str
    ssid: str
    reason: str
    name: str | None
    vendor: str | None
    rssi_dbm: int | None
    sensor: str | None


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A chat that asked for alerts, and the bot it asked (None: the first configured bot)."""

    chat_id: int
    bot_id: int | None


@dataclass(frozen=True, slots=True)
class WatchEntry:
    """One watched SSID and why it is watched."""

    ssid: str
    reason: str
