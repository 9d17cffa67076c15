"""What `GET /devices` asks for: its parameters parsed (`parse_query`), and the opaque cursor
bound to the order and filters it was made for."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal, TypeVar, get_args

from app.logic.limits import RSSI_DBM, OutOfRange, check_ssid, check_text, check_ts
from app.logic.names import MAX_NAME, name_key

SortField = Literal["last_seen", "probe_count", "first_seen", "rssi"]
SORT_FIELDS: tuple[SortField, ...] = get_args(SortField)
#: Each sort's direction when `order` is not given: newest, busiest and strongest first.
DEFAULT_DESCENDING: dict[SortField, bool] = {
    "last_seen": True,
    "probe_count": True,
    "first_seen": True,
    "rssi": True,
}
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
#: The parameters `parse_query` reads.
PARAMETERS = frozenset(
    {
        "sort",
        "order",
        "since",
        "until",
        "randomized",
        "vendor",
        "ssid",
        "name",
        "sensor",
        "min_rssi",
        "limit",
        "cursor",
    }
)
#: Parameters the web layer reads itself (`scope=local` marks a worker's leg of a gathered list).
PASSED_THROUGH = frozenset({"scope"})
MAX_VENDOR = 100
MAX_SENSOR = 128
MAX_VALUE = 1000


class ListingError(ValueError):
    """A parameter of `GET /devices` that cannot be used: which one, and why (a 400)."""

    def __init__(self, param: str, reason: str) -> None:
        super().__init__(f"{param}: {reason}")
        self.param = param
        self.reason = reason

    def as_json(self) -> dict[str, str]:
        """The body of the 400 answer."""
        return {"error": str(self), "param": self.param, "reason": self.reason}


# --- the query ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceQuery:
    """What `GET /devices` asks for. `after` is the position the cursor points at (exclusive).

    Text filters are kept as the user wrote them (`name` is echoed back, as `?name=` always
    was); the index compares their folded forms.
    """

    sort: SortField = "last_seen"
    descending: bool = True
    since: float | None = None
    until: float | None = None
    randomized: bool | None = None
    vendor: str | None = None
    ssid: str | None = None
    name: str | None = None
    sensor: str | None = None
    min_rssi: int | None = None
    limit: int = DEFAULT_LIMIT
    after: int | None = None

    def fingerprint(self) -> str:
        """What a cursor is bound to: the order and the filters (not the limit)."""
        shape = (
            self.sort,
            self.descending,
            self.since,
            self.until,
            self.randomized,
            None if self.vendor is None else fold_text(self.vendor),
            self.ssid,
            None if self.name is None else name_key(self.name),
            self.sensor,
            self.min_rssi,
        )
        digest = hashlib.blake2b(repr(shape).encode(), digest_size=6).digest()
        return base64.urlsafe_b64encode(digest).decode()

    @property
    def seen_only(self) -> bool:
        """Whether only seen devices can match: a name search also finds devices named before
        any sensor saw them (README: `?name=` finds such a name at once); no other filter does.
        """
        return self.name is None or any(
            value is not None
            for value in (self.since, self.until, self.ssid, self.sensor, self.min_rssi)
        )


def parse_query(params: Mapping[str, str]) -> DeviceQuery:
    """The query string of `GET /devices` as a DeviceQuery; ListingError names a bad parameter.

    Every filter is optional; each given one must be valid and not empty. Times are ISO-8601
    (`2026-11-21T16:09:03Z`; without a zone it is UTC) or epoch seconds.
    """
    given: set[str] = set()
    for param, value in params.items():  # a multidict (aiohttp's query) repeats its keys
        if param not in PARAMETERS and param not in PASSED_THROUGH:
            known = ", ".join(sorted(PARAMETERS))
            raise ListingError(param, f"is not a parameter of /devices (known: {known})")
        if param in given:
            raise ListingError(param, "is given more than once")
        given.add(param)
        if param in PARAMETERS and len(value) > MAX_VALUE:
            raise ListingError(param, f"is longer than {MAX_VALUE} characters")
    sort = _parse_sort(params.get("sort"))
    since = _optional(params, "since", _parse_time)
    until = _optional(params, "until", _parse_time)
    if since is not None and until is not None and until < since:
        raise ListingError("until", "is before since")
    query = DeviceQuery(
        sort=sort,
        descending=_parse_order(params.get("order"), sort),
        since=since,
        until=until,
        randomized=_optional(params, "randomized", _parse_bool),
        vendor=_optional(params, "vendor", _parse_vendor),
        ssid=_optional(params, "ssid", _parse_ssid),
        name=_optional(params, "name", _parse_name),
        sensor=_optional(params, "sensor", _parse_sensor),
        min_rssi=_optional(params, "min_rssi", _parse_rssi),
        limit=_parse_limit(params.get("limit")),
    )
    cursor = params.get("cursor")
    if cursor is None:
        return query
    return replace(query, after=decode_cursor(cursor, query))


_T = TypeVar("_T")


def _optional(params: Mapping[str, str], param: str, parse: Callable[[str], _T]) -> _T | None:
    """A filter's value parsed, None when it is not given; ListingError when it is bad."""
    value = params.get(param)
    if value is None:
        return None
    if not value.strip():
        raise ListingError(param, "must not be empty (leave it out to not filter)")
    try:
        return parse(value)
    except ValueError as bad:  # OutOfRange too; its message starts with the field's name
        reason = str(bad).removeprefix(f"{param} ")
        raise ListingError(param, reason) from None


