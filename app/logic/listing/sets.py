"""Sets of texts shared by many devices (the SSIDs a device probed for, the sensors that heard
it), each kept once and named by a small number (`SetTable`)."""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable

from app.logic.listing.slots import IdTable

#: The id of the empty set: always there, never counted or freed.
EMPTY = 0


class SetTable:
    """Distinct tuples of texts, each stored once under an id, counted by how many devices
    hold it.

    A device keeps the id (4 bytes) instead of its own tuple: most devices probe for the same
    few networks, or for none. A set's id is freed when no device holds it any more (a
    device's set grows over time, so sets left behind would pile up) and reused for the next
    new set. Texts are interned: each is stored once however many sets hold it.
    """

    __slots__ = ("_free", "_ids", "_refs", "tuples")

    def __init__(self) -> None:
        #: The sets by id (a freed id holds the empty one): read it, never write it.
        self.tuples: list[tuple[str, ...]] = [()]
        #: Set → id for every set held (not the empty one); it keeps only the ids.
        self._ids = IdTable(self.tuples, hash, bits=6)
        self._refs = array("I", (0,))
        self._free = array("I")

    def __getitem__(self, set_id: int) -> tuple[str, ...]:
        return self.tuples[set_id]

    def __len__(self) -> int:
        """How many distinct sets are held (the empty one not counted)."""
        return len(self._ids)

    def acquire(self, texts: tuple[str, ...] | list[str]) -> int:
        """The id of a set, now held once more (created if no device held it)."""
        if not texts:
            return EMPTY
        key = tuple(texts)
        found = self._ids.get(key)
        if found is not None:
            self._refs[found] += 1
            return found
        key = tuple(sys.intern(text) for text in key)
        if self._free:
            found = self._free.pop()
            self.tuples[found] = key
            self._refs[found] = 1
        else:
            found = len(self.tuples)
            self.tuples.append(key)
            self._refs.append(1)
        self._ids.add(key, found)
        return found

    def release(self, set_id: int, holders: int = 1) -> None:
        """`holders` devices hold the set no more: forgotten when they were the last."""
        if set_id == EMPTY:
            return
        refs = self._refs[set_id] - holders
        if refs < 0:
            raise ValueError(f"set {set_id} released more often than acquired")
        self._refs[set_id] = refs
        if refs == 0:
            self._ids.remove(self.tuples[set_id], set_id)
            self.tuples[set_id] = ()
            self._free.append(set_id)

    def ids_having(self, text: str) -> set[int]:
        """The ids of the sets that hold `text`."""
        return {at for at, texts in enumerate(self.tuples) if text in texts}

    def holders(self, set_id: int) -> int:
        """How many devices hold the set."""
        return self._refs[set_id]

    def holders_per_text(self) -> dict[str, int]:
        """How many devices hold each text, in whichever of their sets."""
        return per_text(self.tuples, enumerate(self._refs))


def per_text(tuples: list[tuple[str, ...]], holders: Iterable[tuple[int, int]]) -> dict[str, int]:
    """Per text, the sum of the holders of the sets that hold it ((set id, holders) pairs)."""
    counts: dict[str, int] = {}
    get = counts.get
    for set_id, held in holders:
        if held:
            for text in tuples[set_id]:
                counts[text] = get(text, 0) + held
    return counts
