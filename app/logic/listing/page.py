"""A page of a listing, as a worker answers it and as the merge of every worker's pages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict, cast

from app.logic.listing.positions import MAC_SPAN, MISSING, clamped, mac_int, ts_value
from app.logic.listing.query import DeviceQuery, SortField, encode_cursor


def item_position(item: ListItem, sort: SortField) -> int:
    """Where an item stands in a listing sorted by `sort`: (value, MAC) as one integer."""
    mac = mac_int(item["mac"])
    if "last_seen_ts" not in item:
        return MISSING * MAC_SPAN + mac
    if sort == "last_seen":
        value = ts_value(item["last_seen_ts"])
    elif sort == "first_seen":
        value = ts_value(item["first_seen_ts"])
    elif sort == "probe_count":
        value = clamped(item["probe_count"])
    else:
        rssi = item["rssi_last_dbm"]
        value = MISSING if rssi is None else rssi
    return value * MAC_SPAN + mac


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
