"""The records that cross Kafka, as the app reads them.

DESIGN.md's tables are the source of truth.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProbeEvent:
    """One probe request, the value of the `probes` topic (DESIGN.md, "ProbeEvent")."""

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
