"""Listing devices (`GET /devices`): the query, each worker's index of the devices it holds, and
the merge of the workers' pages into one.

Every worker answers for its own partitions with the first `limit` devices after the cursor and
how many devices match there; the asking worker merges those pages (`merge_pages`). A position
in a listing is the pair (sort value, MAC), packed into one integer, so every worker, the merge
and the cursor order devices alike. The index keeps no table row: only what sorting, filtering and
a list's item need, in compact columns, with no Python object per device: about 90 bytes a
device, all four orders included, when devices share their SSID sets (as the bench's do); a
set no other device holds adds ~80 bytes. A worker holding 1,000,000 devices with its index
built: ~230 MB of RSS (`python -m bench --only recovery`).

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

from app.logic.listing.index import DeviceIndex
from app.logic.listing.page import ListItem, Page, item_position, merge_pages
from app.logic.listing.positions import MAC_SPAN, MISSING, VALUE_LIMIT
from app.logic.listing.query import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    PARAMETERS,
    PASSED_THROUGH,
    SORT_FIELDS,
    DeviceQuery,
    ListingError,
    SortField,
    decode_cursor,
    encode_cursor,
    parse_query,
)

__all__ = [
    "DEFAULT_LIMIT",
    "MAC_SPAN",
    "MAX_LIMIT",
    "MISSING",
    "PARAMETERS",
    "PASSED_THROUGH",
    "SORT_FIELDS",
    "VALUE_LIMIT",
    "DeviceIndex",
    "DeviceQuery",
    "ListItem",
    "ListingError",
    "Page",
    "SortField",
    "decode_cursor",
    "encode_cursor",
    "item_position",
    "merge_pages",
    "parse_query",
]