def _parse_sort(value: str | None) -> SortField:
    if value is None:
        return "last_seen"
    for sort in SORT_FIELDS:
        if value == sort:
            return sort
    raise ListingError("sort", f"must be one of {', '.join(SORT_FIELDS)}")


def _parse_order(value: str | None, sort: SortField) -> bool:
    if value is None:
        return DEFAULT_DESCENDING[sort]
    if value in ("asc", "desc"):
        return value == "desc"
    raise ListingError("order", "must be asc or desc")


_EPOCH = re.compile(r"\d{1,10}(\.\d{1,9})?")
_SPACED_OFFSET = re.compile(r"(.*\d) (\d\d:?\d\d)")


def _parse_time(value: str) -> float:
    if _EPOCH.fullmatch(value):
        return _within_years(float(value))
    # A `+` of an offset that was not %-escaped arrives as a space.
    text = _SPACED_OFFSET.sub(r"\1+\2", value.strip())
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            "must be ISO-8601 (2026-11-21T16:09:03Z) or epoch seconds (1795277343)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _within_years(moment.timestamp())


def _within_years(ts: float) -> float:
    try:
        return check_ts(ts)
    except OutOfRange:
        raise ValueError("must be between 1970 and 2100") from None


def _parse_bool(value: str) -> bool:
    folded = value.strip().lower()
    if folded in ("true", "1"):
        return True
    if folded in ("false", "0"):
        return False
    raise ValueError("must be true or false")


def _parse_vendor(value: str) -> str:
    cleaned = " ".join(value.split())
    if len(cleaned) > MAX_VENDOR:
        raise ValueError(f"has at most {MAX_VENDOR} characters")
    return check_text(cleaned, "vendor", MAX_VENDOR)


def _parse_ssid(value: str) -> str:
    return check_ssid(value, "ssid")


def _parse_name(value: str) -> str:
    if len(name_key(value)) > MAX_NAME:
        raise ValueError(f"a name has at most {MAX_NAME} characters")
    return value


def _parse_sensor(value: str) -> str:
    return check_text(value, "sensor", MAX_SENSOR)


def _parse_rssi(value: str) -> int:
    low, high = RSSI_DBM
    if not re.fullmatch(r"[+-]?\d{1,4}", value.strip()):
        raise ValueError(f"must be a whole number of dBm from {low} to {high}")
    dbm = int(value)
    if not low <= dbm <= high:
        raise ValueError(f"must be from {low} to {high} dBm")
    return dbm


def _parse_limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not re.fullmatch(r"\d{1,4}", value.strip()) or not 1 <= int(value) <= MAX_LIMIT:
        raise ListingError("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    return int(value)


def fold_text(text: str) -> str:
    """How vendors are compared: case-insensitively, whitespace folded."""
    return " ".join(text.split()).casefold()


_MAX_CURSOR = 120


def encode_cursor(query: DeviceQuery, position: int) -> str:
    """An opaque, URL-safe cursor: the position of a page's last device and the query's
    fingerprint, so that it cannot be used with another order or other filters."""
    raw = f"{query.fingerprint()}:{position:x}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, query: DeviceQuery) -> int:
    """The position a cursor points at; ListingError when it is not one, or not this query's."""
    text = cursor.strip()
    try:
        if not text or len(text) > _MAX_CURSOR:
            raise ValueError
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
        fingerprint, _, position = raw.rpartition(":")
        value = int(position, 16)
    except (ValueError, binascii.Error):
        raise ListingError("cursor", "is not a cursor of this listing") from None
    if fingerprint != query.fingerprint():
        raise ListingError(
            "cursor", "was made for another sort order or other filters; start without it"
        )
    return value
