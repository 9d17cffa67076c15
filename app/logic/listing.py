"""Listing devices (`GET /devices`): the query, each worker's index of the devices it holds, and
the merge of the workers' pages into one.

Every worker answers for its own partitions with the first `limit` devices after the cursor and
how many devices match there; the asking worker merges those pages (`merge_pages`). A position
in a listing is the pair (sort value, MAC), packed into one integer, so every worker, the merge
and the cursor order devices alike. The index keeps no table row: only what sorting, filtering and
a list's item need, in compact columns (under 300 bytes a device, all four orders included).

The cursor's guarantee: a page holds the matching devices strictly after the previous page's last
position, in the order of the values they have when it is asked. So a device whose sort value does
not change while a user pages through a listing is on exactly one page (every device is, when
nothing changes), and no other device's moves can make it skipped or repeated. A device whose
value changes is on at most one page per position it holds meanwhile, possibly on none: a move
ahead of the cursor lists it again, a move behind the cursor before it was reached skips it (the
listing's next first page shows it). Newest first by `last_seen` (the default), a device that
probes again moves before every cursor already given (its new probe is newer than the devices
listed), so it is never repeated; a device added meanwhile is listed only if it falls after the
cursor. Positions are compared to the microsecond and then by MAC, so they are total: two devices
never share one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import re
import struct
import sys
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import chain, islice
from typing import Any, Literal, NotRequired, TypedDict, TypeVar, cast, get_args

from app.logic.limits import RSSI_DBM, OutOfRange, check_ssid, check_text, check_ts
from app.logic.mac import InvalidMac, is_canonical_mac, is_randomized, normalize_mac
from app.logic.names import MAX_NAME, name_key
from app.logic.stats import iso_utc
from app.logic.vendor import vendor_for
from app.models import DeviceState

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

#: A MAC is 48 bits: a position is `value * MAC_SPAN + mac`, ordered as (value, mac).
MAC_SPAN = 1 << 48
#: The value of a device that lacks one (no signal measured; named but never seen): below all.
MISSING = -(1 << 62) - 1
#: Values are clamped into ±VALUE_LIMIT, so that MISSING stays below every one of them.
VALUE_LIMIT = 1 << 62


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
            None if self.vendor is None else _fold_text(self.vendor),
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


def _fold_text(text: str) -> str:
    """How vendors are compared: case-insensitively, whitespace folded."""
    return " ".join(text.split()).casefold()


# --- positions and cursors ------------------------------------------------------------------


def _ts_value(ts: float) -> int:
    """A capture time as a sort value: whole microseconds (NaN counts as missing)."""
    try:
        value = round(ts * 1_000_000)
    except ValueError:
        return MISSING
    except OverflowError:
        return VALUE_LIMIT if ts > 0 else -VALUE_LIMIT
    return value if -VALUE_LIMIT <= value <= VALUE_LIMIT else _clamped(value)


def _clamped(value: int) -> int:
    return max(-VALUE_LIMIT, min(VALUE_LIMIT, value))


def _mac_int(mac: str) -> int:
    return int(mac.replace(":", ""), 16)


def _mac_text(mac: int) -> str:
    digits = f"{mac:012x}"
    return ":".join((digits[0:2], digits[2:4], digits[4:6], digits[6:8], digits[8:10], digits[10:]))


def item_position(item: ListItem, sort: SortField) -> int:
    """Where an item stands in a listing sorted by `sort`: (value, MAC) as one integer."""
    mac = _mac_int(item["mac"])
    if "last_seen_ts" not in item:
        return MISSING * MAC_SPAN + mac
    if sort == "last_seen":
        value = _ts_value(item["last_seen_ts"])
    elif sort == "first_seen":
        value = _ts_value(item["first_seen_ts"])
    elif sort == "probe_count":
        value = _clamped(item["probe_count"])
    else:
        rssi = item["rssi_last_dbm"]
        value = MISSING if rssi is None else rssi
    return value * MAC_SPAN + mac


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


# --- pages ----------------------------------------------------------------------------------


class ListItem(TypedDict):
    """A device in a list: the fields of DeviceStats a list shows, and its name.

    A device named before any sensor saw it has only `mac`, `name` and `probe_count` (0), as
    `GET /devices?name=` always answered for it.
    """

    mac: str
    name: str | None
    probe_count: int
    vendor: NotRequired[str | None]
    randomized: NotRequired[bool]
    first_seen: NotRequired[str | None]
    last_seen: NotRequired[str | None]
    first_seen_ts: NotRequired[float]
    last_seen_ts: NotRequired[float]
    rssi_last_dbm: NotRequired[int | None]
    unique_ssids: NotRequired[int]
    ssids: NotRequired[list[str]]
    sensors: NotRequired[list[str]]


@dataclass(frozen=True, slots=True)
class Page:
    """A page of a listing: its devices in order, how many devices match (on this worker, or on
    all of them once merged) and the cursor of the next page (None on the last one)."""

    items: tuple[ListItem, ...]
    count: int
    next_cursor: str | None

    def as_json(self, query: DeviceQuery | None = None) -> dict[str, Any]:
        """The answer's body; with a `name` filter it also says the name, as `?name=` did."""
        body: dict[str, Any] = {}
        if query is not None and query.name is not None:
            body["name"] = query.name
        body.update(devices=list(self.items), count=self.count, next_cursor=self.next_cursor)
        return body

    @classmethod
    def from_json(cls, body: Any) -> Page:
        """A worker's page as it arrives over HTTP; ValueError when it is not one."""
        if not isinstance(body, dict):
            raise ValueError("a page must be a JSON object")
        items, count, cursor = body.get("devices"), body.get("count"), body.get("next_cursor")
        if not isinstance(items, list) or not all(
            isinstance(item, dict) and isinstance(item.get("mac"), str) for item in items
        ):
            raise ValueError("a page's devices must be objects with a mac")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError("a page's count must be a whole number")
        if cursor is not None and not isinstance(cursor, str):
            raise ValueError("a page's next_cursor must be text or null")
        return cls(tuple(cast(list[ListItem], items)), count, cursor)


