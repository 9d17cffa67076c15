"""What the notifier reads: Alerts from the `alerts` topic and the chats subscribed to them.

The fold agent writes the Alerts (`app.logic.alerts.make_alert`), but any producer may write to
the topic, so a value of the wrong shape is refused with a short reason to count, instead of
making the notifier fail on a missing field halfway through a message. Kept free of aiogram, so
the agent can decode without importing it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from app.logic.limits import RSSI_DBM, OutOfRange, check_ssid, check_ts
from app.logic.mac import InvalidMac, normalize_mac

logger = logging.getLogger(__name__)


class InvalidAlert(ValueError):
    """Not an Alert; `reason` is the short name it is counted under."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Alert:
    """What a notification needs of an Alert (README, "SSID watch list and alerts")."""

    ts: float
    mac: str
    ssid: str
    reason: str
    name: str | None
    vendor: str | None
    rssi_dbm: int | None
    sensor: str | None


@dataclass(frozen=True)
class Subscriber:
    """A chat that asked for alerts, and the bot it asked (None: the first configured bot)."""

    chat_id: int
    bot_id: int | None


def decode_alert(raw: bytes | None) -> Alert:
    """The Alert in a record's value, or InvalidAlert saying what is wrong with it."""
    try:
        data = orjson.loads(raw or b"")
    except orjson.JSONDecodeError:
        raise InvalidAlert("not_json", "the value is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidAlert("not_an_object", "the value is not a JSON object")
    try:
        ts = check_ts(data.get("ts"))
    except OutOfRange as bad:
        raise InvalidAlert("bad_ts", str(bad)) from None
    mac_text: Any = data.get("mac")
    try:
        mac = normalize_mac(mac_text)
    except InvalidMac:
        raise InvalidAlert("bad_mac", "mac is not a MAC address") from None
    try:
        ssid = check_ssid(data.get("ssid"))
    except OutOfRange as bad:
        raise InvalidAlert("bad_ssid", str(bad)) from None
    rssi: Any = data.get("rssi_dbm")
    if rssi is not None and (
        not _is_number(rssi) or not math.isfinite(rssi) or not RSSI_DBM[0] <= rssi <= RSSI_DBM[1]
    ):
        raise InvalidAlert("bad_field", f"rssi_dbm must be between {RSSI_DBM[0]} and {RSSI_DBM[1]}")
    return Alert(
        ts=ts,
        mac=mac,
        ssid=ssid,
        reason=_text(data, "reason") or "",
        name=_text(data, "name"),
        vendor=_text(data, "vendor"),
        rssi_dbm=None if rssi is None else round(rssi),
        sensor=_text(data, "sensor"),
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(data: dict[str, Any], field: str) -> str | None:
    """An optional text field; anything but text or null is refused."""
    value = data.get(field)
    if value is None or isinstance(value, str):
        return value or None
    raise InvalidAlert("bad_field", f"{field} must be text or null")


def subscribers_from(items: Iterable[tuple[str, Mapping[str, Any]]]) -> list[Subscriber]:
    """The `subscriptions` mirror's entries as subscribers; a key that is no chat id is skipped."""
    found = []
    for key, value in items:
        try:
            chat_id = int(key)
        except ValueError:
            logger.debug("skipped subscription key %r: not a chat id", key[:30])
            continue
        bot_id = value.get("bot")
        found.append(Subscriber(chat_id, bot_id if isinstance(bot_id, int) else None))
    return found
