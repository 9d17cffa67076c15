"""The bot's replies as text: time zone, escaping, and the 4096-character limit."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from app.bot.format import (
    MAX_MESSAGE,
    escape,
    format_device,
    not_a_mac,
    refused,
    telegram_length,
)
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
