"""Command arguments: quoted SSIDs for /watch, whole-line values, /name's MAC and name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.bot.args import (
    BadArguments,
    StatsArgs,
    WatchArgs,
    parse_name,
    parse_stats,
    parse_watch,
    parse_whole,
)

NOW = datetime(2026, 11, 21, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"Free WiFi ☕" phishing bait', WatchArgs("Free WiFi ☕", "phishing bait", True)),
        ("'Free WiFi'", WatchArgs("Free WiFi", "", True)),
        ("Free WiFi", WatchArgs("Free", "WiFi", False)),
        ("  eduroam  ", WatchArgs("eduroam", "", False)),
        ("\u201cFree WiFi\u201d bait", WatchArgs("Free WiFi", "bait", True)),
        ("'Say \"hi\"' odd one", WatchArgs('Say "hi"', "odd one", True)),
        ('"Alice\'s iPhone" Bob\'s  "trap', WatchArgs("Alice's iPhone", "Bob's  \"trap", True)),
        ("#cafe a # b", WatchArgs("#cafe", "a # b", False)),
        ("back\\slash", WatchArgs("back\\slash", "", False)),
        ("Alice\u2019s iPhone", WatchArgs("Alice\u2019s", "iPhone", False)),
        ('"Free WiFi"\nmultiline reason', WatchArgs("Free WiFi", "multiline reason", True)),
    ],
)
def test_watch_arguments(text: str, expected: WatchArgs) -> None:
    assert parse_watch(text) == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "an SSID is missing"),
        ("   ", "an SSID is missing"),
        ('"Free WiFi bait', "not balanced"),
        ("Alice's iPhone", "not balanced"),
        ("'Free WiFi", "not balanced"),
        ('"" reason', "the SSID is empty"),
    ],
)
def test_bad_watch_arguments(text: str, error: str) -> None:
    with pytest.raises(BadArguments, match=error):
        parse_watch(text)


def test_a_whole_line_loses_one_pair_of_matching_quotes() -> None:
    assert parse_whole('  "Free WiFi" ') == "Free WiFi"
    assert parse_whole("'Free WiFi'") == "Free WiFi"
    assert parse_whole("\u201cFree WiFi\u201d") == "Free WiFi"
    assert parse_whole("Free WiFi") == "Free WiFi"
    assert parse_whole("Alice's iPhone") == "Alice's iPhone"
    assert parse_whole("\"a'") == "\"a'"
    assert parse_whole('"') == '"'
    assert parse_whole("") == ""


def test_name_arguments() -> None:
    assert parse_name("aa:bb:cc:dd:ee:ff Alice  phone ") == ("aa:bb:cc:dd:ee:ff", "Alice  phone")
    assert parse_name('AABB.CCDD.EEFF "Kitchen iPad"') == ("AABB.CCDD.EEFF", "Kitchen iPad")
    for bad in ("", "aa:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff   ", 'aa:bb:cc:dd:ee:ff ""'):
        with pytest.raises(BadArguments):
            parse_name(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("messages-per-day", StatsArgs("messages-per-day")),
        ("Messages-Per-Day  2026-11-18", StatsArgs("messages-per-day", {"since": "2026-11-18"})),
        (
            "probes-per-hour 2026-11-18T10:00 1795300000",
            StatsArgs("probes-per-hour", {"since": "2026-11-18T10:00", "until": "1795300000"}),
        ),
        ("messages-per-day 7d", StatsArgs("messages-per-day", {"since": "1794672000"})),
        (
            "messages-per-day until=12h since=2d",
            StatsArgs("messages-per-day", {"until": "1795233600", "since": "1795104000"}),
        ),
        (
            "presence F0-18-98-11-22-33 gap=20 2026-11-01",
            StatsArgs(
                "presence",
                {"mac": "f0:18:98:11:22:33", "gap_minutes": "20", "since": "2026-11-01"},
            ),
        ),
        ("presence mac=f018.9811.2233", StatsArgs("presence", {"mac": "f0:18:98:11:22:33"})),
        ("top-ssids-per-day TOP=3", StatsArgs("top-ssids-per-day", {"top": "3"})),
        ("top-ssids-per-day top=many", StatsArgs("top-ssids-per-day", {"top": "many"})),
    ],
)
def test_stats_arguments(text: str, expected: StatsArgs) -> None:
    assert parse_stats(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "name a report"),
        ("messages-per-day 1d 2d 3d", "3d: a report takes two times at most, since and until"),
        ("messages-per-day colour=red", "colour= is not something a report takes"),
        ("messages-per-day since=1d 2d", "since is given twice"),
        ("presence mac=aa mac=bb", "mac is given twice"),
        ("presence mac=", "mac= has no value"),
        ("presence mac=phone", "phone is not a MAC address"),
    ],
)
def test_bad_stats_arguments(text: str, why: str) -> None:
    with pytest.raises(BadArguments) as bad:
        parse_stats(text, NOW)
    assert str(bad.value) == why
