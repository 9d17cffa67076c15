"""The values most devices have (the SSIDs most probed for), exactly, across workers.

Each worker counts the devices it owns per value (`DeviceIndex.devices_per_ssid`); a device is
on one worker, so a value's count is the sum of the workers' counts. Summing every worker's
whole map is exact but large (hundreds of thousands of SSIDs at scale); summing only each
worker's first few is small but not exact. So each worker first gives its `size` highest counts
and a bound: no value missing from its list has more than that there (`top_share`). A value's
total is then known exactly when every worker whose list is cut listed it, and bounded above
otherwise. When the first `limit` values by total are all known exactly and each is above every
other value's upper bound, they are the answer (`ranked`); else every worker gives its whole
map (`size` 0) and the sums are exact. Popular values are on every worker's list, so the first
round almost always settles it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from heapq import nsmallest

from app.logic.listing.query import ListingError

#: How many values per wanted one a worker lists in the first round.
FIRST_ROUND_FACTOR = 4
DEFAULT_LIMIT = 10
MAX_LIMIT = 100


@dataclass(frozen=True, slots=True)
class RankingQuery:
    """`GET /ssids`: how many to rank; `top` is set on a worker's leg (its list size, 0: all)."""

    limit: int = DEFAULT_LIMIT
    top: int | None = None


def parse_ranking_query(params: Mapping[str, str]) -> RankingQuery:
    """The query string of a ranking; ListingError names a bad parameter."""
    given: set[str] = set()
    for param, _ in params.items():  # a multidict (aiohttp's query) repeats its keys
        if param not in ("limit", "top", "scope"):
            raise ListingError(param, "is not a parameter of this list (known: limit)")
        if param in given:
            raise ListingError(param, "is given more than once")
        given.add(param)
    limit = _whole(params.get("limit"), "limit", 1, MAX_LIMIT, DEFAULT_LIMIT)
    top = params.get("top")
    return RankingQuery(limit, None if top is None else _whole(top, "top", 0, 10**9, 0))


def _whole(value: str | None, param: str, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    if not re.fullmatch(r"\d{1,10}", value.strip()) or not low <= int(value) <= high:
        raise ListingError(param, f"must be a whole number from {low} to {high}")
    return int(value)


@dataclass(frozen=True, slots=True)
class TopShare:
    """One worker's highest counts, and a bound on every count it did not list."""

    top: dict[str, int]
    #: No value missing from `top` has more devices than this on the worker (0: none is missing).
    bound: int

    def as_json(self) -> dict[str, object]:
        return {"top": self.top, "bound": self.bound}

    @classmethod
    def from_json(cls, body: object) -> TopShare:
        """A worker's share as it arrives over HTTP; ValueError when it is not one."""
        if not isinstance(body, dict):
            raise ValueError("a share must be a JSON object")
        top, bound = body.get("top"), body.get("bound")
        if not isinstance(top, dict) or not all(
            isinstance(v, str) and _count(n) for v, n in top.items()
        ):
            raise ValueError("a share's top must map texts to whole numbers")
        if not isinstance(bound, int) or not _count(bound):
            raise ValueError("a share's bound must be a whole number")
        return cls(top, bound)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def order_key(item: tuple[str, int]) -> tuple[int, str]:
    """Most devices first; equal counts by value."""
    return (-item[1], item[0])


def top_share(counts: Mapping[str, int], size: int) -> TopShare:
    """A worker's `size` highest counts (by `order_key`; 0: all) and the bound on the others."""
    if size == 0 or len(counts) <= size:
        return TopShare(dict(counts), 0)
    top = nsmallest(size + 1, counts.items(), key=order_key)
    return TopShare(dict(top[:size]), top[size][1])


def first_size(limit: int) -> int:
    return limit * FIRST_ROUND_FACTOR


def ranked(shares: list[TopShare], limit: int) -> list[tuple[str, int]] | None:
    """The first `limit` values with their total counts, or None when the shares cannot prove
    them (ask every worker for all its counts then)."""
    totals: dict[str, int] = {}
    missing_at_most: dict[str, int] = {}
    unlisted_at_most = sum(share.bound for share in shares)
    for share in shares:
        for value, count in share.top.items():
            totals[value] = totals.get(value, 0) + count
    for share in shares:
        if share.bound:
            for value in totals.keys() - share.top.keys():
                missing_at_most[value] = missing_at_most.get(value, 0) + share.bound
    first = nsmallest(limit, totals.items(), key=order_key)
    if any(value in missing_at_most for value, _ in first):
        return None
    if unlisted_at_most == 0 and not missing_at_most:
        return first
    if len(first) < limit:
        return None
    chosen = {value for value, _ in first}
    others_at_most = max(
        [unlisted_at_most]
        + [
            count + missing_at_most.get(value, 0)
            for value, count in totals.items()
            if value not in chosen
        ]
    )
    return first if first[-1][1] > others_at_most else None
