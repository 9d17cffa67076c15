"""The building blocks of the index: an order of devices (a one-level B-tree of packed slots)
and postings lists (the devices that have a value)."""

from __future__ import annotations

import struct
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from itertools import compress

from app.logic.listing.positions import MAC_SPAN, MISSING, inside

#: A leaf of an order is split above this many devices, and merged into its right neighbour
#: below MIN_LEAF. A query sorts the leaves it reads, so this bounds a first page's work.
MAX_LEAF = 512
MIN_LEAF = MAX_LEAF // 8
#: How many devices an order other than last_seen lets wait before it moves them. It bounds
#: the work of that order's first query after a busy while (~2-4 µs a device: ~0.1 s at most).
BACKLOG = 32_768
#: How many leaves `discarding` filters between two yields (~1 ms at most).
LEAVES_A_STEP = 8
_BELOW_ALL = MISSING * MAC_SPAN - 1


class Order:
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

    __slots__ = (
        "_bounds",
        "_holding",
        "_leaves",
        "_pending",
        "_rebuilds",
        "_top",
        "backlog",
        "position",
    )

    def __init__(self, position: Callable[[int], int], backlog: int = 0) -> None:
        self.position = position
        self._bounds: list[int] = [_BELOW_ALL]
        self._leaves: list[bytearray] = [bytearray()]
        self._top = _BELOW_ALL  # at least the highest position ever added
        self.backlog = backlog
        #: Slots whose moves wait: where each is filed now (None: not yet filed).
        self._pending: dict[int, int | None] = {}
        #: While slots are being discarded a few leaves at a time, small leaves are not merged
        #: (a merge would shift the leaves not yet looked at); `_rebuilds` tells it to restart.
        self._holding = 0
        self._rebuilds = 0

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
            after = bisect_right(bounds, old)
            # Unless `old` ties with its leaf's bound: the slot may then be in the leaf before.
            if after == bisect_right(bounds, new) and (after == 1 or bounds[after - 1] != old):
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
        self._merge_small()

    def _merge_small(self) -> None:
        """Merge every leaf below MIN_LEAF into its right neighbour (not while discarding)."""
        if self._holding:
            return
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

    def discard_many(self, stay: bytearray) -> None:
        """Unfile every slot whose flag in `stay` is 0, at once."""
        for _ in self.discarding(stay):
            pass

    def discarding(self, stay: bytearray) -> Iterator[None]:
        """Unfile every slot whose flag in `stay` is 0 (slots past its end stay), a few leaves
        at a time: it yields between them, and the order may change meanwhile.

        The slots to unfile must not be moved meanwhile (their devices are leaving). Taking
        slots out of a leaf never breaks its bounds; leaves are merged only at the end, since
        a merge would shift the leaves not yet filtered (a split only makes one be filtered
        twice, and a rebuild restarts the pass).
        """
        pending = self._pending
        for slot in [slot for slot in pending if slot < len(stay) and not stay[slot]]:
            del pending[slot]  # not yet filed where it waits: nothing else to take out
        self._holding += 1
        try:
            at, rebuilds = 0, self._rebuilds
            while True:
                if rebuilds != self._rebuilds:  # checked first: a rebuild may leave fewer leaves
                    at, rebuilds = 0, self._rebuilds
                if at >= len(self._leaves):
                    break
                slots = _unpacked(self._leaves[at])
                if slots and max(slots) >= len(stay):
                    stay.extend(b"\x01" * (max(slots) + 1 - len(stay)))
                kept = list(compress(slots, map(stay.__getitem__, slots)))
                if len(kept) < len(slots):
                    self._leaves[at] = _packed(kept)
                at += 1
                if at % LEAVES_A_STEP == 0:
                    yield
        finally:
            self._holding -= 1
        self._merge_small()

    def discard(self, slot: int, position: int, merge: bool = True) -> None:
        bounds = self._bounds
        at = bisect_right(bounds, position) - 1
        packed = _SLOT.pack(slot)
        leaf = self._leaves[at]
        found = _find(leaf, packed)
        while found < 0 and at > 0 and bounds[at] == position:
            at -= 1  # a tie at a bound (see `_first_leaf`): the slot may be in the leaf before
            leaf = self._leaves[at]
            found = _find(leaf, packed)
        if found < 0:
            raise KeyError(slot)
        del leaf[found : found + _SLOT.size]
        if (
            merge
            and not self._holding
            and len(leaf) < _MIN_LEAF_BYTES
            and at + 1 < len(self._leaves)
        ):
            self._merge(at)

    def _rebuild(self, ordered: list[int]) -> None:
        """Leaves three quarters full, from every slot in order."""
        self._rebuilds += 1
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

    def _first_leaf(self, low: int) -> int:
        """The first leaf that may hold a position ≥ `low`.

        Positions are unique but for one case: a device filed anew while its old slot leaves
        with a revoked partition has both slots at one position for a while. A split or a
        rebuild between the two leaves that leaf's bound equal to the position of a slot of
        the leaf before, so a leaf holds positions from its bound up to the next one, both
        included.
        """
        return max(0, bisect_left(self._bounds, low) - 1)

    def count_within(self, low: int | None, high: int | None) -> int:
        """How many positions lie within [low, high] (None: unbounded)."""
        first = 0 if low is None else self._first_leaf(low)
        last = len(self._leaves) - 1 if high is None else self._leaf_of(high)
        if first == last:
            return len(self._within(first, low, high))
        inner = sum(map(len, self._leaves[first + 1 : last])) // _SLOT.size
        return len(self._within(first, low, None)) + inner + len(self._within(last, None, high))

    def slots_within(self, low: int | None, high: int | None) -> list[int]:
        """The slots whose positions lie within [low, high], in no particular order."""
        first = 0 if low is None else self._first_leaf(low)
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
        return [slot for slot in slots if inside(position(slot), low, high)]

    def walk(
        self, descending: bool, after: int | None, low: int | None, high: int | None
    ) -> Iterator[tuple[int, int]]:
        """(position, slot) in order, strictly after `after`, within [low, high]."""
        if after is not None:
            if descending:
                high = after - 1 if high is None else min(high, after - 1)
            else:
                low = after + 1 if low is None else max(low, after + 1)
        first = 0 if low is None else self._first_leaf(low)
        last = len(self._leaves) - 1 if high is None else self._leaf_of(high)
        leaves = range(last, first - 1, -1) if descending else range(first, last + 1)
        position = self.position
        for at in leaves:
            slots = _unpacked(self._leaves[at])
            ordered = sorted([(position(slot), slot) for slot in slots], reverse=descending)
            for pair in ordered:
                if inside(pair[0], low, high):
                    yield pair


