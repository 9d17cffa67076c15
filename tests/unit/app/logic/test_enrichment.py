"""Names, watch list, alert folding, SSID tallies and the inventory importer, as plain values."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli.names_import import InventoryError, NameRow, read_inventory
from app.logic.alerts import make_alert, should_alert
from app.logic.names import InvalidName, clean_name, decode_name_value, name_key
from app.logic.ssids import InvalidSsidProbes, apply_ssid_probes, ssid_view
from app.logic.watchlist import InvalidWatch, clean_ssid, decode_watch_value
from app.models import ProbeEvent


def test_names_are_trimmed_and_compared_case_insensitively() -> None:
    assert clean_name("  Alice's\tiPhone  ") == "Alice's iPhone"
    assert name_key("ALICE'S  iphone") == name_key("alice's iPhone")
    for bad in ("", "   ", "x" * 65, "bell\x07", 42, None):
        with pytest.raises(InvalidName):
            clean_name(bad)


def test_name_values_and_tombstones() -> None:
    assert decode_name_value(b'{"name": "Tablet", "source": "import"}') == "Tablet"
    assert decode_name_value(None) is None
    for bad in (b"{oops", b"[]", b'{"label": "x"}', b'{"name": ""}'):
        with pytest.raises(InvalidName):
            decode_name_value(bad)


def test_watchable_ssids_are_one_to_32_bytes() -> None:
    assert clean_ssid("x" * 32) == "x" * 32
    assert clean_ssid("é" * 16) == "é" * 16
    for bad in ("", "x" * 33, "é" * 17, None):
        with pytest.raises(InvalidWatch):
            clean_ssid(bad)
    assert decode_watch_value(b'{"reason": "  bait  "}') == "bait"
    assert decode_watch_value(b"{}") == ""
    assert decode_watch_value(None) is None
    with pytest.raises(InvalidWatch):
        decode_watch_value(b'"just text"')


def test_alerts_fold_repeats_within_the_window_by_capture_time() -> None:
    state: dict[str, object] = {}
    probe = ProbeEvent(ts=1000.0, mac="f0:18:98:00:00:01", ssid="bait", rssi_dbm=-40)
    assert should_alert(state, probe, 300)
    assert not should_alert(state, ProbeEvent(ts=1299.0, mac=probe.mac, ssid="bait"), 300)
    assert should_alert(state, ProbeEvent(ts=1300.0, mac=probe.mac, ssid="bait"), 300)
    assert should_alert(state, ProbeEvent(ts=1301.0, mac=probe.mac, ssid="other"), 300)
    alert = make_alert(probe, "phishing", "Alice")
    assert alert["time"] == "1970-01-01T00:16:40.000Z" and alert["vendor"] == "Apple, Inc."
    assert (alert["name"], alert["reason"], alert["rssi_dbm"]) == ("Alice", "phishing", -40)


def test_ssid_batch_shares_of_the_earlier_shape_fold_once_per_source_offset() -> None:
    tally = {"aa:aa:aa:aa:aa:01": [2, 12.0, 9], "aa:aa:aa:aa:aa:02": [1, 11.0, 7]}
    row = apply_ssid_probes(None, {"devices": tally})
    assert row is not None and row["probe_count"] == 3
    assert apply_ssid_probes(row, {"devices": tally}) is None, "a re-sent message changes nothing"
    view = ssid_view("eduroam", row)
    assert [(d["mac"], d["probe_count"], d["last_seen_ts"]) for d in view["devices"]] == [
        ("aa:aa:aa:aa:aa:01", 2, 12.0),
        ("aa:aa:aa:aa:aa:02", 1, 11.0),
    ]
    for bad in ([], {"devices": []}, {"devices": {"m": [1, 2]}}, {"devices": {"m": ["1", 2, 3]}}):
        with pytest.raises(InvalidSsidProbes):
            apply_ssid_probes(None, bad)


def test_ssid_totals_converge_whatever_the_flushes_a_crash_made() -> None:
    """Totals replace a device's share: sent twice, late, or re-cut after a crash re-read the
    input, the SSID ends with the device's true count."""
    mac = "aa:aa:aa:aa:aa:01"
    first = apply_ssid_probes(None, {"totals": {mac: [5, 10.0, 190]}})
    assert first is not None and first["probe_count"] == 5
    assert apply_ssid_probes(first, {"totals": {mac: [5, 10.0, 190]}}) is None
    assert apply_ssid_probes(first, {"totals": {mac: [3, 9.0, 140]}}) is None, "older total"
    later = apply_ssid_probes(first, {"totals": {mac: [7, 12.0, 250]}})
    assert later is not None and later["probe_count"] == 7
    assert later["devices"][mac] == [7, 12.0, 250]
    other = apply_ssid_probes(later, {"totals": {"aa:aa:aa:aa:aa:02": [2, 3.0, 1]}})
    assert other is not None and other["probe_count"] == 9


def test_inventory_csv_and_json(tmp_path: Path) -> None:
    csv_file = tmp_path / "clients.csv"
    csv_file.write_text(
        "Name,MAC,IP\nAlice,F0-18-98-00-00-01,10.0.0.2\nGone,02:00:00:00:00:02,\nBad,xx,\n"
    )
    rows, errors = read_inventory(csv_file)
    assert rows == [NameRow("f0:18:98:00:00:01", "Alice"), NameRow("02:00:00:00:00:02", "Gone")]
    assert errors == ["line 4: not a MAC address: 'xx'"]

    forget = tmp_path / "forget.csv"
    forget.write_text("mac,name\n02:00:00:00:00:02,\n")
    assert read_inventory(forget)[0] == [NameRow("02:00:00:00:00:02", None)]

    listed = tmp_path / "list.json"
    listed.write_text('[{"mac": "f0:18:98:00:00:01", "name": "A"}, 5, {"mac": "x", "name": "B"}]')
    rows, errors = read_inventory(listed)
    assert rows == [NameRow("f0:18:98:00:00:01", "A")] and len(errors) == 2

    mapping = tmp_path / "map.json"
    mapping.write_text('{"f0:18:98:00:00:01": "A", "02:00:00:00:00:02": null}')
    assert read_inventory(mapping)[0] == [
        NameRow("f0:18:98:00:00:01", "A"),
        NameRow("02:00:00:00:00:02", None),
    ]


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("inv.csv", "mac;name\n", "header row"),
        ("inv.txt", "[oops", "not valid JSON"),
        ("inv.json", '"text"', "JSON must be"),
    ],
)
def test_unreadable_inventories_say_why(
    tmp_path: Path, filename: str, content: str, message: str
) -> None:
    path = tmp_path / filename
    path.write_text(content)
    with pytest.raises(InventoryError, match=message):
        read_inventory(path)
