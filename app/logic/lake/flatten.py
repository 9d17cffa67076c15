"""Raw records into the enriched zone's rows: probes as the fold counts them, messages flat.

**Probes.** A record's probes are decoded by the fold's own decoder, so what the fold
dead-letters is left out here too. A probe is kept in the partition whose device rows it goes to
(the fold's rule): a single probe when its record is keyed by its MAC, a packed one when its MAC
hashes to the record's partition; the others are forwarded by the fold, and kept where they
land. Each row names its *origin*: the record it was produced in (`probes:3:1200`), or for a
forwarded record the record it was forwarded from and its MAC (`pcap:0:77/aa:bb:…`), plus its
index there. A record forwarded twice (a crash, then the forward again) gives the same origins,
so the lake's views keep one row per (origin, idx).

**Group joins.** Each MAC that took its probable device, from the member updates of
`group-members` that say how it joined (the others carry totals the probes already hold):
its group, whether the group began in doubt, the link that put it there. A join sent twice (a
crash, then the flush again) is the same join; the lake's views keep one per MAC and group.

**Messages.** Every message-like payload of an update (`message`, `edited_message`,
`channel_post`, `edited_channel_post`) is a row, its kind said; identified by (bot_id,
update_id).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from app.logic.erasure import looks_like_erasure, looks_like_user_erasure
from app.logic.forwarding import InvalidForward, forwarded_from
from app.logic.grouping.wire import InvalidGroupRecord, decode_members
from app.logic.lake.layout import day_of
from app.logic.lake.raw import RawRecord
from app.logic.probe import InvalidProbe, decode_record
from app.logic.vendor import vendor_for

#: An erasure among member updates (most carry `"erase": false`): worth decoding the record.
_ERASE = re.compile(rb'"erase"\s*:\s*true')
#: The header a record of `telegram-updates` names its bot in (app.bot.updates.BOT_HEADER).
BOT_HEADER = "bot"
MESSAGE_KINDS = ("message", "edited_message", "channel_post", "edited_channel_post")
#: What a message is, when it has no text: the first of these it carries.
CONTENT_KINDS = (
    "text",
    "sticker",
    "photo",
    "video",
    "animation",
    "voice",
    "video_note",
    "audio",
    "document",
    "location",
    "contact",
    "poll",
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "pinned_message",
)


def probe_rows(
    record: RawRecord,
    topic: str,
    partition: int,
    home_of: Callable[[str], int],
    name_of: Callable[[str], str | None],
) -> list[dict[str, Any]] | None:
    """The probes of one `probes` record kept in its partition; None for a record the fold
    rejects whole (not decodable, or a bad source header); none for an erasure (kept raw until
    the archiver applies it)."""
    if looks_like_erasure(record.value):
        return []
    try:
        decoded = decode_record(record.value)
        source = forwarded_from(dict(record.headers))
    except (InvalidProbe, InvalidForward):
        return None
    if decoded.batch:
        kept = [
            (index, probe) for index, probe in decoded.probes if home_of(probe.mac) == partition
        ]
    else:
        key = record.key.decode("utf-8", "replace") if record.key is not None else None
        kept = [(index, probe) for index, probe in decoded.probes if probe.mac == key]
    here = f"{topic}:{partition}:{record.offset}"
    rows = []
    for index, probe in kept:
        origin = (
            here
            if source is None
            else f"{source.stream}:{source.partition}:{source.offset}/{probe.mac}"
        )
        rows.append(
            {
                "ts": probe.ts,
                "mac": probe.mac,
                "ssid": probe.ssid,
                "ssid_hex": probe.ssid_hex,
                "rssi_dbm": probe.rssi_dbm,
                "freq_mhz": probe.freq_mhz,
                "seq": probe.seq,
                "randomized": probe.randomized,
                "sensor": probe.sensor,
                "ie_fingerprint": probe.ie_fingerprint,
                "vendor": vendor_for(probe.mac),
                "name": name_of(probe.mac),
                "origin": origin,
                "idx": index,
                "day": day_of(probe.ts),
            }
        )
    return rows


def join_rows(record: RawRecord, topic: str, partition: int) -> list[dict[str, Any]] | None:
    """The joins one `group-members` record tells of; None for a record the groups' fold
    rejects (`app.logic.grouping.wire`)."""
    try:
        updates = decode_members(record.value)
    except InvalidGroupRecord:
        return None
    here = f"{topic}:{partition}:{record.offset}"
    rows = []
    for index, update in enumerate(updates):
        join = update.join
        if join is None or update.erase:
            continue
        link = join.link
        rows.append(
            {
                "decided_ts": join.decided_ts,
                "mac": update.mac,
                "group_id": update.group,
                "in_doubt": bool(join.doubt),
                "link_kind": None if link is None else link.kind,
                "link_strength": None if link is None else link.strength,
                "randomized": update.randomized,
                "fingerprint": update.fingerprint,
                "origin": here,
                "idx": index,
                "day": day_of(join.decided_ts),
            }
        )
    return rows


def erased_members(record: RawRecord) -> frozenset[str]:
    """The MACs a `group-members` record says were erased on request (not by retention)."""
    if record.value is None or _ERASE.search(record.value) is None:
        return frozenset()
    try:
        updates = decode_members(record.value)
    except InvalidGroupRecord:
        return frozenset()
    return frozenset(u.mac for u in updates if u.erase and not u.expired)


def message_rows(record: RawRecord) -> list[dict[str, Any]] | None:
    """The messages of one `telegram-updates` record; None for a value that is no update; none
    for a user's erasure (kept raw until the archiver applies it)."""
    if looks_like_user_erasure(record.value):
        return []
    try:
        update = orjson.loads(record.value) if record.value is not None else None
    except orjson.JSONDecodeError:
        return None
    if not isinstance(update, dict) or not _is_int(update.get("update_id")):
        return None
    bot_id = _int_or_none(dict(record.headers).get(BOT_HEADER))
    rows = []
    for kind in MESSAGE_KINDS:
        message = update.get(kind)
        if not isinstance(message, Mapping) or not _is_int(message.get("date")):
            continue
        sender = _mapping(message.get("from"))
        chat = _mapping(message.get("chat"))
        text = message.get("text") if isinstance(message.get("text"), str) else None
        if text is None and isinstance(message.get("caption"), str):
            text = message["caption"]
        rows.append(
            {
                "bot_id": bot_id,
                "update_id": update["update_id"],
                "kind": kind,
                "message_id": _int(message.get("message_id")),
                "user_id": _int(sender.get("id")),
                "user_is_bot": sender.get("is_bot")
                if isinstance(sender.get("is_bot"), bool)
                else None,
                "user_first_name": _text(sender.get("first_name")),
                "user_username": _text(sender.get("username")),
                "chat_id": _int(chat.get("id")),
                "chat_type": _text(chat.get("type")),
                "chat_title": _text(chat.get("title")),
                "content": next((k for k in CONTENT_KINDS if k in message), "other"),
                "text": text,
                "text_length": len(text) if text is not None else 0,
                "is_command": bool(text and text.startswith("/")),
                "date": float(message["date"]),
                "edit_date": _int(message.get("edit_date")),
                "day": day_of(float(message["date"])),
            }
        )
    return rows


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _int_or_none(raw: bytes | None) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
