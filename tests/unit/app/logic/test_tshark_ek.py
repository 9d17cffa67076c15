"""The `pcap` topic's frames (tshark -T ek through jq), in both tshark dialects."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from app.logic.probe import InvalidProbe
from app.logic.tshark_ek import probe_from_tshark_ek
from tests.pcaps import capture
from tests.tshark import TSHARK, ssid_text, tshark_output, tshark_probes

TSHARK3 = {
    "timestamp": "1595253600123",
    "wlan_fc_type_subtype": ["4"],
    "wlan_sa": ["F0:18:98:11:22:33"],
    "wlan_ssid": ["Home WiFi"],
    "wlan_radio_signal_dbm": ["-67"],
}
TSHARK4 = {
    "timestamp": "1595253600123",
    "wlan_fc_type_subtype": ["0x0004"],
    "wlan_sa": ["f0:18:98:11:22:33"],
    "wlan_ssid": ["486f6d652057694669"],
    "wlan_radio_signal_dbm": ["-67"],
    "wlan_radio_frequency": ["2437"],
}


def test_both_dialects_give_the_same_probe() -> None:
    old, new = probe_from_tshark_ek(TSHARK3), probe_from_tshark_ek(TSHARK4)
    assert old is not None and new is not None
    assert (old.mac, old.ssid, old.rssi_dbm, old.ts) == (
        "f0:18:98:11:22:33",
        "Home WiFi",
        -67,
        1595253600.123,
    )
    assert (new.mac, new.ssid, new.rssi_dbm, new.ts) == (old.mac, old.ssid, old.rssi_dbm, old.ts)
    assert new.freq_mhz == 2437


@pytest.mark.parametrize("ssid", [[""], ["<MISSING>"], []])
def test_wildcard_spellings(ssid: list[str]) -> None:
    probe = probe_from_tshark_ek({**TSHARK4, "wlan_ssid": ssid})
    assert probe is not None and probe.ssid == ""


def test_non_utf8_ssid_keeps_its_bytes() -> None:
    probe = probe_from_tshark_ek({**TSHARK4, "wlan_ssid": ["b2e2cad4"]})
    assert (
        probe is not None and probe.ssid_hex == "b2e2cad4" and probe.ssid == "\\xb2\\xe2\\xca\\xd4"
    )


def test_other_frame_types_are_skipped() -> None:
    assert probe_from_tshark_ek({**TSHARK4, "wlan_fc_type_subtype": ["0x0008"]}) is None
    assert probe_from_tshark_ek({**TSHARK3, "wlan_fc_type_subtype": ["8"]}) is None


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ([1], "not_an_object"),
        ({"wlan_sa": ["f0:18:98:11:22:33"]}, "missing_field"),
        ({**TSHARK4, "wlan_fc_type_subtype": ["probe"]}, "bad_field"),
        ({**TSHARK4, "wlan_sa": ["nope"]}, "bad_mac"),
        ({k: v for k, v in TSHARK4.items() if k != "wlan_sa"}, "missing_field"),
        ({k: v for k, v in TSHARK4.items() if k != "timestamp"}, "missing_field"),
        ({**TSHARK4, "timestamp": "soon"}, "bad_field"),
        ({**TSHARK4, "wlan_radio_signal_dbm": ["loud"]}, "bad_field"),
        ({**TSHARK4, "wlan_sa": [{"x": 1}]}, "bad_field"),
    ],
)
def test_malformed_frames_are_rejected(frame: object, reason: str) -> None:
    with pytest.raises(InvalidProbe) as caught:
        probe_from_tshark_ek(frame)
    assert caught.value.reason == reason


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (make install-test-tools)")
def test_real_tshark_output_converts_every_probe_request() -> None:
    path = capture("proberequest_data_analyse__probes-2013-03-17.pcap0")
    frames = _tshark_ek(path)
    probes = [p for p in map(probe_from_tshark_ek, frames) if p is not None]
    expected = tshark_probes(path, damaged_ok=False)
    assert [p.mac for p in probes] == [row.mac for row in expected]
    assert [p.ssid for p in probes] == [ssid_text(row.ssid) for row in expected]
    assert len(probes) == 156
    assert any(p.ssid for p in probes) and any(not p.ssid for p in probes)


def _tshark_ek(path: Path) -> list[dict[str, object]]:
    """What the demo's `tshark -T ek -l -e … | jq -c '{timestamp: .timestamp} + .layers'` gives."""
    fields = ["wlan.fc.type_subtype", "wlan.sa", "wlan.ssid", "wlan_radio.signal_dbm"]
    fields.append("wlan_radio.frequency")
    args = ["-T", "ek", "-l", *(arg for name in fields for arg in ("-e", name))]
    out = tshark_output(path, *args, damaged_ok=False).splitlines()
    docs = [orjson.loads(line) for line in out if line.strip()]
    return [{"timestamp": d["timestamp"], **d["layers"]} for d in docs if "layers" in d]
