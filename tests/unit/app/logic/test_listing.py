"""Listing devices (`app.logic.listing`): the query string, the per-worker index, cursors and
the merge of the workers' pages, checked against a plain re-computation over all devices."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import MultiDict

from app.logic import listing
from app.logic.listing import (
    DeviceIndex,
    DeviceQuery,
    ListingError,
    ListItem,
    Page,
    decode_cursor,
    encode_cursor,
    item_position,
    merge_pages,
    parse_query,
)
from app.logic.listing import index as listing_index
from app.logic.listing import order as listing_order
from app.logic.mac import is_randomized
from app.logic.names import name_key
from app.logic.stats import device_stats, fold_probe
from app.logic.vendor import vendor_for
from app.models import DeviceState, ProbeEvent

APPLE = "f0:18:98:00:00:{:02x}"  # Apple, Inc.
GOOGLE = "00:1a:11:00:00:{:02x}"  # Google, Inc.
LOCAL = "da:00:00:00:00:{:02x}"  # randomized: no vendor
T0 = 1_790_000_000.0


def row(
    last: float,
    *,
    first: float | None = None,
    count: int = 1,
    rssi: int | None = -60,
    ssids: tuple[str, ...] = (),
    sensors: tuple[str, ...] = ("s1",),
) -> DeviceState:
    return {
        "probe_count": count,
        "first_seen_ts": last if first is None else first,
        "last_seen_ts": last,
        "ssids": sorted(ssids),
        "ssids_truncated": False,
        "wildcard_probes": 0,
        "rssi_last": rssi,
        "rssi_min": rssi,
        "rssi_max": rssi,
        "rssi_sum": 0 if rssi is None else rssi,
        "rssi_samples": 0 if rssi is None else 1,
        "freq_mhz_last": 2412,
        "ie_fingerprint": None,
        "sensors": sorted(sensors),
    }


def macs_of(page: Page) -> list[str]:
    return [item["mac"] for item in page.items]


def listed(index: DeviceIndex, **params: str) -> list[str]:
    return macs_of(index.query(parse_query(params)))


def everything(index: DeviceIndex, query: DeviceQuery) -> tuple[list[str], int]:
    """Every device of a listing, paged through with its cursors, and the count."""
    found: list[str] = []
    page = index.query(query)
    found += macs_of(page)
    while page.next_cursor is not None:
        page = index.query(dataclasses.replace(query, after=decode_cursor(page.next_cursor, query)))
        found += macs_of(page)
    return found, page.count


# --- parse_query ----------------------------------------------------------------------------


def test_defaults_are_newest_first_fifty_at_a_time() -> None:
    assert parse_query({}) == DeviceQuery(sort="last_seen", descending=True, limit=50)


@pytest.mark.parametrize("sort", ["last_seen", "probe_count", "first_seen", "rssi"])
def test_each_sort_defaults_to_descending_and_takes_an_order(sort: str) -> None:
    assert parse_query({"sort": sort}).descending is True
    assert parse_query({"sort": sort, "order": "asc"}).descending is False
    assert parse_query({"sort": sort, "order": "desc"}).descending is True


def test_every_filter_is_read() -> None:
    query = parse_query(
        {
            "since": "2026-11-21T16:09:03Z",
            "until": "1795277400.5",
            "randomized": "false",
            "vendor": "  Apple ",
            "ssid": "Café Müller",
            "name": "alice",
            "sensor": "roof",
            "min_rssi": "-70",
            "limit": "500",
            "scope": "local",  # the web layer's own: accepted, not a filter
        }
    )
    assert query.since == 1795277343.0 and query.until == 1795277400.5
    assert query.randomized is False and query.vendor == "Apple" and query.ssid == "Café Müller"
    assert (query.name, query.sensor, query.min_rssi, query.limit) == ("alice", "roof", -70, 500)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-21T16:09:03Z",
        "2026-11-21T16:09:03+00:00",
        "2026-11-21T16:09:03 00:00",  # a `+` not %-escaped arrives as a space
        "2026-11-21T17:09:03+01:00",
        "2026-11-21T16:09:03",  # no zone: UTC, like every time the API shows
        "1795277343",
        "1795277343.0",
    ],
)
def test_times_in_iso_or_epoch_seconds(text: str) -> None:
    assert parse_query({"since": text}).since == 1795277343.0


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"sort": "vendor"}, "sort"),
        ({"order": "up"}, "order"),
        ({"since": "yesterday"}, "since"),
        ({"since": "1969-12-31T23:59:59Z"}, "since"),
        ({"until": "2100-01-01T00:00:00Z"}, "until"),
        ({"since": "2000-01-02T00:00:00Z", "until": "2000-01-01T00:00:00Z"}, "until"),
        ({"randomized": "maybe"}, "randomized"),
        ({"vendor": ""}, "vendor"),
        ({"vendor": "x" * 101}, "vendor"),
        ({"vendor": "a\x00b"}, "vendor"),
        ({"ssid": ""}, "ssid"),
        ({"ssid": "x" * 33}, "ssid"),
        ({"ssid": "evil\u202e"}, "ssid"),
        ({"name": "   "}, "name"),
        ({"name": "n" * 65}, "name"),
        ({"sensor": "a\nb"}, "sensor"),
        ({"min_rssi": "-129"}, "min_rssi"),
        ({"min_rssi": "128"}, "min_rssi"),
        ({"min_rssi": "strong"}, "min_rssi"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not a cursor"}, "cursor"),
        ({"cursor": ""}, "cursor"),
        ({"page": "2"}, "page"),
        ({"mac": "aa:bb:cc:dd:ee:ff"}, "mac"),
        ({"vendor": "x" * 2000}, "vendor"),
    ],
)
def test_a_bad_parameter_is_named_with_a_reason(params: dict[str, str], param: str) -> None:
    with pytest.raises(ListingError) as raised:
        parse_query(params)
    assert raised.value.param == param and raised.value.reason
    body = raised.value.as_json()
    assert body["param"] == param and body["error"].startswith(f"{param}: ")
    assert not raised.value.reason.startswith(param + " "), "the name is said once"


def test_a_parameter_given_twice_is_refused() -> None:
    with pytest.raises(ListingError, match="sort: is given more than once"):
        parse_query(MultiDict([("sort", "rssi"), ("sort", "last_seen")]))
    assert parse_query(MultiDict([("sort", "rssi"), ("scope", "local")])).sort == "rssi"


def test_a_cursor_is_bound_to_its_order_and_filters_not_to_the_limit() -> None:
    query = parse_query({"vendor": "apple", "sort": "probe_count"})
    cursor = encode_cursor(query, 12345 * listing.MAC_SPAN + 7)
    assert all(c.isalnum() or c in "-_" for c in cursor), "URL-safe"
    again = parse_query({"vendor": "APPLE", "sort": "probe_count", "cursor": cursor, "limit": "5"})
    assert again.after == 12345 * listing.MAC_SPAN + 7
    for other in ({"vendor": "apple"}, {"vendor": "google", "sort": "probe_count"}):
        with pytest.raises(ListingError, match="cursor: was made for another"):
            parse_query({**other, "cursor": cursor})


def test_negative_positions_survive_a_cursor() -> None:
    query = parse_query({"sort": "rssi", "order": "asc"})
    position = listing.MISSING * listing.MAC_SPAN + 5
    assert decode_cursor(encode_cursor(query, position), query) == position


# --- the index: orders, filters, counts -----------------------------------------------------


@pytest.fixture
def devices() -> DeviceIndex:
    """Six devices whose every field differs, two of them tied on some."""
    index = DeviceIndex()
    index.upsert(APPLE.format(1), row(T0 + 50, first=T0, count=9, rssi=-40, ssids=("home",)))
    index.upsert(APPLE.format(2), row(T0 + 40, first=T0 + 5, count=3, rssi=-80, sensors=("s2",)))
    index.upsert(GOOGLE.format(1), row(T0 + 30, first=T0 + 30, count=3, rssi=None))
    index.upsert(
        LOCAL.format(1),
        row(T0 + 50, first=T0 + 10, count=1, rssi=-60, ssids=("home", "work")),
    )
    index.upsert(LOCAL.format(2), row(T0 + 10, first=T0 + 1, count=20, rssi=-60, ssids=("x",)))
    index.upsert(GOOGLE.format(2), row(T0 + 20, first=T0 + 2, count=5, rssi=-50, sensors=()))
    index.set_name(APPLE.format(1), "Alice's iPhone")
    index.set_name(LOCAL.format(2), "alice laptop")
    return index


def test_sorted_newest_first_ties_by_mac(devices: DeviceIndex) -> None:
    assert listed(devices) == [
        APPLE.format(1),  # last seen T0+50, like LOCAL 1: the greater MAC first
        LOCAL.format(1),
        APPLE.format(2),
        GOOGLE.format(1),
        GOOGLE.format(2),
        LOCAL.format(2),
    ]
    assert listed(devices, order="asc") == listed(devices)[::-1]


def test_the_other_sorts(devices: DeviceIndex) -> None:
    assert listed(devices, sort="probe_count") == [
        LOCAL.format(2),
        APPLE.format(1),
        GOOGLE.format(2),
        APPLE.format(2),  # 3 probes, like GOOGLE 1: the greater MAC first
        GOOGLE.format(1),
        LOCAL.format(1),
    ]
    assert listed(devices, sort="first_seen", order="asc") == [
        APPLE.format(1),
        LOCAL.format(2),
        GOOGLE.format(2),
        APPLE.format(2),
        LOCAL.format(1),
        GOOGLE.format(1),
    ]
    strongest = listed(devices, sort="rssi")
    assert strongest == [
        APPLE.format(1),
        GOOGLE.format(2),
        LOCAL.format(2),
        LOCAL.format(1),
        APPLE.format(2),
        GOOGLE.format(1),  # no signal measured: below every signal
    ]
    assert listed(devices, sort="rssi", order="asc") == strongest[::-1]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"since": str(T0 + 30)},
            [APPLE.format(1), LOCAL.format(1), APPLE.format(2), GOOGLE.format(1)],
        ),
        ({"until": str(T0 + 20)}, [GOOGLE.format(2), LOCAL.format(2)]),
        (
            {"since": str(T0 + 20), "until": str(T0 + 40)},
            [APPLE.format(2), GOOGLE.format(1), GOOGLE.format(2)],
        ),
        ({"randomized": "true"}, [LOCAL.format(1), LOCAL.format(2)]),
        (
            {"randomized": "false"},
            [APPLE.format(1), APPLE.format(2), GOOGLE.format(1), GOOGLE.format(2)],
        ),
        ({"vendor": "APPLE"}, [APPLE.format(1), APPLE.format(2)]),
        ({"vendor": "gle, i"}, [GOOGLE.format(1), GOOGLE.format(2)]),
        ({"vendor": "nobody"}, []),
        ({"ssid": "home"}, [APPLE.format(1), LOCAL.format(1)]),
        ({"ssid": "hom"}, []),
        ({"name": "ALICE"}, [APPLE.format(1), LOCAL.format(2)]),
        ({"name": "laptop"}, [LOCAL.format(2)]),
        ({"sensor": "s2"}, [APPLE.format(2)]),
        ({"sensor": "s"}, []),
        (
            {"min_rssi": "-60"},
            [APPLE.format(1), LOCAL.format(1), GOOGLE.format(2), LOCAL.format(2)],
        ),
        (
            {"min_rssi": "-128"},
            [APPLE.format(1), LOCAL.format(1), APPLE.format(2), GOOGLE.format(2), LOCAL.format(2)],
        ),
        (
            {"min_rssi": "-60", "sort": "rssi", "order": "asc"},
            [LOCAL.format(1), LOCAL.format(2), GOOGLE.format(2), APPLE.format(1)],
        ),
        ({"min_rssi": "-60", "randomized": "true", "ssid": "home"}, [LOCAL.format(1)]),
        ({"vendor": "apple", "since": str(T0 + 45), "sort": "probe_count"}, [APPLE.format(1)]),
    ],
)
def test_each_filter_and_its_count(
    devices: DeviceIndex, params: dict[str, str], expected: list[str]
) -> None:
    page = devices.query(parse_query(params))
    assert macs_of(page) == expected and page.count == len(expected)


def test_counts_are_of_all_matching_not_of_the_page(devices: DeviceIndex) -> None:
    page = devices.query(parse_query({"limit": "2", "randomized": "false"}))
    assert len(page.items) == 2 and page.count == 4 and page.next_cursor is not None
    assert devices.query(parse_query({"limit": "2"})).count == 6
    assert devices.query(parse_query({"limit": "6"})).next_cursor is None


def test_an_item_says_what_the_device_page_says(devices: DeviceIndex) -> None:
    state = None
    for ts, ssid, rssi in ((T0, "home", -70), (T0 + 1, "", -65), (T0 + 2.25, "café", -61)):
        probe = ProbeEvent(ts=ts, mac=APPLE.format(9), ssid=ssid, rssi_dbm=rssi, sensor="roof")
        state = fold_probe(state, probe, max_ssids=1000)
    assert state is not None
    devices.upsert(APPLE.format(9), state)
    devices.set_name(APPLE.format(9), "Bob")
    (item,) = devices.query(parse_query({"name": "bob"})).items
    stats = device_stats(APPLE.format(9), state)
    assert item == {**{key: stats[key] for key in item if key != "name"}, "name": "Bob"}  # type: ignore[literal-required]
    assert set(item) == {
        "mac", "name", "vendor", "randomized", "probe_count", "first_seen", "last_seen",
        "first_seen_ts", "last_seen_ts", "rssi_last_dbm", "unique_ssids", "ssids", "sensors",
    }  # fmt: skip


def test_a_device_named_before_it_is_seen_is_found_by_name_only(devices: DeviceIndex) -> None:
    ghost = "00:00:5e:00:53:99"
    devices.set_name(ghost, "Alice tablet")
    page = devices.query(parse_query({"name": "alice"}))
    assert macs_of(page) == [APPLE.format(1), LOCAL.format(2), ghost], "unseen: last"
    assert page.items[-1] == {"mac": ghost, "name": "Alice tablet", "probe_count": 0}
    assert page.count == 3
    assert macs_of(devices.query(parse_query({"name": "alice", "order": "asc"})))[0] == ghost
    assert ghost in macs_of(devices.query(parse_query({"name": "tablet", "vendor": "icann"})))
    for seen_only in ({"ssid": "home"}, {"min_rssi": "-100"}, {"since": str(T0)}, {"sensor": "s1"}):
        assert ghost not in listed(devices, name="alice", **seen_only)
    assert ghost not in listed(devices) and devices.query(parse_query({})).count == 6
    body = devices.query(parse_query({"name": "alice tablet"})).as_json(
        parse_query({"name": "alice tablet"})
    )
    assert body == {
        "name": "alice tablet",
        "devices": [{"mac": ghost, "name": "Alice tablet", "probe_count": 0}],
        "count": 1,
        "next_cursor": None,
    }, "the answer `GET /devices?name=` always gave, with a count and a cursor"
    devices.upsert(ghost, row(T0 + 60))
    assert listed(devices, name="tablet") == [ghost] and listed(devices)[0] == ghost


def test_names_change_and_go(devices: DeviceIndex) -> None:
    devices.set_name(APPLE.format(1), "Kitchen tablet")
    assert listed(devices, name="alice") == [LOCAL.format(2)]
    devices.set_name(LOCAL.format(2), None)
    assert listed(devices, name="alice") == []
    assert devices.query(parse_query({})).items[0]["name"] == "Kitchen tablet"


def test_remove_forgets_a_device_and_its_name(devices: DeviceIndex) -> None:
    devices.remove(APPLE.format(1))
    devices.remove(APPLE.format(1))  # twice is harmless
    assert APPLE.format(1) not in listed(devices)
    assert listed(devices, vendor="apple") == [APPLE.format(2)]
    assert listed(devices, ssid="home") == [LOCAL.format(1)]
    assert listed(devices, name="alice") == [LOCAL.format(2)]
    assert len(devices) == 5 and APPLE.format(1) not in set(devices.macs())
    devices.upsert(GOOGLE.format(7), row(T0 + 99, ssids=("work",)))  # reuses the slot
    assert listed(devices, ssid="home") == [LOCAL.format(1)]
    assert listed(devices, ssid="work") == [GOOGLE.format(7), LOCAL.format(1)]
    assert devices.query(parse_query({"ssid": "work"})).count == 2
    assert listed(devices, vendor="apple") == [APPLE.format(2)]


def test_a_device_that_loses_a_sensor_or_an_ssid_is_not_found_by_it_any_more() -> None:
    index = DeviceIndex()
    index.upsert(APPLE.format(1), row(T0, sensors=("s1",), ssids=("home",)))
    index.upsert(APPLE.format(2), row(T0, sensors=()))
    assert listed(index, sensor="s1") == listed(index, ssid="home") == [APPLE.format(1)]
    index.upsert(APPLE.format(1), row(T0, sensors=("s2",), ssids=("work",)))
    for params in ({"sensor": "s1"}, {"ssid": "home"}):
        page = index.query(parse_query(params))
        assert (page.items, page.count) == ((), 0)
    assert listed(index, sensor="s2") == listed(index, ssid="work") == [APPLE.format(1)]


def test_devices_per_ssid_and_per_sensor_follow_changes_and_partitions() -> None:
    """Counted from the shared sets' holders; while a partition leaves, from the devices that
    stay (the leaving ones still hold their sets until forgotten)."""
    index = DeviceIndex()
    index.upsert(APPLE.format(1), row(T0, ssids=("home", "work"), sensors=("hall",)), 1)
    index.upsert(APPLE.format(2), row(T0, ssids=("home",), sensors=("hall", "yard")), 1)
    index.upsert(APPLE.format(3), row(T0, ssids=("home", "work"), sensors=()), 2)
    index.upsert(APPLE.format(4), row(T0), 2)
    assert index.devices_per_ssid() == {"home": 3, "work": 2}
    assert index.devices_per_sensor() == {"hall": 2, "yard": 1, "s1": 1}
    index.upsert(APPLE.format(1), row(T0 + 1, ssids=("cafe", "home", "work"), sensors=("yard",)), 1)
    assert index.devices_per_ssid() == {"home": 3, "work": 2, "cafe": 1}
    assert index.devices_per_sensor() == {"hall": 1, "yard": 2, "s1": 1}
    steps = index.removing_partition(1)
    next(steps)
    assert index.devices_per_ssid() == {"home": 1, "work": 1}
    assert index.devices_per_sensor() == {"s1": 1}
    for _ in steps:
        pass
    assert index.devices_per_ssid() == {"home": 1, "work": 1}
    index.remove(APPLE.format(3))
    assert index.devices_per_ssid() == {}


def test_a_reused_slot_is_listed_under_its_new_vendor_only() -> None:
    """An Apple device leaves, a Google device takes its slot, the Apple one comes back (in a
    new slot): a filter matching both vendors lists each once, and Apple lists Apple only."""
    index = DeviceIndex()
    index.upsert(APPLE.format(0), row(T0))
    index.upsert(LOCAL.format(1), row(T0 + 1))
    index.remove(APPLE.format(0))
    index.upsert(GOOGLE.format(0), row(T0 + 2))
    index.upsert(APPLE.format(0), row(T0 + 3))
    index.upsert(LOCAL.format(0), row(T0 + 4))  # more devices than the vendors' postings hold
    both = index.query(parse_query({"vendor": "inc"}))
    assert macs_of(both) == [APPLE.format(0), GOOGLE.format(0)] and both.count == 2
    apple = index.query(parse_query({"vendor": "apple"}))
    assert macs_of(apple) == [APPLE.format(0)] and apple.count == 1


def test_any_mac_spelling_is_one_device_and_a_key_that_is_no_mac_is_ignored() -> None:
    index = DeviceIndex()
    index.upsert("F0-18-98-00-00-01", row(T0))
    index.upsert("f0:18:98:00:00:01", row(T0 + 1, count=2))
    index.upsert("not a mac", row(T0))
    index.upsert("-0:00:00:00:00:01", row(T0))
    index.set_name("not a mac", "x")
    index.remove("not a mac")
    assert listed(index) == [APPLE.format(1)] and len(index) == 1


def test_a_row_from_before_the_checks_is_still_listed() -> None:
    index = DeviceIndex()
    index.upsert(APPLE.format(1), row(float("nan"), count=2**70, rssi=99999))
    index.upsert(APPLE.format(2), row(1e300, first=-5.0))
    (first, second) = index.query(parse_query({})).items
    assert first["mac"] == APPLE.format(2) and second["mac"] == APPLE.format(1)
    assert listed(index, sort="probe_count") == [APPLE.format(1), APPLE.format(2)]


# --- cursors while devices change -----------------------------------------------------------


def test_paging_while_probes_arrive_lists_every_unchanged_device_once() -> None:
    rng = random.Random(3)
    index = DeviceIndex()
    for i in range(400):
        mac = f"da:00:00:00:{i // 256:02x}:{i % 256:02x}"
        index.upsert(mac, row(T0 + rng.randrange(300), count=rng.randrange(1, 9)))
    clock = T0 + 1000  # live sensors: each new probe is newer than every one before
    newcomers = 0
    for sort in ("last_seen", "probe_count"):
        all_macs = set(index.macs())
        query = parse_query({"sort": sort, "limit": "37"})
        seen: list[str] = []
        moves: dict[str, int] = {}
        page = index.query(query)
        while True:
            seen += macs_of(page)
            if page.next_cursor is None:
                break
            for mac in rng.sample(sorted(all_macs), 15):  # new probes for some devices
                clock += 1
                moves[mac] = moves.get(mac, 0) + 1
                index.upsert(mac, row(clock, first=T0, count=rng.randrange(1, 40)))
            newcomers += 1
            newcomer = f"02:00:00:00:{newcomers // 256:02x}:{newcomers % 256:02x}"
            index.upsert(newcomer, row(clock, count=rng.randrange(1, 40)))
            moves[newcomer] = 1
            page = index.query(
                dataclasses.replace(query, after=decode_cursor(page.next_cursor, query))
            )
        for mac in all_macs - moves.keys():
            assert seen.count(mac) == 1, (sort, mac)
        assert all(seen.count(mac) <= 1 + moved for mac, moved in moves.items())
        if sort == "last_seen":
            assert all(seen.count(mac) <= 1 for mac in moves), (
                "newest first, a device that probes again moves before the cursor: never twice"
            )


# --- merging the workers' pages -------------------------------------------------------------


def test_a_page_crosses_http_as_json() -> None:
    index = DeviceIndex()
    index.upsert(APPLE.format(1), row(T0 + 0.1 + 0.2, first=1e-3, rssi=None))
    page = index.query(parse_query({}))
    again = Page.from_json(orjson.loads(orjson.dumps(page.as_json())))
    assert again == page
    assert item_position(again.items[0], "last_seen") == item_position(page.items[0], "last_seen")
    bad_pages: list[Any] = [
        [],
        {"devices": [1], "count": 0},
        {"devices": [], "count": -1},
        {"devices": []},
        {"devices": [], "count": 0, "next_cursor": 5},
    ]
    for bad in bad_pages:
        with pytest.raises(ValueError):
            Page.from_json(bad)


def test_merge_keeps_order_sums_counts_and_drops_a_standbys_copy() -> None:
    one, two = DeviceIndex(), DeviceIndex()
    for i in range(5):
        one.upsert(APPLE.format(i), row(T0 + 2 * i))
        two.upsert(GOOGLE.format(i), row(T0 + 2 * i + 1))
    two.upsert(APPLE.format(4), row(T0 + 8))  # the same device, answered by two workers
    query = parse_query({"limit": "4"})
    merged = merge_pages([one.query(query), two.query(query)], query)
    assert macs_of(merged) == [GOOGLE.format(4), APPLE.format(4), GOOGLE.format(3), APPLE.format(3)]
    assert merged.count == 11 and merged.next_cursor is not None
    after = dataclasses.replace(query, after=decode_cursor(merged.next_cursor, query))
    rest = merge_pages([one.query(after), two.query(after)], after)
    assert macs_of(rest) == [GOOGLE.format(2), APPLE.format(2), GOOGLE.format(1), APPLE.format(1)]
    assert merge_pages([], query) == Page((), 0, None)


ROWS = st.builds(
    row,
    st.sampled_from([T0, T0 + 0.5, T0 + 1, T0 + 1.000_000_4, T0 + 7]),
    first=st.sampled_from([T0 - 3, T0, T0 + 0.5]),
    count=st.integers(1, 4),
    rssi=st.sampled_from([None, -80, -60, -59]),
    ssids=st.sets(st.sampled_from(["a", "b", "c"]), max_size=3).map(tuple),
    sensors=st.sets(st.sampled_from(["s1", "s2"]), max_size=2).map(tuple),
)
MACS = st.sampled_from(
    [APPLE.format(i) for i in range(6)]
    + [GOOGLE.format(i) for i in range(4)]
    + [LOCAL.format(i) for i in range(8)]
)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("upsert"), MACS, ROWS),
        st.tuples(st.just("remove"), MACS, st.none()),
        st.tuples(st.just("name"), MACS, st.sampled_from([None, "Alice", "alice's phone", "Bob"])),
    ),
    max_size=60,
)
QUERIES = st.fixed_dictionaries(
    {"sort": st.sampled_from(["last_seen", "probe_count", "first_seen", "rssi"])},
    optional={
        "order": st.sampled_from(["asc", "desc"]),
        "since": st.sampled_from([str(T0 + 0.5), str(T0 + 1)]),
        "until": st.sampled_from([str(T0 + 1), str(T0 + 7)]),
        "randomized": st.sampled_from(["true", "false"]),
        "vendor": st.sampled_from(["apple", "GOOGLE", "inc"]),
        "ssid": st.sampled_from(["a", "c"]),
        "name": st.sampled_from(["alice", "bob", "phone"]),
        "sensor": st.sampled_from(["s1", "s2"]),
        "min_rssi": st.sampled_from(["-80", "-60"]),
        "limit": st.sampled_from(["1", "2", "3", "50"]),
    },
)


@contextmanager
def small_leaves() -> Iterator[None]:
    """Leaves of 4 devices and a backlog of 3: small examples split, merge and settle."""
    sizes = {
        (listing_order, "_LEAF_BYTES"): 4 * 4,
        (listing_order, "_MIN_LEAF_BYTES"): 4 * 1,
        (listing_index, "BACKLOG"): 3,
    }
    before = {(module, name): getattr(module, name) for module, name in sizes}
    for (module, name), size in sizes.items():
        setattr(module, name, size)
    try:
        yield
    finally:
        for (module, name), size in before.items():
            setattr(module, name, size)


def expected(
    rows: dict[str, DeviceState], names: dict[str, str], params: dict[str, str]
) -> list[str]:
    """The listing worked out the plain way, from every row."""
    query = parse_query(params)

    def micros(ts: float) -> int:
        return round(ts * 1_000_000)

    def value(mac: str) -> int:
        state = rows[mac]
        return {
            "last_seen": micros(state["last_seen_ts"]),
            "first_seen": micros(state["first_seen_ts"]),
            "probe_count": state["probe_count"],
            "rssi": listing.MISSING if state["rssi_last"] is None else state["rssi_last"],
        }[query.sort]

    def passes(mac: str) -> bool:
        state = rows[mac]
        vendor = vendor_for(mac)
        return (
            (query.since is None or micros(state["last_seen_ts"]) >= micros(query.since))
            and (query.until is None or micros(state["last_seen_ts"]) <= micros(query.until))
            and (query.randomized is None or is_randomized(mac) == query.randomized)
            and (
                query.vendor is None
                or (vendor is not None and query.vendor.casefold() in vendor.casefold())
            )
            and (query.ssid is None or query.ssid in state["ssids"])
            and (query.sensor is None or query.sensor in state["sensors"])
            and (
                query.min_rssi is None
                or (state["rssi_last"] is not None and state["rssi_last"] >= query.min_rssi)
            )
            and (query.name is None or name_key(query.name) in name_key(names.get(mac, "")))
        )

    found = sorted((mac for mac in rows if passes(mac)), key=lambda mac: (value(mac), mac))
    if query.name is not None and query.seen_only is False:
        unseen = [
            mac
            for mac in sorted(names)
            if mac not in rows
            and name_key(query.name) in name_key(names[mac])
            and (query.randomized is None or is_randomized(mac) == query.randomized)
            and (
                query.vendor is None
                or query.vendor.casefold() in (vendor_for(mac) or "").casefold()
            )
        ]
        # Never seen: the value MISSING, below every device seen but those with no signal
        # (sorted by rssi), among which they go by MAC, as `item_position` places them.
        found = sorted(
            [*((value(mac), mac) for mac in found), *((listing.MISSING, mac) for mac in unseen)]
        )
        found = [mac for _, mac in found]
    if query.descending:
        found.reverse()
    return found


def apply(
    index: DeviceIndex, rows: dict[str, DeviceState], names: dict[str, str], operations: list[Any]
) -> None:
    for kind, mac, value in operations:
        if kind == "upsert":
            index.upsert(mac, value)
            rows[mac] = value
        elif kind == "remove":
            index.remove(mac)
            rows.pop(mac, None)
            names.pop(mac, None)
        else:
            index.set_name(mac, value)
            if value is None:
                names.pop(mac, None)
            else:
                names[mac] = value


@settings(max_examples=300, deadline=None)
@given(OPERATIONS, st.lists(QUERIES, min_size=1, max_size=4), OPERATIONS)
def test_the_index_lists_what_a_plain_computation_lists(
    first: list[Any],
    queries: list[dict[str, str]],
    then: list[Any],
) -> None:
    with small_leaves():
        index = DeviceIndex()
        rows: dict[str, DeviceState] = {}
        names: dict[str, str] = {}
        apply(index, rows, names, first)
        for params in queries:
            want = expected(rows, names, params)
            assert everything(index, parse_query(params)) == (want, len(want)), params
        apply(index, rows, names, then)  # changes after the orders were read: settled again
        for params in queries:
            want = expected(rows, names, params)
            assert everything(index, parse_query(params)) == (want, len(want)), params


@settings(max_examples=200, deadline=None)
@given(OPERATIONS, QUERIES, st.integers(2, 3), st.randoms(use_true_random=False))
def test_merged_pages_of_workers_are_the_pages_of_one_index(
    operations: list[Any],
    params: dict[str, str],
    workers: int,
    rng: random.Random,
) -> None:
    with small_leaves():
        whole = DeviceIndex()
        shares = [DeviceIndex() for _ in range(workers)]
        owner: dict[str, DeviceIndex] = {}
        for kind, mac, value in operations:
            share = owner.setdefault(mac, rng.choice(shares))  # a MAC lives on one worker
            for index in (whole, share):
                if kind == "upsert":
                    index.upsert(mac, value)
                elif kind == "remove":
                    index.remove(mac)
                else:
                    index.set_name(mac, value)
        query = parse_query(params)
        while True:
            single = whole.query(query)
            answers = [orjson.loads(orjson.dumps(s.query(query).as_json())) for s in shares]
            merged = merge_pages([Page.from_json(answer) for answer in answers], query)
            assert merged == single
            if merged.next_cursor is None:
                break
            query = dataclasses.replace(query, after=decode_cursor(merged.next_cursor, query))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(MACS, ROWS), max_size=40),
    st.lists(st.tuples(MACS, ROWS), max_size=10),
    QUERIES,
)
def test_many_rows_at_once_are_indexed_as_one_by_one(
    start: list[tuple[str, DeviceState]],
    more: list[tuple[str, DeviceState]],
    params: dict[str, str],
) -> None:
    with small_leaves():
        one_by_one, at_once = DeviceIndex(), DeviceIndex()
        for mac, state in start + more:
            one_by_one.upsert(mac, state)
        at_once.upsert_many(start)
        at_once.upsert_many(more)  # into orders already built
        query = parse_query(params)
        assert everything(at_once, query) == everything(one_by_one, query)


def test_positions_of_items_are_the_positions_the_index_sorts_by(devices: DeviceIndex) -> None:
    for sort in ("last_seen", "probe_count", "first_seen", "rssi"):
        items: list[ListItem] = list(devices.query(parse_query({"sort": sort})).items)
        positions = [item_position(item, sort) for item in items]
        assert positions == sorted(positions, reverse=True)
