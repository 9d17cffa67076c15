"""The compact structures under the listing index: the key → id hash tables (`IdTable`,
`SlotTable`), the refcounted set table (`SetTable`), the partition tags (`PartitionTags`) and
an order's removal leaf by leaf (`Order.discarding`), each checked against a plain dict,
Counter or sort doing the same."""

from __future__ import annotations

from array import array
from collections import Counter
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.logic.listing import MAC_SPAN
from app.logic.listing import order as listing_order
from app.logic.listing.order import Order
from app.logic.listing.sets import EMPTY, SetTable
from app.logic.listing.slots import IdTable, SlotTable
from app.logic.listing.tags import PartitionTags

# --- IdTable / SlotTable --------------------------------------------------------------------


class Keys:
    """An owner's keys by id, as the index's MAC column is: ids are handed out and reused."""

    def __init__(self) -> None:
        self.by_id: list[int] = []
        self.free: list[int] = []

    def new_id(self, key: int) -> int:
        if self.free:
            at = self.free.pop()
            self.by_id[at] = key
            return at
        self.by_id.append(key)
        return len(self.by_id) - 1


KEY_OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["add", "add", "remove", "remove_other_id"]), st.integers(0, 40)),
    min_size=10,
    max_size=300,
)


def check_against(table: IdTable, model: dict[int, int], universe: range) -> None:
    for key in universe:
        assert table.get(key) == model.get(key), key
    assert len(table) == len(model)
    assert sorted(table) == sorted(model.values())


@settings(max_examples=300, deadline=None)
@given(
    KEY_OPERATIONS,
    st.sampled_from([lambda k: k, lambda k: k % 3, lambda k: k * 7919, lambda k: -7 * k - 1]),
)
def test_an_id_table_finds_what_a_dict_finds(operations: list[Any], spread: Any) -> None:
    """Few tables (bits=1) and spreads that collide (k % 3: long runs of probing that wrap
    around) exercise growing, shrinking and the shift back after a removal; a spread may be
    negative (as `hash` is)."""
    keys = Keys()
    table = IdTable(keys.by_id, spread, bits=1)
    model: dict[int, int] = {}
    for kind, key in operations:
        if kind == "add" and key not in model:
            model[key] = keys.new_id(key)
            table.add(key, model[key])
        elif kind == "remove":
            at = model.pop(key, None)
            assert table.remove(key) == at
            if at is not None:
                keys.free.append(at)
        elif kind == "remove_other_id" and key in model:
            assert table.remove(key, model[key] + 1) is None, "filed under another id: kept"
        check_against(table, model, range(41))


def test_an_id_table_grows_and_shrinks_back() -> None:
    keys = Keys()
    table = IdTable(keys.by_id, lambda k: k * 0x9E3779B97F4A7C15 >> 7, bits=2)
    empty = table.nbytes()
    for key in range(5_000):
        table.add(key, keys.new_id(key))
    grown = table.nbytes()
    assert 5_000 * 4 / 0.7 <= grown <= 5_000 * 4 / 0.7 * 2 + empty, "between 0.35 and 0.7 full"
    for key in range(5_000):
        assert table.remove(key) == key
    assert len(table) == 0 and table.nbytes() == empty
    assert all(table.get(key) is None for key in range(5_000))


def test_a_slot_table_keys_slots_by_the_macs_of_a_column() -> None:
    macs = array("Q", [0x02_00_00_00_00_00 + (n << 8) for n in range(3_000)])  # counted up
    slots = SlotTable(macs)
    for slot, mac in enumerate(macs):
        slots.add(mac, slot)
    assert [slots.get(mac) for mac in macs] == list(range(3_000))
    assert slots.get(0x02_00_00_00_00_01) is None
    assert slots.remove(macs[10], 11) is None and slots.get(macs[10]) == 10
    assert slots.remove(macs[10], 10) == 10 and slots.get(macs[10]) is None
    macs[10] = 0xF0_18_98_00_00_01  # the slot reused for another device
    slots.add(macs[10], 10)
    assert slots.get(0xF0_18_98_00_00_01) == 10 and len(slots) == 3_000
    assert slots.nbytes() <= 3_000 * 4 / 0.35 + 1024 * 8 * 4


