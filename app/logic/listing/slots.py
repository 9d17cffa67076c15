"""Key → id hash tables that store only 4-byte ids (`IdTable`): the key of an id is read from a
sequence its owner keeps anyway. `SlotTable`: MAC → slot, the MACs kept in the index's column."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any

#: An empty entry of a table (no slot is ever this large).
EMPTY = 0xFFFFFFFF
#: A table grows (doubles) above this share of its entries used, shrinks (halves) below
#: _SHRINK_AT; linear probing stays short below about 0.7.
_GROW_AT = 0.7
_SHRINK_AT = 0.15
_MIN_SIZE = 8
#: Multiplied into a MAC to spread neighbouring MACs (the golden ratio, 64 bits).
_MIX = 0x9E3779B97F4A7C15


class IdTable:
    """Which id (a small number: a slot, a set's id) holds a key, in about 6 to 12 bytes an id
    (a dict of ints costs ~110).

    Open addressing with linear probing over `array("I")` tables of ids; an id's key is read
    from `keys` (`keys[id]`, kept by the owner anyway), so no key is stored twice and no Python
    object is kept per id. `spread` maps a key to a well-mixed number (any int: `hash` will
    do for keys whose hash is well mixed). The keys are spread over
    2**bits tables that each grow and shrink on their own: resizing one rehashes only its
    share, so no single insert stalls the event loop for long (~1,000 keys of 1M, with the
    default 1,024 tables). Removal shifts the entries that follow back (no tombstones), so a
    table never fills with dead entries.
    """

    __slots__ = ("_bits", "_keys", "_len", "_spread", "_tables", "_used")

    def __init__(self, keys: Sequence[Any], spread: Callable[[Any], int], bits: int = 10) -> None:
        self._keys = keys
        self._spread = spread
        self._bits = bits
        self._tables = [array("I", [EMPTY]) * _MIN_SIZE for _ in range(1 << bits)]
        self._used = array("I", [0]) * (1 << bits)
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[int]:
        """Every id held, in no particular order."""
        for table in self._tables:
            yield from (found for found in table if found != EMPTY)

    def get(self, key: Any) -> int | None:
        """The id of `key`, or None."""
        spread = self._spread(key)
        table = self._tables[spread & ((1 << self._bits) - 1)]
        mask = len(table) - 1
        at = (spread >> self._bits) & mask
        keys = self._keys
        while True:
            found = table[at]
            if found == EMPTY:
                return None
            if keys[found] == key:
                return found
            at = (at + 1) & mask

    def add(self, key: Any, at_id: int) -> None:
        """File `at_id` (whose key `keys` already holds) under `key`, not held yet."""
        spread = self._spread(key)
        number = spread & ((1 << self._bits) - 1)
        table = self._tables[number]
        used = self._used[number] + 1
        if used > _GROW_AT * len(table):
            table = self._resized(number, len(table) * 2)
        _place(table, at_id, spread >> self._bits)
        self._used[number] = used
        self._len += 1

    def remove(self, key: Any, at_id: int | None = None) -> int | None:
        """Unfile `key` (only if filed under `at_id`, when given): its id, or None when it was
        not held there."""
        spread, bits = self._spread(key), self._bits
        number = spread & ((1 << bits) - 1)
        table = self._tables[number]
        mask = len(table) - 1
        at = (spread >> bits) & mask
        keys = self._keys
        while True:
            found = table[at]
            if found == EMPTY:
                return None
            if keys[found] == key:
                break
            at = (at + 1) & mask
        if at_id is not None and found != at_id:
            return None
        # Shift back each entry after the gap that may not sit past it (Knuth's algorithm R).
        table[at] = EMPTY
        gap, probe, spread_of = at, at, self._spread
        while True:
            probe = (probe + 1) & mask
            moved = table[probe]
            if moved == EMPTY:
                break
            home = (spread_of(keys[moved]) >> bits) & mask
            if (probe - home) & mask >= (probe - gap) & mask:
                table[gap] = moved
                table[probe] = EMPTY
                gap = probe
        used = self._used[number] - 1
        self._used[number] = used
        self._len -= 1
        if len(table) > _MIN_SIZE and used < _SHRINK_AT * len(table):
            self._resized(number, len(table) // 2)
        return found

    def _resized(self, number: int, size: int) -> array[int]:
        """Table `number` rehashed into `size` entries."""
        keys, spread, bits = self._keys, self._spread, self._bits
        table = array("I", [EMPTY]) * size
        for found in self._tables[number]:
            if found != EMPTY:
                _place(table, found, spread(keys[found]) >> bits)
        self._tables[number] = table
        return table

    def nbytes(self) -> int:
        """The bytes its tables hold (what it costs, less ~90 bytes a table for the objects)."""
        return sum(len(table) for table in self._tables) * 4


class SlotTable(IdTable):
    """MAC → slot of the index, the MACs read from its column (`macs[slot]`)."""

    __slots__ = ()

    def __init__(self, macs: array[int]) -> None:
        super().__init__(macs, _spread_mac, _SLOT_BITS)

    def get(self, key: Any) -> int | None:
        """The slot of MAC `key`, or None (on the index's hot path: `_spread_mac` inlined)."""
        spread: int = ((key * _MIX) & _LOW_64) >> 24
        table = self._tables[spread & _SLOT_MASK]
        mask = len(table) - 1
        at = (spread >> _SLOT_BITS) & mask
        keys = self._keys
        while True:
            found = table[at]
            if found == EMPTY:
                return None
            if keys[found] == key:
                return found
            at = (at + 1) & mask

    def add(self, key: Any, at_id: int) -> None:
        """File slot `at_id` (whose MAC the column already holds) under MAC `key`."""
        spread: int = ((key * _MIX) & _LOW_64) >> 24
        number = spread & _SLOT_MASK
        table = self._tables[number]
        used = self._used[number] + 1
        if used > _GROW_AT * len(table):
            table = self._resized(number, len(table) * 2)
        _place(table, at_id, spread >> _SLOT_BITS)
        self._used[number] = used
        self._len += 1


_SLOT_BITS = 10
_SLOT_MASK = (1 << _SLOT_BITS) - 1
_LOW_64 = (1 << 64) - 1


def _spread_mac(mac: int) -> int:
    """A MAC's bits mixed: the high bits of a 64-bit multiplicative hash (neighbouring MACs,
    one vendor's or counted up, land far apart)."""
    return ((mac * _MIX) & _LOW_64) >> 24


def _place(table: array[int], slot: int, spread: int) -> None:
    mask = len(table) - 1
    at = spread & mask
    while table[at] != EMPTY:
        at = (at + 1) & mask
    table[at] = slot
