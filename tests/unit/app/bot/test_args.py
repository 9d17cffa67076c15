"""Command arguments: quoted SSIDs for /watch, whole-line values, /name's MAC and name."""

from __future__ import annotations

import pytest

from app.bot.args import BadArguments, WatchArgs, parse_name, parse_watch, parse_whole


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