# --- SetTable -------------------------------------------------------------------------------

SETS = st.lists(st.sampled_from(["home", "eduroam", "Café", "x"]), max_size=3, unique=True)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), SETS), max_size=80))
def test_a_set_table_holds_what_its_devices_hold(operations: list[tuple[bool, list[str]]]) -> None:
    """Devices acquire sets and release them again; the table against a Counter of tuples."""
    table = SetTable()
    held: list[int] = []  # the ids devices hold, one entry a device
    model: Counter[tuple[str, ...]] = Counter()
    most_at_once = 0
    for acquire, texts in operations:
        if acquire or not held:
            set_id = table.acquire(texts)
            assert table[set_id] == tuple(texts)
            held.append(set_id)
            model[tuple(texts)] += 1
        else:
            set_id = held.pop(len(texts) % len(held))
            model[table[set_id]] -= 1
            table.release(set_id)
        distinct = {texts for texts, holders in model.items() if holders and texts}
        most_at_once = max(most_at_once, len(distinct))
        assert len(table) == len(distinct)
        for set_id in held:
            assert table.holders(set_id) == model[table[set_id]] or table[set_id] == ()
        ids = {table[set_id]: set_id for set_id in held}
        assert len(ids) == len(set(held)), "one id a set, one set an id"
    assert len(table.tuples) <= most_at_once + 1, "freed ids are reused"


def test_a_set_is_freed_with_its_last_holder_and_its_id_reused() -> None:
    table = SetTable()
    home = table.acquire(["home"])
    assert table.acquire(("home",)) == home and table.holders(home) == 2
    table.release(home)
    assert table[home] == ("home",), "one device still holds it"
    table.release(home)
    assert len(table) == 0 and table[home] == ()
    both = table.acquire(["home", "eduroam"])
    assert both == home, "the freed id is the next one given"
    assert table.acquire(["home"]) != both
    assert table.acquire([]) == EMPTY and table[EMPTY] == ()
    table.release(EMPTY)  # the empty set is never counted
    assert table.ids_having("home") == {both, table.acquire(["home"])}
    with pytest.raises(ValueError):
        table.release(both, 2)


def test_texts_are_kept_once_however_many_sets_hold_them() -> None:
    table = SetTable()
    first = table.acquire(["".join(["net", "work"]), "a"])
    second = table.acquire(["".join(["net", "work"]), "b"])
    assert table[first][0] is table[second][0]


# --- PartitionTags --------------------------------------------------------------------------


def test_a_leaving_partition_keeps_its_tag_until_its_last_device_is_gone() -> None:
    tags = PartitionTags()
    three = tags.tag_of(3)
    assert tags.tag_of(3) == three and tags.partition[three] == 3
    tags.add(three, 1)
    tags.add(three, 0)
    seven = tags.tag_of(7)
    tags.add(seven, 0)
    assert tags.held() == {3, 7} and tags.randomized[three] == 1

    assert tags.leave(3) == three and tags.leaving[three] == 1
    assert tags.held() == {7}
    fresh = tags.tag_of(3)
    assert fresh not in (three, seven), "a device of 3 indexed meanwhile is not leaving"
    tags.add(fresh, 0)
    assert tags.held() == {3, 7}
    tags.drop(three, 1)
    tags.drop(three, 0)
    assert tags.leaving[three] == 0
    assert tags.tag_of(9) == three, "freed once empty, and reused"
    assert tags.leave(8) is None
    assert tags.leave(9) is None, "a tag with no device is freed at once"


# --- Order.discarding -----------------------------------------------------------------------

