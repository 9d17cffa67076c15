"""The devices one worker holds, for listing (`DeviceIndex`): compact columns, four orders,
postings for the filters, and the partition each device belongs to."""

from __future__ import annotations

import heapq
import sys
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, compress, islice
from typing import Any

from app.logic.listing.order import BACKLOG, Check, Holding, Order, Postings
from app.logic.listing.page import ListItem, Page
from app.logic.listing.positions import (
    MAC_SPAN,
    MISSING,
    VALUE_LIMIT,
    clamped,
    inside,
    mac_int,
    mac_text,
    ts_value,
)
from app.logic.listing.query import DeviceQuery, SortField, encode_cursor, fold_text
from app.logic.listing.sets import SetTable, per_text
from app.logic.listing.slots import SlotTable
from app.logic.listing.tags import NO_TAG, PartitionTags
from app.logic.mac import InvalidMac, is_canonical_mac, is_randomized, normalize_mac
from app.logic.names import name_key
from app.logic.stats import iso_utc
from app.logic.vendor import vendor_for
from app.models import DeviceState

#: Capture times are clamped into this range when indexed (rows are checked when folded; a row
#: written before that was must still be listable).
_TS_LOW, _TS_HIGH = 0.0, 4_200_000_000.0
#: A probe count the 4-byte column cannot hold (beyond 4 billion, or negative in a bad row):
#: the count is then in `_big_counts`.
_BIG_COUNT = 0xFFFFFFFF
#: The 2-byte signal column: no signal measured, and the range a signal is clamped into
#: (rows hold -128..127 dBm).
_NO_SIGNAL = -0x8000
_SIGNAL_LIMIT = 0x7FFF
#: How many slots a partition's removal scans, and forgets, between two yields.
_SCAN_STEP = 16_384
_FORGET_STEP = 1024


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
    each name of `device-names`, `removing_partition` for a partition revoked (in steps of a
    few milliseconds), `remove` for one device. Not thread-safe: use it from the event loop
    only.

    A device has a slot: one entry in each column (arrays of machine numbers, 45 bytes in
    all), one in each order (4 bytes each) and in the MAC table (`SlotTable`, ~8 bytes); its
    SSIDs and sensors are ids of sets shared with other devices (`SetTable`). No Python object
    is kept per device. A removed device's slot is reused. Every order holds every device.
    """

    def __init__(self) -> None:
        self._free = array("I")
        self._mac = array("Q")
        self._slots = SlotTable(self._mac)
        self._live = 0
        self._last = array("d")
        self._first = array("d")
        self._count = array("I")  # _BIG_COUNT: see _big_counts
        self._big_counts: dict[int, int] = {}
        self._rssi = array("h")  # _NO_SIGNAL when no signal was measured
        self._vendor_id = array("I")
        self._sensors_id = array("I")
        self._ssids_id = array("I")
        self._randomized = bytearray()
        #: The tag of the partition of `devices` each device's row lives in (what a revocation
        #: takes away), NO_TAG for a free slot.
        self._tag = array("H")
        self._tags = PartitionTags()
        self._randomized_count = 0
        self._vendors: list[str | None] = [None]
        self._vendor_ids: dict[str | None, int] = {None: 0}
        self._sensor_sets = SetTable()
        self._ssid_sets = SetTable()
        self._by_ssid = Postings()
        self._by_vendor = Postings()
        self._by_sensor = Postings()
        #: MAC → (name, its folded form for searching), for every named device held here.
        #: MAC → (name, its folded form for searching, partition), for every named device here.
        self._names: dict[int, tuple[str, str, int]] = {}
        mac, last, first, count, rssi = self._mac, self._last, self._first, self._count, self._rssi
        big = self._big_counts
        self._orders: dict[SortField, Order] = {
            "last_seen": Order(lambda slot: _ts_position(last[slot], mac[slot])),
            "first_seen": Order(lambda slot: _ts_position(first[slot], mac[slot]), BACKLOG),
            "probe_count": Order(
                lambda slot: (
                    (c if (c := count[slot]) != _BIG_COUNT else big[slot]) * MAC_SPAN + mac[slot]
                ),
                BACKLOG,
            ),
            "rssi": Order(
                lambda slot: (
                    (r if (r := rssi[slot]) != _NO_SIGNAL else MISSING) * MAC_SPAN + mac[slot]
                ),
                BACKLOG,
            ),
        }

    # feeding

    def __len__(self) -> int:
        """How many devices with statistics this index holds (named-only ones not counted)."""
        return self._live

    def macs(self) -> Iterator[str]:
        """Every MAC the index holds, with statistics or only a name."""
        mac, leaving = self._mac, self._tags.leaving
        held = {
            mac[slot] for slot, tag in enumerate(self._tag) if tag != NO_TAG and not leaving[tag]
        }
        return (mac_text(key) for key in held | self._names.keys())

    def partitions(self) -> set[int]:
        """The partitions whose devices or names are held here."""
        return {named[2] for named in self._names.values()} | self._tags.held()

    def names_in(self, partition: int) -> set[str]:
        """The MACs of the names held for a partition."""
        return {mac_text(mac) for mac, named in self._names.items() if named[2] == partition}

    def upsert_many(self, rows: Iterable[tuple[str, DeviceState]], partition: int = 0) -> None:
        """`upsert` for each (MAC, row): the worker's devices at start-up, say. Every order
        waits until the end and is then sorted once, rather than moving device by device."""
        orders = list(self._orders.values())
        backlogs = [order.backlog for order in orders]
        for order in orders:
            order.backlog = sys.maxsize
        try:
            for mac, row in rows:
                self.upsert(mac, row, partition)
        finally:
            for order, backlog in zip(orders, backlogs, strict=True):
                order.backlog = backlog
                order.settle()

    def upsert(self, mac: str, row: DeviceState, partition: int = 0) -> None:
        """Index a device's current row (new or changed), held in `partition` of `devices`. A
        key that is no MAC is not indexed.

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
            count = clamped(count)
        signal = row["rssi_last"]
        if signal is None:
            rssi = _NO_SIGNAL
        elif -_SIGNAL_LIMIT <= signal <= _SIGNAL_LIMIT:
            rssi = signal
        else:
            rssi = max(-_SIGNAL_LIMIT, min(_SIGNAL_LIMIT, signal))
        sensors = tuple(row["sensors"])
        ssids = row["ssids"]
        slot = self._slots.get(key)
        if slot is not None:
            tag = self._tag[slot]
            tags = self._tags
            if tags.leaving[tag]:
                self._slots.remove(key)  # its old slot leaves with the partition: a new one
                slot = None
            elif tags.partition[tag] != partition:
                randomized = self._randomized[slot]
                tags.drop(tag, randomized)
                self._tag[slot] = tag = tags.tag_of(partition)
                tags.add(tag, randomized)
        if slot is None:
            self._insert(key, float(last), float(first), count, rssi, sensors, ssids, partition)
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
            if held == _BIG_COUNT or not 0 <= count < _BIG_COUNT:
                held = self._count_at(slot)
                self._set_count(slot, count)
            else:
                self._count[slot] = count
            orders["probe_count"].move(slot, held * MAC_SPAN + key, count * MAC_SPAN + key)
        held = self._rssi[slot]
        if rssi != held:
            self._rssi[slot] = rssi
            orders["rssi"].move(slot, _signal_position(held, key), _signal_position(rssi, key))
        held_id = self._sensors_id[slot]
        held = self._sensor_sets.tuples[held_id]
        if sensors != held:
            self._sensors_id[slot] = self._sensor_sets.acquire(sensors)
            self._sensor_sets.release(held_id)
            for sensor in set(sensors).difference(held):
                self._by_sensor.add(sensor, slot)
            self._by_sensor.mark_stale(set(held).difference(sensors))
        held_id = self._ssids_id[slot]
        held = self._ssid_sets.tuples[held_id]
        if len(held) != len(ssids) or held != tuple(ssids):
            self._ssids_id[slot] = self._ssid_sets.acquire(ssids)
            self._ssid_sets.release(held_id)
            for ssid in set(ssids).difference(held):
                self._by_ssid.add(ssid, slot)
            self._by_ssid.mark_stale(set(held).difference(ssids))

    def _set_count(self, slot: int, count: int) -> None:
        if 0 <= count < _BIG_COUNT:
            self._count[slot] = count
            if self._big_counts:
                self._big_counts.pop(slot, None)
        else:
            self._count[slot] = _BIG_COUNT
            self._big_counts[slot] = count

    def _count_at(self, slot: int) -> int:
        count = self._count[slot]
        return self._big_counts[slot] if count == _BIG_COUNT else count

    def _insert(
        self,
        key: int,
        last: float,
        first: float,
        count: int,
        rssi: int,
        sensors: tuple[str, ...],
        ssids: list[str],
        partition: int,
    ) -> None:
        mac = mac_text(key)
        vendor = vendor_for(mac)
        vendor_id = self._vendor_ids.get(vendor)
        if vendor_id is None:
            vendor_id = self._vendor_ids[vendor] = len(self._vendors)
            self._vendors.append(vendor)
        randomized = is_randomized(mac)
        tag = self._tags.tag_of(partition)
        self._tags.add(tag, randomized)
        sensors_id = self._sensor_sets.acquire(sensors)
        ssids_id = self._ssid_sets.acquire(ssids)
        if self._free:
            slot = self._free.pop()
            self._mac[slot], self._last[slot], self._first[slot] = key, last, first
            self._rssi[slot] = rssi
            self._vendor_id[slot], self._sensors_id[slot] = vendor_id, sensors_id
            self._randomized[slot], self._ssids_id[slot] = randomized, ssids_id
            self._tag[slot] = tag
        else:
            slot = len(self._mac)
            self._mac.append(key)
            self._last.append(last)
            self._first.append(first)
            self._count.append(0)
            self._rssi.append(rssi)
            self._vendor_id.append(vendor_id)
            self._sensors_id.append(sensors_id)
            self._randomized.append(randomized)
            self._ssids_id.append(ssids_id)
            self._tag.append(tag)
        self._set_count(slot, count)
        self._slots.add(key, slot)
        self._live += 1
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
        slot = self._live_slot(key)
        if slot is None:
            return
        for order in self._orders.values():
            order.remove(slot, order.position(slot))
        self._live -= 1
        self._randomized_count -= self._randomized[slot]
        self._forget_slots((slot,))

    def remove_partition(self, partition: int) -> int:
        """Forget every device and name of a partition at once: how many devices."""
        *_, removed = self.removing_partition(partition)
        return removed

    def removing_partition(self, partition: int) -> Iterator[int]:
        """Forget every device and name of a partition (it was revoked), a little at a time:
        it yields how many devices go, at first and then every few thousand slots scanned,
        leaves filtered or devices forgotten, so whoever drives it can let others run between.

        From its first step, the partition's names are gone and its devices are neither counted
        (`len`, `partitions`, a query's count) nor updated: a row for one of them meanwhile
        files the device anew, in a fresh slot, which stays. Queries still list the leaving
        ones until the last step, so a worker answers none while it runs (it is rebalancing).
        """
        self._names = {mac: held for mac, held in self._names.items() if held[2] != partition}
        tags = self._tags
        tag = tags.leave(partition)
        if tag is None:
            yield 0
            return
        leaving_count = tags.devices[tag]
        self._live -= leaving_count
        self._randomized_count -= tags.randomized[tag]
        yield leaving_count
        column = self._tag
        leaving = array("I")
        scanned = 0
        while scanned < len(column):
            upto = min(scanned + _SCAN_STEP, len(column))
            leaving.extend(compress(range(scanned, upto), map(tag.__eq__, column[scanned:upto])))
            scanned = upto
            yield leaving_count
        stay = bytearray(b"\x01") * len(column)
        for at in range(0, len(leaving), _SCAN_STEP):
            for slot in leaving[at : at + _SCAN_STEP]:
                stay[slot] = 0
            yield leaving_count
        for order in self._orders.values():
            for _ in order.discarding(stay):
                yield leaving_count
        for at in range(0, len(leaving), _FORGET_STEP):
            self._forget_slots(leaving[at : at + _FORGET_STEP])
            yield leaving_count

    def _forget_slots(self, slots: Iterable[int]) -> None:
        """Empty retired slots that no order files any more, for reuse, and unfile their MACs
        (unless a MAC is filed anew in another slot meanwhile)."""
        slots = list(slots)
        # The postings that list the slots are now stale; what their checks look at is emptied,
        # so the slots match nothing until they are reused.
        self._by_vendor.mark_stale(set(map(self._vendor_id.__getitem__, slots)))
        for sets, ids, postings in (
            (self._sensor_sets, self._sensors_id, self._by_sensor),
            (self._ssid_sets, self._ssids_id, self._by_ssid),
        ):
            for set_id, holders in Counter(map(ids.__getitem__, slots)).items():
                postings.mark_stale(sets[set_id])
                sets.release(set_id, holders)
        mac, unfile = self._mac, self._slots.remove
        vendor_id, sensors_id, ssids_id = self._vendor_id, self._sensors_id, self._ssids_id
        count, tag, drop, randomized = self._count, self._tag, self._tags.drop, self._randomized
        for slot in slots:
            unfile(mac[slot], slot)
            vendor_id[slot] = sensors_id[slot] = ssids_id[slot] = 0
            if count[slot] == _BIG_COUNT:
                del self._big_counts[slot]
                count[slot] = 0
            drop(tag[slot], randomized[slot])
            tag[slot] = NO_TAG
        self._free.extend(slots)

    def devices_per_ssid(self) -> dict[str, int]:
        """How many devices held here probed for each SSID."""
        return self._per_text(self._ssid_sets, self._ssids_id)

    def devices_per_sensor(self) -> dict[str, int]:
        """How many devices held here each sensor heard."""
        return self._per_text(self._sensor_sets, self._sensors_id)

    def _per_text(self, sets: SetTable, ids: array[int]) -> dict[str, int]:
        """From the sets' holder counts; while a partition leaves, from the devices that stay
        (its devices still hold their sets until they are forgotten)."""
        leaving = self._tags.leaving
        if not any(leaving):
            return sets.holders_per_text()
        tag = self._tag
        held = Counter(ids[slot] for slot, t in enumerate(tag) if t != NO_TAG and not leaving[t])
        return per_text(sets.tuples, held.items())

    def _live_slot(self, key: int) -> int | None:
        """The slot of a device held (not leaving), or None."""
        slot = self._slots.get(key)
        if slot is None or self._tags.leaving[self._tag[slot]]:
            return None
        return slot

    def set_name(self, mac: str, name: str | None, partition: int = 0) -> None:
        """A device's name as `device-names` holds it (None: it has none). A name may come
        before the device's first probe; a name search lists the device from then on."""
        key = _mac_key(mac)
        if key is None:
            return
        if name is None:
            self._names.pop(key, None)
        else:
            self._names[key] = (name, name_key(name), partition)

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
                if count**2 > query.limit * self._live:
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
        order: Order,
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
        self, order: Order, low: int | None, high: int | None, filters: dict[str, _Filter]
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
                slots = [slot for slot in slots if inside(position(slot), low, high)]
        for kind, flt in filters.items():
            if kind != best_kind:
                slots = flt.check(slots)
        return slots

    def _range(self, query: DeviceQuery, sort: SortField) -> tuple[int | None, int | None]:
        """The positions of `sort`'s order that its own filters allow."""
        if sort == "last_seen":
            low = None if query.since is None else ts_value(query.since) * MAC_SPAN
            high = None if query.until is None else (ts_value(query.until) + 1) * MAC_SPAN - 1
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
                lambda vendor, slots: [s for s in slots if vendor_ids[s] == vendor],
            )
        if query.sensor is not None:
            sensor, sets = query.sensor, self._sensors_id
            having = self._sensor_sets.ids_having(sensor)
            sensor_sets = self._sensor_sets.tuples
            filters["sensor"] = _postings_filter(
                self._by_sensor,
                (sensor,),
                lambda s: sets[s] in having,
                lambda slots: [s for s in slots if sets[s] in having],
                lambda held, slots: [s for s in slots if held in sensor_sets[sets[s]]],
            )
        if query.ssid is not None:
            ssid, ids, ssid_sets = query.ssid, self._ssids_id, self._ssid_sets.tuples
            filters["ssid"] = _postings_filter(
                self._by_ssid,
                (ssid,),
                lambda s: ssid in ssid_sets[ids[s]],
                lambda slots: [s for s in slots if ssid in ssid_sets[ids[s]]],
                lambda held, slots: [s for s in slots if held in ssid_sets[ids[s]]],
            )
        return filters

    def _seen_filter(self, query: DeviceQuery) -> _Filter:
        """Last seen within [since, until], to the microsecond, as the last_seen order has it."""
        order = self._orders["last_seen"]
        order.settle()
        low, high = self._range(query, "last_seen")
        first = -VALUE_LIMIT if query.since is None else ts_value(query.since)
        last = VALUE_LIMIT if query.until is None else ts_value(query.until)
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
        count = self._randomized_count if want else self._live - self._randomized_count
        return _Filter(
            lambda s: flags[s] == want,
            lambda slots: [s for s in slots if flags[s] == want],
            lambda: count,
            lambda: True,
        )

    def _vendors_matching(self, wanted: str) -> set[int]:
        needle = fold_text(wanted)
        return {
            at
            for at, vendor in enumerate(self._vendors)
            if vendor is not None and needle in fold_text(vendor)
        }

    def _by_name(
        self,
        query: DeviceQuery,
        order: Order,
        low: int | None,
        high: int | None,
        filters: dict[str, _Filter],
    ) -> Page:
        """A name search: only named devices can match, so they are the candidates."""
        assert query.name is not None
        needle = name_key(query.name)
        named = [mac for mac, (_, key, _) in self._names.items() if needle in key]
        live_slot = self._live_slot
        position = order.position
        seen = [slot for slot in map(live_slot, named) if slot is not None]
        seen = [slot for slot in seen if inside(position(slot), low, high)]
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
        unseen = [mac for mac in named if self._live_slot(mac) is None]
        if query.randomized is not None:
            unseen = [mac for mac in unseen if is_randomized(mac_text(mac)) == query.randomized]
        if query.vendor is not None:
            needle = fold_text(query.vendor)
            unseen = [mac for mac in unseen if needle in fold_text(vendor_for(mac_text(mac)) or "")]
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
            return {"mac": mac_text(mac), "name": self._names[mac][0], "probe_count": 0}
        mac = self._mac[slot]
        named = self._names.get(mac)
        rssi = self._rssi[slot]
        ssids = self._ssid_sets[self._ssids_id[slot]]
        first, last = self._first[slot], self._last[slot]
        return {
            "mac": mac_text(mac),
            "name": None if named is None else named[0],
            "vendor": self._vendors[self._vendor_id[slot]],
            "randomized": bool(self._randomized[slot]),
            "probe_count": self._count_at(slot),
            "first_seen": iso_utc(first),
            "last_seen": iso_utc(last),
            "first_seen_ts": first,
            "last_seen_ts": last,
            "rssi_last_dbm": None if rssi == _NO_SIGNAL else rssi,
            "unique_ssids": len(ssids),
            "ssids": list(ssids),
            "sensors": list(self._sensor_sets[self._sensors_id[slot]]),
        }


def _postings_filter(
    postings: Postings,
    values: Iterable[object],
    keep: Callable[[int], bool],
    check: Check,
    holding: Holding,
) -> _Filter:
    values = tuple(values)
    return _Filter(
        keep,
        check,
        lambda: postings.size(values),
        lambda: postings.is_exact(values),
        lambda: postings.slots(values, holding),
    )


def _mac_key(mac: str) -> int | None:
    """A MAC as the 48-bit number the index keys it by; None for text that is no MAC."""
    if is_canonical_mac(mac):  # how tables key devices: the quick way
        return mac_int(mac)
    try:
        return mac_int(normalize_mac(mac))
    except InvalidMac:
        return None


def _clamped_ts(ts: float) -> float:
    return float(max(_TS_LOW, min(_TS_HIGH, ts))) if ts == ts else _TS_LOW


def _ts_position(ts: float, mac: int) -> int:
    """The position of an indexed capture time (within _TS_LOW.._TS_HIGH: never fails)."""
    return round(ts * 1_000_000) * MAC_SPAN + mac


def _signal_position(rssi: int, mac: int) -> int:
    """The position of a signal as the column holds it."""
    return (MISSING if rssi == _NO_SIGNAL else rssi) * MAC_SPAN + mac


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