def merge_pages(pages: Iterable[Page], query: DeviceQuery) -> Page:
    """The listing's page from every worker's page for the same query: the first `limit`
    devices in order, the summed count, and the next cursor.

    Each worker gave its first `limit` after the cursor, so the global first `limit` are among
    them. A MAC given twice (a standby's copy during a rebalance) is listed once, at its first
    position; its count may then be one too many until the rebalance ends.
    """
    pages = list(pages)
    positioned = sorted(
        ((item_position(item, query.sort), item) for page in pages for item in page.items),
        key=lambda pair: pair[0],
        reverse=query.descending,
    )
    listed: set[str] = set()
    merged: list[tuple[int, ListItem]] = []
    for position, item in positioned:
        if item["mac"] not in listed:
            listed.add(item["mac"])
            merged.append((position, item))
    more = len(merged) > query.limit or any(page.next_cursor is not None for page in pages)
    kept = merged[: query.limit]
    cursor = encode_cursor(query, kept[-1][0]) if more and kept else None
    return Page(tuple(item for _, item in kept), sum(page.count for page in pages), cursor)


# --- the index ------------------------------------------------------------------------------

#: A leaf of an order is split above this many devices, and merged into its right neighbour
#: below MIN_LEAF. A query sorts the leaves it reads, so this bounds a first page's work.
MAX_LEAF = 512
MIN_LEAF = MAX_LEAF // 8
#: How many devices an order other than last_seen lets wait before it moves them. It bounds
#: the work of that order's first query after a busy while (~2-4 µs a device: ~0.1 s at most).
BACKLOG = 32_768
_BELOW_ALL = MISSING * MAC_SPAN - 1
#: Capture times are clamped into this range when indexed (rows are checked when folded; a row
#: written before that was must still be listable).
_TS_LOW, _TS_HIGH = 0.0, 4_200_000_000.0