ORDER_CHANGES = st.lists(
    st.tuples(
        st.integers(0, 3),  # steps of the removal taken first
        st.one_of(
            st.tuples(st.just("move"), st.integers(0, 40), st.integers(0, 30)),
            st.tuples(st.just("add"), st.integers(0, 30)),
            st.tuples(st.just("drop"), st.integers(0, 40)),
            st.tuples(st.just("settle")),
        ),
    ),
    max_size=30,
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.integers(0, 30), min_size=1, max_size=40),
    st.sets(st.integers(0, 39)),
    ORDER_CHANGES,
    st.sampled_from([0, 2]),
)
@example(  # a rebuild that leaves fewer leaves than the pass had reached ended it early
    values=[0, 0, 1] + [0] * 8,
    leaving={0, 1, 2},
    changes=[(0, ("add", 0)), (2, ("move", 1, 0)), (3, ("move", 0, 0))],
    backlog=2,
)
def test_discarding_leaf_by_leaf_while_the_order_changes_keeps_exactly_the_others(
    values: list[int], leaving: set[int], changes: list[Any], backlog: int
) -> None:
    """Slots move, arrive and go (splits, merges, a rebuild when many wait) between the steps
    of a removal: afterwards the order holds every other slot, in order, and nothing else."""
    sizes = {"_LEAF_BYTES": 3 * 4, "_MIN_LEAF_BYTES": 1 * 4, "LEAVES_A_STEP": 1}
    before = {name: getattr(listing_order, name) for name in sizes}
    for name, size in sizes.items():
        setattr(listing_order, name, size)
    try:
        column = list(values)
        order = Order(lambda slot: column[slot] * MAC_SPAN + slot, backlog)
        for slot in range(len(column)):
            order.insert(slot, order.position(slot))
        order.settle()
        held = set(range(len(column)))
        leaving &= held
        stay = bytearray(b"\x01") * len(column)
        for slot in leaving:
            stay[slot] = 0
        steps = order.discarding(stay)
        for skip, change in changes:
            for _ in range(skip):
                next(steps, None)
            others = sorted(held - leaving)
            if change[0] == "move" and others:
                slot = others[change[1] % len(others)]
                old = order.position(slot)
                column[slot] = change[2]
                order.move(slot, old, order.position(slot))
            elif change[0] == "add":
                column.append(change[1])
                held.add(len(column) - 1)
                order.insert(len(column) - 1, order.position(len(column) - 1))
            elif change[0] == "drop" and others:
                slot = others[change[1] % len(others)]
                order.remove(slot, order.position(slot))
                held.discard(slot)
            elif change[0] == "settle":
                order.settle()
        for _ in steps:
            pass
        order.settle()
        kept = sorted(held - leaving, key=order.position)
        assert [slot for _, slot in order.walk(False, None, None, None)] == kept
        assert order.count_within(None, None) == len(kept)
    finally:
        for name, size in before.items():
            setattr(listing_order, name, size)


@pytest.mark.parametrize("moved", [1, 3], ids=["a settle that merges", "a settle that rebuilds"])
def test_leaves_not_yet_filtered_are_not_skipped_when_the_leaves_change(moved: int) -> None:
    """Twelve slots in six leaves of two; the first six leave. After two leaves are filtered,
    slots that stay move and the order settles: merging the emptied leaves, or rebuilding
    (three moves waiting, with a backlog of two), must not hide slots 4 and 5 from the pass."""
    sizes = {"_LEAF_BYTES": 3 * 4, "_MIN_LEAF_BYTES": 1 * 4, "LEAVES_A_STEP": 1}
    before = {name: getattr(listing_order, name) for name in sizes}
    for name, size in sizes.items():
        setattr(listing_order, name, size)
    try:
        column = list(range(12))
        order = Order(lambda slot: column[slot] * MAC_SPAN + slot, backlog=2)
        for slot in range(12):
            order.insert(slot, order.position(slot))
        order.settle()
        stay = bytearray([0] * 6 + [1] * 6)
        steps = order.discarding(stay)
        next(steps), next(steps)
        for slot in range(11, 11 - moved, -1):
            order.move(slot, order.position(slot), order.position(slot))
        order.settle()
        for _ in steps:
            pass
        assert [slot for _, slot in order.walk(False, None, None, None)] == list(range(6, 12))
    finally:
        for name, size in before.items():
            setattr(listing_order, name, size)
