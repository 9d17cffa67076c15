"""What the bot says, as Telegram HTML: pure functions, so every reply is unit-tested as text.

User-controlled text (SSIDs above all: any 32 bytes a phone chose to send; names and reasons
people typed) is escaped, and a reply that lists things (a device's SSIDs, devices sharing a
name, the watch list) is shortened to fit Telegram's 4096-character limit however long it grows.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from app.bot.api import DeviceJson
from app.models import Alert, WatchEntry

#: Telegram's limit on a message's text.
MAX_MESSAGE = 4096
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Longest a single field of an alert is shown; the topic is open to any producer.
MAX_FIELD = 200


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units), taken over the HTML source to be safe."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """Text made safe for Telegram HTML: `&<>` escaped, control characters shown as `\\xNN`."""
    visible = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return html.escape(visible, quote=False)


def format_time(ts: float, tz: ZoneInfo) -> str:
    """Epoch seconds as local time in `tz`, zone abbreviated: `2026-11-21 16:09:03 GMT`.

    A time no calendar can show (a row stored before entry points checked times) says so.
    """
    try:
        return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M:%S %Z")
    except (OverflowError, OSError, ValueError):
        return "unknown (out of range)"


def _signal(stats: DeviceJson) -> str:
    last = stats.get("rssi_last_dbm")
    if last is None:
        return "not measured"
    return (
        f"{last} dBm (min {stats.get('rssi_min_dbm')}, max {stats.get('rssi_max_dbm')}, "
        f"avg {stats.get('rssi_avg_dbm')})"
    )


def format_device(stats: DeviceJson, tz: ZoneInfo, limit: int = MAX_MESSAGE) -> str:
    """A device's statistics; the SSID list is cut (with a count of the rest) to fit `limit`.

    A device named (by an inventory) before any sensor saw it has no statistics yet: say so.
    """
    mac = escape(str(stats.get("mac", "?")))
    name = stats.get("name")
    if "first_seen_ts" not in stats:
        named = f" is named <b>{escape(str(name))}</b>, but it" if name else ""
        return f"📡 <code>{mac}</code>{named} has sent no probe requests the sensors saw yet."
    ssids = [str(s) for s in stats.get("ssids") or []]
    head = "\n".join(
        [
            f"📡 <b>Device</b> <code>{mac}</code>",
            *([f"Name: <b>{escape(str(name))}</b>"] if name else []),
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
    return fit(head + ("\nSSIDs:" if ssids else ""), lines, notes, limit)


def fit(
    head: str,
    lines: list[str],
    notes: list[str],
    limit: int,
    total: int | None = None,
    close: str = "",
) -> str:
    """`head`, as many `lines` as fit, `close` (the end tag of a block the lines are in), a
    "… and N more" line when some did not fit (or `total` says there are more than `lines`),
    then `notes`."""
    total = len(lines) if total is None else max(total, len(lines))
    tail = "".join(f"\n{note}" for note in notes)
    whole = head + "".join(f"\n{line}" for line in lines) + close + tail
    if total == len(lines) and telegram_length(whole) <= limit:
        return whole
    reserve = telegram_length(f"{close}\n… and {total} more") + telegram_length(tail)
    used = telegram_length(head)
    kept: list[str] = []
    for line in lines:
        size = telegram_length(line) + 1
        if used + size + reserve > limit:
            break
        kept.append(line)
        used += size
    more = f"\n… and {total - len(kept)} more"
    return head + "".join(f"\n{line}" for line in kept) + close + more + tail


def format_devices_named(
    name: str,
    devices: Sequence[DeviceJson],
    tz: ZoneInfo,
    limit: int = MAX_MESSAGE,
    count: int | None = None,
) -> str:
    """The answer to a name: one device in full, several briefly (latest first), or none.

    `devices` may be the first page of `count` devices whose name contains `name`."""
    count = max(count or 0, len(devices))
    if not devices:
        return no_device_named(name)
    if count == 1:
        return format_device(devices[0], tz, limit)
    latest_first = sorted(devices, key=lambda d: -float(d.get("last_seen_ts") or 0))
    head = f"🔎 <b>{count} devices</b> have <b>{escape(name)}</b> in their name:"
    lines = [_brief(stats, tz) for stats in latest_first]
    notes = ["Send a MAC address to see one of them in full."]
    return fit(head, lines, notes, limit, total=count)


def _brief(stats: DeviceJson, tz: ZoneInfo) -> str:
    """One line of a device list: MAC, vendor, probes, last probe, signal."""
    mac = f"• <code>{escape(str(stats.get('mac', '?')))}</code>"
    if "last_seen_ts" not in stats:
        return f"{mac}: no probe requests seen yet"
    vendor = escape(str(stats.get("vendor") or "unknown vendor"))
    signal = stats.get("rssi_last_dbm")
    return (
        f"{mac}: {vendor}, {stats.get('probe_count', 0)} probes, last "
        f"{format_time(float(stats['last_seen_ts']), tz)}"
        + (f", {signal} dBm" if signal is not None else "")
    )


def format_watchlist(entries: Sequence[WatchEntry], limit: int = MAX_MESSAGE) -> str:
    """The watched SSIDs with their reasons, cut to fit `limit`; a hint when there are none."""
    if not entries:
        return (
            "The watch list is empty. Watch an SSID with "
            '<code>/watch "Free WiFi" phishing bait</code>.'
        )
    head = f"👁 <b>Watch list</b> ({len(entries)} SSID{'' if len(entries) == 1 else 's'}):"
    lines = [
        f"• <code>{escape(entry.ssid)}</code>"
        + (f" — {escape(entry.reason)}" if entry.reason else "")
        for entry in entries
    ]
    return fit(head, lines, [], limit)


def format_alert(alert: Alert, tz: ZoneInfo) -> str:
    """One alert as one message: which SSID, which device (its name if known), why, when, signal.

    Every field is clipped: an alert from a foreign producer could carry any amount of text.
    """
    mac = f"<code>{escape(alert.mac)}</code>"
    if alert.name:
        device = f"<b>{_clip(alert.name)}</b> ({mac})"
    else:
        device = f"{mac} ({_clip(alert.vendor or 'unknown vendor')})"
    signal = "not measured" if alert.rssi_dbm is None else f"{alert.rssi_dbm} dBm"
    lines = [
        f"🚨 <b>Watched SSID probed:</b> <code>{_clip(alert.ssid)}</code>",
        f"Device: {device}",
        *([f"Reason: {_clip(alert.reason)}"] if alert.reason else []),
        f"Time: {format_time(alert.ts, tz)}",
        f"Signal: {signal}",
        *([f"Sensor: {_clip(alert.sensor)}"] if alert.sensor else []),
    ]
    return "\n".join(lines)


def _clip(text: str) -> str:
    """`text` escaped, at most MAX_FIELD characters of it."""
    return escape(text if len(text) <= MAX_FIELD else text[: MAX_FIELD - 1] + "…")


def no_device_named(name: str) -> str:
    """Text that is neither a MAC nor a known name: say so, and how to ask."""
    return (
        f"No device is named <b>{escape(name[:80])}</b>, and that is not a MAC address either. "
        "Send a MAC address (<code>aa:bb:cc:dd:ee:ff</code>) or a name given with /name."
    )


def mention_usage(username: str) -> str:
    """A mention of the bot with no question: how to ask in a group."""
    return (
        "Ask me about a device: mention me with a MAC address or a device's name, e.g. "
        f"<code>@{escape(username)} aa:bb:cc:dd:ee:ff</code>, or use /device."
    )


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


def request_failed(reason: str) -> str:
    """An edit or list the API could not serve: say so clearly rather than stay silent."""
    return (
        f"⚠️ That did not work: {escape(reason)}. Nothing is wrong with your request; "
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
    "/device <code>&lt;mac&gt;</code>, or send a name you gave a device. I answer with its "
    "probe count, first and last probe, the SSIDs it asked for, its vendor, signal and whether "
    "the address is randomized.\n\n"
    "/name <code>&lt;mac&gt; &lt;name&gt;</code> names a device; "
    "/unname <code>&lt;mac&gt;</code> forgets its name.\n"
    "/watch <code>&lt;ssid&gt; [reason]</code> watches an SSID (quote one with spaces: "
    '<code>/watch "Free WiFi" phishing bait</code>); /unwatch <code>&lt;ssid&gt;</code> '
    "stops; /watchlist shows them.\n"
    "/subscribe: this chat gets a message whenever a device probes for a watched SSID; "
    "/unsubscribe stops them.\n"
    "/stats lists the reports over the history; "
    "/stats <code>&lt;report&gt; [since] [until]</code> shows one, e.g. "
    "<code>/stats messages-per-day 7d</code> (chats allowed to see reports only).\n\n"
    "In a group I answer only commands, messages that mention me and replies to me; "
    "everything else is recorded silently.\n\n"
    "/help shows this text again."
)
