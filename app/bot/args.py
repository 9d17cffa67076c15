"""Command arguments as people type them: SSIDs may hold spaces (quoted), names are bare text.

Pure functions, unit-tested on their own. Telegram apps on phones and Macs often turn `"` into
curly quotes (U+201C, U+201D), which count as `"` here. Single curly quotes are left alone: an
iPhone names its hotspot "Alice<U+2019>s iPhone", so U+2019 is part of many real SSIDs.
"""

from __future__ import annotations

import io
import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.logic.mac import InvalidMac, normalize_mac

#: Curly double quotes, read as `"` (one character each, so positions stay the same).
_DOUBLE_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"'})
_QUOTES = "\"'"


class BadArguments(ValueError):
    """Arguments the command cannot use; the message (plain text) says what to send instead."""


@dataclass(frozen=True)
class WatchArgs:
    """`/watch <ssid> [reason…]`, parsed; `quoted` says whether the SSID was written in quotes."""

    ssid: str
    reason: str
    quoted: bool


def parse_watch(text: str) -> WatchArgs:
    """The SSID (first word, or a quoted string) and the rest of the line as the reason.

    The SSID is read with `shlex` (POSIX rules, no comments, no backslash escapes, so `#` and `\\`
    are plain characters); the reason is kept as typed, apostrophes and all.
    """
    typed = text.strip()
    plain = typed.translate(_DOUBLE_QUOTES)
    if not plain:
        raise BadArguments("an SSID is missing")
    stream = io.StringIO(plain)
    lexer = shlex.shlex(stream, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    lexer.escape = ""
    try:
        ssid = lexer.get_token() or ""
    except ValueError:
        raise BadArguments(
            "the quotes in the SSID are not balanced: put an SSID with spaces or quote marks "
            'in double quotes ("Alice\'s iPhone") or in single quotes (\'Say "hi"\')'
        ) from None
    rest = stream.read()  # shlex reads one character at a time: the rest is still unread
    reason = typed[len(typed) - len(rest) :].strip() if rest else ""
    if not ssid:
        raise BadArguments("the SSID is empty")
    return WatchArgs(ssid=ssid, reason=reason, quoted=plain[0] in _QUOTES)


def parse_whole(text: str) -> str:
    """The whole line as one value (an SSID to unwatch, a device name), quotes optional.

    One pair of matching quotes around it is removed, so `"Free WiFi"` and `Free WiFi` are
    the same; quotes anywhere else are kept.
    """
    value = text.strip()
    plain = value.translate(_DOUBLE_QUOTES)
    if len(plain) >= 2 and plain[0] in _QUOTES and plain[-1] == plain[0]:
        value = value[1:-1]
    return value


def parse_name(text: str) -> tuple[str, str]:
    """`/name <mac> <name…>`: the MAC as typed and the name (spaces allowed, quotes optional)."""
    parts = text.split(maxsplit=1)
    if len(parts) < 2:
        raise BadArguments("give a MAC address and then the name")
    name = parse_whole(parts[1])
    if not name.strip():
        raise BadArguments("the name is empty")
    return parts[0], name


#: `/stats` keywords people type, and the API parameter each one is.
STATS_KEYWORDS = {
    "since": "since",
    "until": "until",
    "mac": "mac",
    "gap": "gap_minutes",
    "gap_minutes": "gap_minutes",
    "top": "top",
}
#: "7d", "12h": that long before now.
_AGO = re.compile(r"([0-9]{1,5})([dh])")
_UNITS = {"d": "days", "h": "hours"}


@dataclass(frozen=True)
class StatsArgs:
    """`/stats <report> [since] [until] [key=value…]`, as the API's query parameters."""

    report: str
    params: dict[str, str] = field(default_factory=dict)


def parse_stats(text: str, now: datetime) -> StatsArgs:
    """The report and its parameters; relative times (`7d`) counted back from `now` (aware).

    After the report come up to two times, since then until (a day `2026-11-18`, a time
    `2026-11-18T10:00`, epoch seconds, or `7d`/`12h` ago); a MAC address is `mac`;
    `since=`, `until=`, `mac=`, `gap=` (minutes) and `top=` name a value. The API checks the
    values and which report takes which.
    """
    words = text.split()
    if not words:
        raise BadArguments("name a report")
    report, params = words[0].lower(), {}
    times: list[str] = []
    for word in words[1:]:
        key, equals, value = word.partition("=")
        if equals:
            parameter = STATS_KEYWORDS.get(key.lower())
            if parameter is None:
                raise BadArguments(f"{key}= is not something a report takes")
        elif _is_mac(word):
            parameter, value = "mac", word
        else:
            if len(times) == 2:
                raise BadArguments(f"{word}: a report takes two times at most, since and until")
            parameter, value = ("since", "until")[len(times)], word
            times.append(word)
        if parameter in params:
            raise BadArguments(f"{key if equals else parameter} is given twice")
        if not value:
            raise BadArguments(f"{key}= has no value")
        params[parameter] = _when(value, now) if parameter in ("since", "until") else value
    if "mac" in params:
        params["mac"] = _mac(params["mac"])
    return StatsArgs(report, params)


def _is_mac(word: str) -> bool:
    try:
        normalize_mac(word)
    except InvalidMac:
        return False
    return True


def _mac(text: str) -> str:
    try:
        return normalize_mac(text)
    except InvalidMac:
        raise BadArguments(f"{text[:40]} is not a MAC address") from None


def _when(text: str, now: datetime) -> str:
    """A relative time as epoch seconds; any other text as typed (the API parses it)."""
    ago = _AGO.fullmatch(text.lower())
    if ago is None:
        return text
    moment = now - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
    return str(int(moment.timestamp()))
