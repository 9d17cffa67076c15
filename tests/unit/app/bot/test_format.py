"""The bot's replies as text: time zone, escaping, and the 4096-character limit; alerts."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

from app.bot.api import WatchEntry
from app.bot.format import (
    MAX_MESSAGE,
    escape,
    format_alert,
    format_device,
    format_devices_named,
    format_watchlist,
    not_a_mac,
    refused,
    telegram_length,
)
from app.models import Alert
from tests.unit.app.bot.conftest import STATS

UTC = ZoneInfo("UTC")
LONDON = ZoneInfo("Europe/London")


def test_a_device_shows_its_statistics() -> None:
    text = format_device(STATS, UTC)
    assert "<code>f0:18:98:11:22:33</code>" in text
    assert "Probes: 42 (7 for any network)" in text
    assert "Vendor: Apple, Inc." in text
    assert "Randomized address: no" in text
    assert "Signal: -61 dBm (min -80, max -50, avg -64.5)" in text
    assert "Unique SSIDs: 2" in text
    assert "more" not in text


def test_times_are_shown_in_the_configured_zone() -> None:
    utc = format_device(STATS, UTC)
    assert "First probe: 2026-07-01 11:00:00 UTC" in utc
    assert "Last probe: 2026-11-21 16:09:03 UTC" in utc
    london = format_device(STATS, LONDON)
    assert "First probe: 2026-07-01 12:00:00 BST" in london  # summer time
    assert "Last probe: 2026-11-21 16:09:03 GMT" in london


def test_ssids_are_escaped_for_telegram_html() -> None:
    text = format_device(STATS, UTC)
    assert "<code>Home &lt;5G&gt;</code>" in text
    assert "<code>Work &amp; Co</code>" in text
    assert escape("a\nb\x00c\x7f") == "a\\x0ab\\x00c\\x7f"
    assert escape("<script>") == "&lt;script&gt;"
    assert "&lt;b&gt;" in not_a_mac("<b>")


def test_a_device_without_signal_or_vendor() -> None:
    stats = dict(STATS, rssi_last_dbm=None, vendor=None, randomized=True, ssids=[], unique_ssids=0)
    text = format_device(stats, UTC)
    assert "Signal: not measured" in text
    assert "Vendor: unknown" in text
    assert "Randomized address: yes" in text
    assert "\nSSIDs:" not in text


def test_many_long_ssids_are_cut_to_fit_one_message() -> None:
    ssids = [f"{i:04d}-📶<&>-" + "x" * 20 for i in range(1000)]
    stats = dict(STATS, ssids=ssids, unique_ssids=1000, ssids_truncated=True)
    text = format_device(stats, LONDON)
    assert telegram_length(text) <= MAX_MESSAGE
    assert telegram_length(text) > MAX_MESSAGE - 200  # it uses the room it has
    shown = text.count("\n• ")
    assert 0 < shown < 1000
    assert f"\n… and {1000 - shown} more" in text
    assert text.endswith("(more SSIDs were probed than a device's list keeps)</i>")
    assert "Probes: 42" in text and "Unique SSIDs: 1000" in text


def test_the_limit_counts_utf16_units_as_telegram_does() -> None:
    assert telegram_length("📶") == 2
    ssids = ["📶" * 16 for _ in range(300)]
    text = format_device(dict(STATS, ssids=ssids), UTC, limit=1000)
    assert telegram_length(text) <= 1000 < len(text) * 2


def test_a_refusal_tells_the_chat_its_id() -> None:
    assert "<code>-100123</code>" in refused(-100123)


def test_a_named_device_shows_its_name() -> None:
    text = format_device(dict(STATS, name="Alice <phone>"), UTC)
    assert "\nName: <b>Alice &lt;phone&gt;</b>\n" in text


def test_a_device_named_before_it_was_seen() -> None:
    unseen = {"mac": "00:00:5e:00:53:01", "name": "Spare & phone", "probe_count": 0}
    assert format_device(unseen, UTC) == (
        "📡 <code>00:00:5e:00:53:01</code> is named <b>Spare &amp; phone</b>, but it has sent "
        "no probe requests the sensors saw yet."
    )


def test_devices_sharing_a_name_are_listed_latest_first_and_fit_one_message() -> None:
    devices = [
        dict(STATS, mac=f"f0:18:98:00:{i // 256:02x}:{i % 256:02x}", last_seen_ts=1.7e9 + i)
        for i in range(300)
    ]
    text = format_devices_named("Test <phone>", devices, UTC)
    assert text.startswith("🔎 <b>300 devices</b> have <b>Test &lt;phone&gt;</b> in their name:\n")
    assert telegram_length(text) <= MAX_MESSAGE
    lines = text.split("\n")
    assert lines[1].startswith("• <code>f0:18:98:00:01:2b</code>: Apple, Inc., 42 probes, last ")
    assert lines[1].endswith(", -61 dBm")
    assert "… and " in text and text.endswith("Send a MAC address to see one of them in full.")
    assert format_devices_named("x", devices[:1], UTC) == format_device(devices[0], UTC)
    first_page = format_devices_named("Test", devices[:3], UTC, count=7)
    assert first_page.startswith("🔎 <b>7 devices</b> have <b>Test</b> in their name:\n")
    assert first_page.count("\n• <code>") == 3 and "\n… and 4 more\n" in first_page
    assert format_devices_named("No <one>", [], UTC).startswith(
        "No device is named <b>No &lt;one&gt;</b>"
    )


def test_the_watch_list_fits_one_message() -> None:
    entries = [WatchEntry(f"{i:03d} <ssid> ☕" + "x" * 20, "r & " * 40) for i in range(200)]
    text = format_watchlist(entries)
    assert text.startswith("👁 <b>Watch list</b> (200 SSIDs):\n• <code>000 &lt;ssid&gt; ☕")
    assert telegram_length(text) <= MAX_MESSAGE and "… and " in text
    assert (
        format_watchlist([WatchEntry("a", "")]) == "👁 <b>Watch list</b> (1 SSID):\n• <code>a</code>"
    )
    assert format_watchlist([]).startswith("The watch list is empty.")


ALERT = Alert(
    ts=1795277343.0,
    mac="f0:18:98:11:22:33",
    ssid="Free <WiFi> ☕",
    reason="phishing & bait",
    name=None,
    vendor="Apple, Inc.",
    rssi_dbm=-60,
    sensor="sensor-1",
)


def test_an_alert_is_one_readable_message() -> None:
    assert format_alert(ALERT, LONDON) == (
        "🚨 <b>Watched SSID probed:</b> <code>Free &lt;WiFi&gt; ☕</code>\n"
        "Device: <code>f0:18:98:11:22:33</code> (Apple, Inc.)\n"
        "Reason: phishing &amp; bait\n"
        "Time: 2026-11-21 16:09:03 GMT\n"
        "Signal: -60 dBm\n"
        "Sensor: sensor-1"
    )


def test_an_alert_names_a_known_device_and_leaves_out_what_it_lacks() -> None:
    alert = replace(ALERT, name="Alice <3", reason="", rssi_dbm=None, sensor=None, vendor=None)
    text = format_alert(alert, ZoneInfo("Asia/Tokyo"))
    assert "Device: <b>Alice &lt;3</b> (<code>f0:18:98:11:22:33</code>)" in text
    assert "Reason" not in text and "Sensor" not in text
    assert "Signal: not measured" in text and "Time: 2026-11-22 01:09:03 JST" in text
    unnamed = format_alert(replace(ALERT, vendor=None), UTC)
    assert "Device: <code>f0:18:98:11:22:33</code> (unknown vendor)" in unnamed


def test_huge_alert_fields_are_clipped() -> None:
    alert = replace(ALERT, reason="&" * 10_000, name="n" * 10_000, sensor="s" * 10_000)
    text = format_alert(alert, UTC)
    assert telegram_length(text) <= MAX_MESSAGE
    assert "&amp;" * 199 + "…" in text