_SLOT = struct.Struct("I")  # a slot as `array("I")` and `memoryview.cast("I")` hold it
_LEAF_BYTES = MAX_LEAF * _SLOT.size
_MIN_LEAF_BYTES = MIN_LEAF * _SLOT.size


def _find(leaf: bytearray, packed: bytes) -> int:
    """Where a packed slot starts in a leaf, or -1."""
    found = leaf.find(packed)
    while found > 0 and found % _SLOT.size:  # bytes straddling two slots: look further
        found = leaf.find(packed, found + 1)
    return found


def _unpacked(leaf: bytes | bytearray) -> list[int]:
    with memoryview(leaf) as view, view.cast("I") as slots:
        return slots.tolist()


def _packed(slots: list[int]) -> bytearray:
    return bytearray(array("I", slots).tobytes())


class Postings:
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

    def slots(self, values: Iterable[object], holding: Holding) -> list[int]:
        """The slots of the devices that have one of `values`. A stale list is rewritten with
        the slots that still hold its value (`holding(value, slots)`): a slot reused by a
        device with another of the values must stay out of it, or it would be listed twice."""
        found: list[int] = []
        for value in values:
            held = self._slots.get(value)
            if held is None:
                continue
            if value in self._stale:
                self._stale.discard(value)
                held = array("I", holding(value, list(dict.fromkeys(held))))
                if held:
                    self._slots[value] = held
                else:
                    del self._slots[value]
            found += held.tolist()
        return found


Check = Callable[[list[int]], list[int]]
Holding = Callable[[object, list[int]], list[int]]