class _Order:
    """Devices (by slot) in the order of their positions, for one sort field.

    A B-tree of depth one: each leaf is an unsorted run of slots packed 4 bytes each (a
    bytearray: removing one is a C-speed search of at most 2 KiB, never a walk over Python
    objects), the leaves are in order and `_bounds[i]` is the lowest position leaf i may hold.
    Moving a device is a cut from one short run and an append to another, far cheaper than
    keeping one list sorted; a position above every other (a device that just probed, sorted
    by last_seen) is a plain append. A query sorts only the leaves it reads, computing
    positions from the index's columns.

    An order with a `backlog` defers moves until it is read (`settle`), or until that many
    devices wait: a device that changes at every flush then moves once per read, not once per
    flush. The orders a listing rarely reads are kept so; the default one is kept up to date.
    """

    __slots__ = ("_bounds", "_leaves", "_pending", "_top", "backlog", "position")

    def __init__(self, position: Callable[[int], int], backlog: int = 0) -> None:
        self.position = position
        self._bounds: list[int] = [_BELOW_ALL]
        self._leaves: list[bytearray] = [bytearray()]
        self._top = _BELOW_ALL  # at least the highest position ever added
        self.backlog = backlog
        #: Slots whose moves wait: where each is filed now (None: not yet filed).
        self._pending: dict[int, int | None] = {}

    def insert(self, slot: int, position: int) -> None:
        """File a new slot."""
        if self.backlog:
            self._defer(slot, None)
        else:
            self.add(slot, position)

    def move(self, slot: int, old: int, new: int) -> None:
        """Reposition a slot: nothing to do when both positions fall in the same leaf."""
        if self.backlog:
            self._defer(slot, old)
            return
        if new <= self._top:
            bounds = self._bounds
            if bisect_right(bounds, old) == bisect_right(bounds, new):
                return
        self.discard(slot, old)
        self.add(slot, new)

    def remove(self, slot: int, position: int) -> None:
        """Unfile a slot for good (its column values still what they were)."""
        self.settle()
        self.discard(slot, position)

    def _defer(self, slot: int, filed: int | None) -> None:
        pending = self._pending
        if slot not in pending:
            pending[slot] = filed
            if len(pending) > self.backlog:
                self.settle()

    def settle(self) -> None:
        """Apply the deferred moves: every slot filed where its columns place it."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        filed = sum(map(len, self._leaves)) // _SLOT.size
        if 4 * len(pending) > filed:  # most of the order moves: sort it anew, at C speed
            slots = set(_unpacked(b"".join(self._leaves)))
            slots.update(pending)
            self._rebuild(sorted(slots, key=self.position))
            return
        # All out first, without merging: a merge may split, and a split places the slots
        # of a leaf by their columns, which for a waiting slot is not where it is filed.
        for slot, where in pending.items():
            if where is not None:
                self.discard(slot, where, merge=False)
        position = self.position
        for slot in pending:
            self.add(slot, position(slot))
        at = 0
        while at + 1 < len(self._leaves):
            if len(self._leaves[at]) < _MIN_LEAF_BYTES:
                self._merge(at)
            else:
                at += 1

    def add(self, slot: int, position: int) -> None:
        packed = _SLOT.pack(slot)
        if position > self._top:
            self._top = position
            last = self._leaves[-1]
            if len(last) < _LEAF_BYTES:
                last += packed
            else:
                self._leaves.append(bytearray(packed))
                self._bounds.append(position)
            return
        at = bisect_right(self._bounds, position) - 1
        leaf = self._leaves[at]
        leaf += packed
        if len(leaf) > _LEAF_BYTES:
            self._split(at)

    def discard(self, slot: int, position: int, merge: bool = True) -> None:
        at = bisect_right(self._bounds, position) - 1
        leaf = self._leaves[at]
        packed = _SLOT.pack(slot)
        found = leaf.find(packed)
        while found > 0 and found % _SLOT.size:  # bytes straddling two slots: look further
            found = leaf.find(packed, found + 1)
        if found < 0:
            raise KeyError(slot)
        del leaf[found : found + _SLOT.size]
        if merge and len(leaf) < _MIN_LEAF_BYTES and at + 1 < len(self._leaves):
            self._merge(at)

    def _rebuild(self, ordered: list[int]) -> None:
        """Leaves three quarters full, from every slot in order."""
        size = max(1, _LEAF_BYTES // _SLOT.size * 3 // 4)
        starts = range(0, len(ordered), size)
        self._leaves = [_packed(ordered[at : at + size]) for at in starts] or [bytearray()]
        self._bounds = [_BELOW_ALL, *(self.position(ordered[at]) for at in starts[1:])]
        if ordered:
            self._top = max(self._top, self.position(ordered[-1]))

    def _split(self, at: int) -> None:
        position = self.position
        ordered = sorted(_unpacked(self._leaves[at]), key=position)
        half = len(ordered) // 2
        self._leaves[at] = _packed(ordered[:half])
        self._leaves.insert(at + 1, _packed(ordered[half:]))
        self._bounds.insert(at + 1, position(ordered[half]))

    def _merge(self, at: int) -> None:
        """Fold a small leaf into its right neighbour (the last leaf, where devices arrive,
        is left to grow)."""
        self._leaves[at] += self._leaves[at + 1]
        del self._leaves[at + 1]
        del self._bounds[at + 1]
        if len(self._leaves[at]) > _LEAF_BYTES:
            self._split(at)

    def _leaf_of(self, position: int) -> int:
        return bisect_right(self._bounds, position) - 1

    def count_within(self, low: int | None, high: int | None) -> int:
        """How many positions lie within [low, high] (None: unbounded)."""
        first = 0 if low is None else self._leaf_of(low)
        last = len(self._leaves) - 1 if high is None else self._leaf_of(high)
        if first == last:
            return len(self._within(first, low, high))
        inner = sum(map(len, self._leaves[first + 1 : last])) // _SLOT.size
        return len(self._within(first, low, None)) + inner + len(self._within(last, None, high))

    def slots_within(self, low: int | None, high: int | None) -> list[int]:
        """The slots whose positions lie within [low, high], in no particular order."""
        first = 0 if low is None else self._leaf_of(low)
        last = len(self._leaves) - 1 if high is None else self._leaf_of(high)
        if first == last:
            return self._within(first, low, high)
        inner = _unpacked(b"".join(self._leaves[first + 1 : last]))
        return [*self._within(first, low, None), *inner, *self._within(last, None, high)]

    def _within(self, at: int, low: int | None, high: int | None) -> list[int]:
        slots = _unpacked(self._leaves[at])
        if low is None and high is None:
            return slots
        position = self.position
        return [slot for slot in slots if _inside(position(slot), low, high)]

    def walk(
        self, descending: bool, after: int | None, low: int | None, high: int | None
    ) -> Iterator[tuple[int, int]]:
        """(position, slot) in order, strictly after `after`, within [low, high]."""
        if after is not None:
            if descending:
                high = after - 1 if high is None else min(high, after - 1)
            else:
                low = after + 1 if low is None else max(low, after + 1)
        first = 0 if low is None else self._leaf_of(low)
        last = len(self._leaves) - 1 if high is None else self._leaf_of(high)
        leaves = range(last, first - 1, -1) if descending else range(first, last + 1)
        position = self.position
        for at in leaves:
            slots = _unpacked(self._leaves[at])
            ordered = sorted([(position(slot), slot) for slot in slots], reverse=descending)
            for pair in ordered:
                if _inside(pair[0], low, high):
                    yield pair


_SLOT = struct.Struct("I")  # a slot as `array("I")` and `memoryview.cast("I")` hold it
_LEAF_BYTES = MAX_LEAF * _SLOT.size
_MIN_LEAF_BYTES = MIN_LEAF * _SLOT.size


def _unpacked(leaf: bytes | bytearray) -> list[int]:
    with memoryview(leaf) as view, view.cast("I") as slots:
        return slots.tolist()


def _packed(slots: list[int]) -> bytearray:
    return bytearray(array("I", slots).tobytes())


class _Postings:
    """For each value (an SSID, a vendor, a sensor), the slots of the devices that have it.

    Appended to as devices gain values. A device that loses a value, or leaves, is not looked
    for in the lists (that would scan long arrays): the value is marked stale instead, and the
    next reader checks its slots once and rewrites the list.
    """

    __slots__ = ("_slots", "_stale")

    def __init__(self) -> None:
        self._slots: dict[object, array[int]] = {}
        self._stale: set[object] = set()

    def add(self, value: object, slot: int) -> None:
        held = self._slots.get(value)
        if held is None:
            self._slots[value] = array("I", (slot,))
        else:
            held.append(slot)

    def mark_stale(self, values: Iterable[object]) -> None:
        self._stale.update(values)

    def size(self, values: Iterable[object]) -> int:
        """How many slots the values list: exact unless one of them is stale."""
        return sum(len(self._slots.get(value, ())) for value in values)

    def is_exact(self, values: Iterable[object]) -> bool:
        return self._stale.isdisjoint(values)

    def slots(self, values: Iterable[object], check: Check) -> list[int]:
        """The slots of the devices that have one of `values` (a stale list is checked)."""
        found: list[int] = []
        for value in values:
            held = self._slots.get(value)
            if held is None:
                continue
            if value in self._stale:
                self._stale.discard(value)
                held = array("I", check(list(dict.fromkeys(held))))
                if held:
                    self._slots[value] = held
                else:
                    del self._slots[value]
            found += held.tolist()
        return found


Check = Callable[[list[int]], list[int]]


@dataclass(frozen=True, slots=True)
class _Filter:
    """One condition of a query: for one slot (`keep`), for a list of them (`check`, faster),
    and maybe a way to find its devices without looking at all: `source`, with `size` saying
    how many that gives (`exact`: whether that is also how many pass)."""

    keep: Callable[[int], bool]
    check: Check
    size: Callable[[], int] | None = None
    exact: Callable[[], bool] | None = None
    source: Callable[[], list[int]] | None = None


class DeviceIndex:
    """The devices one worker holds, for listing: in four orders, filtered, counted.

    Fed by the worker: `upsert` with each changed `devices` row (at every flush), `set_name` with
    each name of `device-names`, `remove` for a device that leaves the worker (its partition
    was revoked). Not thread-safe: use it from the event loop only.

    A device has a slot: one entry in each column (arrays of machine numbers), so it costs a few
    dozen bytes there; a removed device's slot is reused. Every order holds every device.
    """

    def __init__(self) -> None:
        self._slot_of: dict[int, int] = {}
        self._free: list[int] = []
        self._mac = array("Q")
        self._last = array("d")
        self._first = array("d")
        self._count = array("q")
        self._rssi = array("q")  # MISSING when no signal was measured
        self._vendor_id = array("I")
        self._sensors_id = array("I")
        self._randomized = bytearray()
        self._ssids: list[tuple[str, ...]] = []
        self._randomized_count = 0
        self._vendors: list[str | None] = [None]
        self._vendor_ids: dict[str | None, int] = {None: 0}
        self._sensor_sets: list[tuple[str, ...]] = [()]
        self._sensor_set_ids: dict[tuple[str, ...], int] = {(): 0}
        self._by_ssid = _Postings()
        self._by_vendor = _Postings()
        self._by_sensor = _Postings()
        #: MAC → (name, its folded form for searching), for every named device held here.
        self._names: dict[int, tuple[str, str]] = {}
        mac, last, first, count, rssi = self._mac, self._last, self._first, self._count, self._rssi
        self._orders: dict[SortField, _Order] = {
            "last_seen": _Order(lambda slot: _ts_position(last[slot], mac[slot])),
            "first_seen": _Order(lambda slot: _ts_position(first[slot], mac[slot]), BACKLOG),
            "probe_count": _Order(lambda slot: count[slot] * MAC_SPAN + mac[slot], BACKLOG),
            "rssi": _Order(lambda slot: rssi[slot] * MAC_SPAN + mac[slot], BACKLOG),
        }

    # feeding

    def __len__(self) -> int:
        """How many devices with statistics this index holds (named-only ones not counted)."""
        return len(self._slot_of)

    def macs(self) -> Iterator[str]:
        """Every MAC the index holds, with statistics or only a name (to remove a partition's)."""
        return (_mac_text(mac) for mac in self._slot_of.keys() | self._names.keys())

    def upsert_many(self, rows: Iterable[tuple[str, DeviceState]]) -> None:
        """`upsert` for each (MAC, row): the worker's devices at start-up, say. Every order
        waits until the end and is then sorted once, rather than moving device by device."""
        orders = list(self._orders.values())
        backlogs = [order.backlog for order in orders]
        for order in orders:
            order.backlog = sys.maxsize
        try:
            for mac, row in rows:
                self.upsert(mac, row)
        finally:
            for order, backlog in zip(orders, backlogs, strict=True):
                order.backlog = backlog
                order.settle()

    def upsert(self, mac: str, row: DeviceState) -> None:
        """Index a device's current row (new or changed). A key that is no MAC is not indexed.

        On the worker's hot path (every changed row at every flush), hence written out flat.
        """
        key = _mac_key(mac)
        if key is None:
            return
        last, first = row["last_seen_ts"], row["first_seen_ts"]
        if not (_TS_LOW <= last <= _TS_HIGH and _TS_LOW <= first <= _TS_HIGH):
            last, first = _clamped_ts(last), _clamped_ts(first)
        count = row["probe_count"]
        if not -VALUE_LIMIT <= count <= VALUE_LIMIT:
            count = _clamped(count)
        signal = row["rssi_last"]
        rssi = MISSING if signal is None else _clamped(signal)
        sensors = tuple(row["sensors"])
        ssids = row["ssids"]
        slot = self._slot_of.get(key)
        if slot is None:
            self._insert(key, float(last), float(first), count, rssi, sensors, ssids)
            return
        # Each column is written before its order moves the slot: a leaf split while moving
        # places every slot by the columns.
        orders = self._orders
        held: Any = self._last[slot]
        if last != held:
            self._last[slot] = last
            orders["last_seen"].move(slot, _ts_position(held, key), _ts_position(last, key))
        held = self._first[slot]
        if first != held:
            self._first[slot] = first
            orders["first_seen"].move(slot, _ts_position(held, key), _ts_position(first, key))
        held = self._count[slot]
        if count != held:
            self._count[slot] = count
            orders["probe_count"].move(slot, held * MAC_SPAN + key, count * MAC_SPAN + key)
        held = self._rssi[slot]
        if rssi != held:
            self._rssi[slot] = rssi
            orders["rssi"].move(slot, held * MAC_SPAN + key, rssi * MAC_SPAN + key)
        held = self._sensor_sets[self._sensors_id[slot]]
        if sensors != held:
            self._sensors_id[slot] = self._sensor_set_id(sensors)
            for sensor in set(sensors).difference(held):
                self._by_sensor.add(sensor, slot)
            self._by_sensor.mark_stale(set(held).difference(sensors))
        held = self._ssids[slot]
        if len(held) != len(ssids) or held != tuple(ssids):
            self._ssids[slot] = _interned(ssids)
            for ssid in set(ssids).difference(held):
                self._by_ssid.add(ssid, slot)
            self._by_ssid.mark_stale(set(held).difference(ssids))

    def _sensor_set_id(self, sensors: tuple[str, ...]) -> int:
        found = self._sensor_set_ids.get(sensors)
        if found is None:
            found = self._sensor_set_ids[sensors] = len(self._sensor_sets)
            self._sensor_sets.append(sensors)
        return found

    def _insert(
        self,
        key: int,
        last: float,
        first: float,
        count: int,
        rssi: int,
        sensors: tuple[str, ...],
        ssids: list[str],
    ) -> None:
        mac = _mac_text(key)
        vendor = vendor_for(mac)
        vendor_id = self._vendor_ids.get(vendor)
        if vendor_id is None:
            vendor_id = self._vendor_ids[vendor] = len(self._vendors)
            self._vendors.append(vendor)
        randomized = is_randomized(mac)
        sensors_id = self._sensor_set_id(sensors)
        if self._free:
            slot = self._free.pop()
            self._mac[slot], self._last[slot], self._first[slot] = key, last, first
            self._count[slot], self._rssi[slot] = count, rssi
            self._vendor_id[slot], self._sensors_id[slot] = vendor_id, sensors_id
            self._randomized[slot], self._ssids[slot] = randomized, _interned(ssids)
        else:
            slot = len(self._mac)
            self._mac.append(key)
            self._last.append(last)
            self._first.append(first)
            self._count.append(count)
            self._rssi.append(rssi)
            self._vendor_id.append(vendor_id)
            self._sensors_id.append(sensors_id)
            self._randomized.append(randomized)
            self._ssids.append(_interned(ssids))
        self._slot_of[key] = slot
        self._randomized_count += randomized
        for order in self._orders.values():
            order.insert(slot, order.position(slot))
        if vendor is not None:
            self._by_vendor.add(vendor_id, slot)
        for sensor in set(sensors):
            self._by_sensor.add(sensor, slot)
        for ssid in ssids:
            self._by_ssid.add(ssid, slot)

    def remove(self, mac: str) -> None:
        """Forget a device: its statistics and its name (it is no longer held here)."""
        key = _mac_key(mac)
        if key is None:
            return
        self._names.pop(key, None)
        slot = self._slot_of.pop(key, None)
        if slot is None:
            return
        for order in self._orders.values():
            order.remove(slot, order.position(slot))
        self._randomized_count -= self._randomized[slot]
        # The postings that list the slot are now stale; what their checks look at is emptied,
        # so the slot matches nothing until it is reused.
        self._by_vendor.mark_stale((self._vendor_id[slot],))
        self._by_sensor.mark_stale(self._sensor_sets[self._sensors_id[slot]])
        self._by_ssid.mark_stale(self._ssids[slot])
        self._vendor_id[slot] = self._sensors_id[slot] = 0
        self._ssids[slot] = ()
        self._free.append(slot)

    def set_name(self, mac: str, name: str | None) -> None:
        """A device's name as `device-names` holds it (None: it has none). A name may come
        before the device's first probe; a name search lists the device from then on."""
        key = _mac_key(mac)
        if key is None:
            return
        if name is None:
            self._names.pop(key, None)
        else:
            self._names[key] = (name, name_key(name))

    # querying

    def query(self, query: DeviceQuery) -> Page:
        """The first `limit` matching devices after the cursor, in order, and how many match."""
        order = self._orders[query.sort]
        order.settle()
        low, high = self._range(query, query.sort)
        filters = self._filters(query)
        if query.name is not None:
            return self._by_name(query, order, low, high, filters)
        if not filters:
            return self._walked(query, order, low, high, order.count_within(low, high))
        if len(filters) == 1 and (low, high) == (None, None):
            (only,) = filters.values()
            if only.size is not None and only.exact is not None and only.exact():
                count = only.size()
                if count**2 > query.limit * len(self._slot_of):
                    # Many match: walking the order finds the first `limit` among them soonest.
                    return self._walked(query, order, low, high, count, only.keep)
        slots = self._matching(order, low, high, filters)
        if len(slots) ** 2 > query.limit * max(1, order.count_within(low, high)):
            keeps = [flt.keep for flt in filters.values()]
            keep = keeps[0] if len(keeps) == 1 else lambda s: all(k(s) for k in keeps)
            return self._walked(query, order, low, high, len(slots), keep)
        found = _first(query, ((order.position(slot), slot) for slot in slots))
        return self._page(query, found, len(slots))

    def _walked(
        self,
        query: DeviceQuery,
        order: _Order,
        low: int | None,
        high: int | None,
        count: int,
        keep: Callable[[int], bool] | None = None,
    ) -> Page:
        """A page read along the order from the cursor on, of the slots `keep` accepts, with
        a count found otherwise."""
        walk = order.walk(query.descending, query.after, low, high)
        if keep is not None:
            walk = (pair for pair in walk if keep(pair[1]))
        return self._page(query, list(islice(walk, query.limit + 1)), count)

    def _matching(
        self, order: _Order, low: int | None, high: int | None, filters: dict[str, _Filter]
    ) -> list[int]:
        """Every slot that passes the filters: the smallest source's, checked by the others."""
        best_size = order.count_within(low, high)
        best_kind: str | None = None
        for kind, flt in filters.items():
            if flt.source is not None and flt.size is not None:
                size = flt.size()
                if size < best_size:
                    best_size, best_kind = size, kind
        if best_kind is None:
            slots = order.slots_within(low, high)
        else:
            source = filters[best_kind].source
            assert source is not None
            slots = source()
            if (low, high) != (None, None):
                position = order.position
                slots = [slot for slot in slots if _inside(position(slot), low, high)]
        for kind, flt in filters.items():
            if kind != best_kind:
                slots = flt.check(slots)
        return slots

    def _range(self, query: DeviceQuery, sort: SortField) -> tuple[int | None, int | None]:
        """The positions of `sort`'s order that its own filters allow."""
        if sort == "last_seen":
            low = None if query.since is None else _ts_value(query.since) * MAC_SPAN
            high = None if query.until is None else (_ts_value(query.until) + 1) * MAC_SPAN - 1
            return low, high
        if sort == "rssi" and query.min_rssi is not None:
            return query.min_rssi * MAC_SPAN, None
        return None, None

    def _filters(self, query: DeviceQuery) -> dict[str, _Filter]:
        """The query's conditions other than the sort's own range, each as a _Filter."""
        filters: dict[str, _Filter] = {}
        if query.sort != "last_seen" and (query.since is not None or query.until is not None):
            filters["seen"] = self._seen_filter(query)
        if query.sort != "rssi" and query.min_rssi is not None:
            filters["min_rssi"] = self._signal_filter(query.min_rssi)
        if query.randomized is not None:
            filters["randomized"] = self._randomized_filter(query.randomized)
        if query.vendor is not None:
            vendor_ids, wanted = self._vendor_id, self._vendors_matching(query.vendor)
            filters["vendor"] = _postings_filter(
                self._by_vendor,
                wanted,
                lambda s: vendor_ids[s] in wanted,
                lambda slots: [s for s in slots if vendor_ids[s] in wanted],
            )
        if query.sensor is not None:
            sensor, sets = query.sensor, self._sensors_id
            having = {at for at, held in enumerate(self._sensor_sets) if sensor in held}
            filters["sensor"] = _postings_filter(
                self._by_sensor,
                (sensor,),
                lambda s: sets[s] in having,
                lambda slots: [s for s in slots if sets[s] in having],
            )
        if query.ssid is not None:
            ssid, ssids = query.ssid, self._ssids
            filters["ssid"] = _postings_filter(
                self._by_ssid,
                (ssid,),
                lambda s: ssid in ssids[s],
                lambda slots: [s for s in slots if ssid in ssids[s]],
            )
        return filters

    def _seen_filter(self, query: DeviceQuery) -> _Filter:
        """Last seen within [since, until], to the microsecond, as the last_seen order has it."""
        order = self._orders["last_seen"]
        order.settle()
        low, high = self._range(query, "last_seen")
        first = -VALUE_LIMIT if query.since is None else _ts_value(query.since)
        last = VALUE_LIMIT if query.until is None else _ts_value(query.until)
        times = self._last
        return _Filter(
            lambda s: first <= round(times[s] * 1_000_000) <= last,
            lambda slots: [s for s in slots if first <= round(times[s] * 1_000_000) <= last],
            lambda: order.count_within(low, high),
            lambda: True,
            lambda: order.slots_within(low, high),
        )

    def _signal_filter(self, least: int) -> _Filter:
        """The last signal at least `least` dBm (a device with none never passes)."""
        order = self._orders["rssi"]
        order.settle()
        rssi = self._rssi
        return _Filter(
            lambda s: rssi[s] >= least,
            lambda slots: [s for s in slots if rssi[s] >= least],
            lambda: order.count_within(least * MAC_SPAN, None),
            lambda: True,
            lambda: order.slots_within(least * MAC_SPAN, None),
        )

    def _randomized_filter(self, randomized: bool) -> _Filter:
        """Randomized or not: counted as devices come and go, so one filter costs no scan."""
        flags, want = self._randomized, int(randomized)
        count = self._randomized_count if want else len(self._slot_of) - self._randomized_count
        return _Filter(
            lambda s: flags[s] == want,
            lambda slots: [s for s in slots if flags[s] == want],
            lambda: count,
            lambda: True,
        )

    def _vendors_matching(self, wanted: str) -> set[int]:
        needle = _fold_text(wanted)
        return {
            at
            for at, vendor in enumerate(self._vendors)
            if vendor is not None and needle in _fold_text(vendor)
        }

    def _by_name(
        self,
        query: DeviceQuery,
        order: _Order,
        low: int | None,
        high: int | None,
        filters: dict[str, _Filter],
    ) -> Page:
        """A name search: only named devices can match, so they are the candidates."""
        assert query.name is not None
        needle = name_key(query.name)
        named = [mac for mac, (_, key) in self._names.items() if needle in key]
        slot_of = self._slot_of
        position = order.position
        seen = [slot_of[mac] for mac in named if mac in slot_of]
        seen = [slot for slot in seen if _inside(position(slot), low, high)]
        for flt in filters.values():
            seen = flt.check(seen)
        unseen = [] if query.seen_only else self._unseen_matching(query, named)
        positioned = chain(
            ((position(slot), slot) for slot in seen),
            ((MISSING * MAC_SPAN + mac, -1 - mac) for mac in unseen),
        )
        return self._page(query, _first(query, positioned), len(seen) + len(unseen))

    def _unseen_matching(self, query: DeviceQuery, named: list[int]) -> list[int]:
        """The named devices never seen that pass the filters a MAC alone can answer."""
        unseen = [mac for mac in named if mac not in self._slot_of]
        if query.randomized is not None:
            unseen = [mac for mac in unseen if is_randomized(_mac_text(mac)) == query.randomized]
        if query.vendor is not None:
            needle = _fold_text(query.vendor)
            unseen = [
                mac for mac in unseen if needle in _fold_text(vendor_for(_mac_text(mac)) or "")
            ]
        return unseen

    def _page(self, query: DeviceQuery, found: list[tuple[int, int]], count: int) -> Page:
        """A page from up to `limit + 1` (position, slot) pairs; one more means a next page.

        A negative slot stands for a named device never seen: -1 - its MAC.
        """
        shown = found[: query.limit]
        items = tuple(self._item(slot) for _, slot in shown)
        more = len(found) > query.limit
        return Page(items, count, encode_cursor(query, shown[-1][0]) if more else None)

    def _item(self, slot: int) -> ListItem:
        if slot < 0:
            mac = -1 - slot
            return {"mac": _mac_text(mac), "name": self._names[mac][0], "probe_count": 0}
        mac = self._mac[slot]
        named = self._names.get(mac)
        rssi = self._rssi[slot]
        ssids = self._ssids[slot]
        first, last = self._first[slot], self._last[slot]
        return {
            "mac": _mac_text(mac),
            "name": None if named is None else named[0],
            "vendor": self._vendors[self._vendor_id[slot]],
            "randomized": bool(self._randomized[slot]),
            "probe_count": self._count[slot],
            "first_seen": iso_utc(first),
            "last_seen": iso_utc(last),
            "first_seen_ts": first,
            "last_seen_ts": last,
            "rssi_last_dbm": None if rssi == MISSING else rssi,
            "unique_ssids": len(ssids),
            "ssids": list(ssids),
            "sensors": list(self._sensor_sets[self._sensors_id[slot]]),
        }


def _postings_filter(
    postings: _Postings, values: Iterable[object], keep: Callable[[int], bool], check: Check
) -> _Filter:
    values = tuple(values)
    return _Filter(
        keep,
        check,
        lambda: postings.size(values),
        lambda: postings.is_exact(values),
        lambda: postings.slots(values, check),
    )


def _mac_key(mac: str) -> int | None:
    """A MAC as the 48-bit number the index keys it by; None for text that is no MAC."""
    if is_canonical_mac(mac):  # how tables key devices: the quick way
        return _mac_int(mac)
    try:
        return _mac_int(normalize_mac(mac))
    except InvalidMac:
        return None


def _clamped_ts(ts: float) -> float:
    return float(max(_TS_LOW, min(_TS_HIGH, ts))) if ts == ts else _TS_LOW


def _ts_position(ts: float, mac: int) -> int:
    """The position of an indexed capture time (within _TS_LOW.._TS_HIGH: never fails)."""
    return round(ts * 1_000_000) * MAC_SPAN + mac


def _interned(ssids: list[str]) -> tuple[str, ...]:
    """A device's SSIDs, each text shared by every device that probed for it."""
    return tuple(sys.intern(ssid) for ssid in ssids) if ssids else ()


def _inside(position: int, low: int | None, high: int | None) -> bool:
    return (low is None or position >= low) and (high is None or position <= high)


def _first(query: DeviceQuery, positioned: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The first `limit + 1` pairs after the cursor, in the query's order, from unsorted ones."""
    after = query.after
    if after is not None:
        if query.descending:
            positioned = (pair for pair in positioned if pair[0] < after)
        else:
            positioned = (pair for pair in positioned if pair[0] > after)
    pick = heapq.nlargest if query.descending else heapq.nsmallest
    return pick(query.limit + 1, positioned, key=lambda pair: pair[0])
