"""What the bot says, as Telegram HTML: pure functions, so every reply is unit-tested as text.

User-controlled text (SSIDs above all: any 32 bytes a phone chose to send) is escaped, and a
device's reply is shortened to fit Telegram's 4096-character limit however many SSIDs it probed.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from app.bot.api import DeviceStats

#: Telegram's limit on a message's text.
MAX_MESSAGE = 4096
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units), taken over the HTML source to be safe."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """Text made safe for Telegram HTML: `&<>` escaped, control characters shown as `\\xNN`."""
    visible = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return html.escape(visible, quote=False)


def format_time(ts: float, tz: ZoneInfo) -> str:
    """Epoch seconds as local time in `tz`, zone abbreviated: `2026-11-21 16:09:03 GMT`."""
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def _signal(stats: DeviceStats) -> str:
    last = stats.get("rssi_last_dbm")
    if last is None:
        return "not measured"
    return (
        f"{last} dBm (min {stats.get('rssi_min_dbm')}, max {stats.get('rssi_max_dbm')}, "
        f"avg {stats.get('rssi_avg_dbm')})"
    )


def format_device(stats: DeviceStats, tz: ZoneInfo, limit: int = MAX_MESSAGE) -> str:
    """A device's statistics; the SSID list is cut (with a count of the rest) to fit `limit`."""
    ssids = [str(s) for s in stats.get("ssids") or []]
    head = "\n".join(
        [
            f"📡 <b>Device</b> <code>{escape(str(stats.get('mac', '?')))}</code>",
            f"Vendor: {escape(str(stats.get('vendor') or 'unknown'))}",
            f"Randomized address: {'yes' if stats.get('randomized') else 'no'}",
            f"Probes: {stats.get('probe_count', 0)} "
            f"({stats.get('wildcard_probes', 0)} for any network)",
            f"First probe: {format_time(float(stats['first_seen_ts']), tz)}",
            f"Last probe: {format_time(float(stats['last_seen_ts']), tz)}",
            f"Signal: {_signal(stats)}",
            f"Unique SSIDs: {stats.get('unique_ssids', len(ssids))}",
        ]
    )
    notes = []
    if stats.get("ssids_truncated"):
        notes.append("<i>(more SSIDs were probed than a device's list keeps)</i>")
    lines = [f"• <code>{escape(ssid)}</code>" for ssid in ssids]
    return _fit(head + ("\nSSIDs:" if ssids else ""), lines, notes, limit)


def _fit(head: str, lines: list[str], notes: list[str], limit: int) -> str:
    """`head`, as many `lines` as fit, a "… and N more" line when some did not, then `notes`."""
    tail = "".join(f"\n{note}" for note in notes)
    whole = head + "".join(f"\n{line}" for line in lines) + tail
    if telegram_length(whole) <= limit:
        return whole
    reserve = telegram_length(f"\n… and {len(lines)} more") + telegram_length(tail)
    used = telegram_length(head)
    kept: list[str] = []
    for line in lines:
        size = telegram_length(line) + 1
        if used + size + reserve > limit:
            break
        kept.append(line)
        used += size
    more = f"\n… and {len(lines) - len(kept)} more"
    return head + "".join(f"\n{line}" for line in kept) + more + tail


def no_result(mac: str) -> str:
    """An unknown device: a friendly answer, not an error."""
    return f"No result: no probe requests seen from <code>{escape(mac)}</code>."


def not_a_mac(text: str) -> str:
    """Text that is no query: show what was understood and how to ask."""
    shown = escape(text[:60])
    return (
        f"<code>{shown}</code> is not a MAC address. Send one like "
        "<code>aa:bb:cc:dd:ee:ff</code>, <code>AA-BB-CC-DD-EE-FF</code> or "
        "<code>aabb.ccdd.eeff</code>."
    )


def invalid_query(error: str) -> str:
    """The API refused the query (400): pass its reason on."""
    return f"That query was refused: {escape(error)}"


def lookup_failed(reason: str) -> str:
    """The look-up failed: say so clearly rather than stay silent."""
    return (
        f"⚠️ The lookup failed: {escape(reason)}. Nothing is wrong with your query; "
        "please try again in a minute."
    )


def refused(chat_id: int) -> str:
    """A chat not on the allow-list: polite, and with the id its owner would have to add."""
    return (
        "Sorry, this bot is private: device histories are personal data. "
        f"Your chat id is <code>{chat_id}</code>; ask the bot's owner to allow it."
    )


HELP = (
    "I tell you what Wi-Fi sensors saw of a device, from the probe requests it sent.\n\n"
    "Send me a MAC address in any common spelling (<code>aa:bb:cc:dd:ee:ff</code>, "
    "<code>AA-BB-CC-DD-EE-FF</code>, <code>aabb.ccdd.eeff</code>) or use "
    "/device <code>&lt;mac&gt;</code>. I answer with its probe count, first and last probe, "
    "the SSIDs it asked for, its vendor, signal and whether the address is randomized.\n\n"
    "/help shows this text again."
)
