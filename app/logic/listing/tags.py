"""The partition of each device in the index, as a 2-byte tag its slot holds (`PartitionTags`),
so a revoked partition's devices can all be set apart at once."""

from __future__ import annotations

from array import array

#: The tag of a free slot.
NO_TAG = 0xFFFF


class PartitionTags:
    """Tags for partitions: each partition has a current tag, which its new devices get, and
    every tag counts its devices (and the randomized ones among them).

    When a partition is revoked (`leave`), its tag is marked leaving at once: its devices are
    out of every count and are never updated again, while they are taken out of the index a
    little at a time; a device of that partition indexed meanwhile gets a fresh tag, so it is
    not taken out with them. A leaving tag is reused once its last device is gone.
    """

    __slots__ = ("_current", "_free", "devices", "leaving", "partition", "randomized")

    def __init__(self) -> None:
        self._current: dict[int, int] = {}
        self._free: list[int] = []
        #: By tag: its partition, 1 while it is leaving, its devices, the randomized ones.
        self.partition: list[int] = []
        self.leaving = bytearray()
        self.devices = array("I")
        self.randomized = array("I")

    def tag_of(self, partition: int) -> int:
        """The tag a device of `partition` gets now."""
        tag = self._current.get(partition)
        if tag is not None:
            return tag
        if self._free:
            tag = self._free.pop()
            self.partition[tag] = partition
        else:
            tag = len(self.partition)
            if tag >= NO_TAG:
                raise OverflowError("too many partitions held or being removed")
            self.partition.append(partition)
            self.leaving.append(0)
            self.devices.append(0)
            self.randomized.append(0)
        self._current[partition] = tag
        return tag

    def add(self, tag: int, randomized: int) -> None:
        self.devices[tag] += 1
        self.randomized[tag] += randomized

    def drop(self, tag: int, randomized: int) -> None:
        """A device of `tag` is gone (a leaving tag with no device left is freed)."""
        devices = self.devices[tag] - 1
        self.devices[tag] = devices
        self.randomized[tag] -= randomized
        if devices == 0 and self.leaving[tag]:
            self.leaving[tag] = 0
            self._free.append(tag)

    def leave(self, partition: int) -> int | None:
        """Set the partition's devices apart: its tag (None: it has none), now leaving."""
        tag = self._current.pop(partition, None)
        if tag is None:
            return None
        if self.devices[tag] == 0:
            self._free.append(tag)
            return None
        self.leaving[tag] = 1
        return tag

    def held(self) -> set[int]:
        """The partitions with devices held (not leaving)."""
        devices = self.devices
        return {partition for partition, tag in self._current.items() if devices[tag]}
