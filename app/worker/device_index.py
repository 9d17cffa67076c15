"""This worker's listing index: one `DeviceIndex` of the devices (and names) in the `devices`
partitions it actively owns, kept current as rows are stored and as partitions come and go.

- Every flush tells it the rows it made durable (`WriteBehind.on_stored`), every applied name
  edit the name (`name_changed`): an index of a partition is as current as its store.
- A rebalance makes it unready (`rebalancing`) until faust says the active tables are recovered
  (`reconcile`, on `app.on_rebalance_complete`): the partitions no longer owned are dropped; an
  owned partition is kept as indexed when its store reached exactly the changelog offset the
  index saw last (nobody else wrote it meanwhile), else dropped and read back from its store.
  Both go in slices of a few milliseconds so the event loop keeps serving (a partition of
  125,000 devices takes ~0.5 s to drop); a drop a new rebalance interrupts is finished by the
  next reconcile, before the index is ready. Its names are read back every time (they
  are few, and another owner may have edited them meanwhile).
- Until every owned partition is indexed, `ready` is False and the worker's share of a listing
  is refused (a 503), never answered partially.

A row stored while its partition is being read back is newer than what the reading finds, so
the reading skips its key.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from app.logic.listing import DeviceIndex, DeviceQuery, Page

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: How long a read-back holds the event loop before it lets others run.
SLICE_S = 0.004


class PartitionStores(Protocol):
    """What reading a partition back needs of the worker's tables."""

    def devices_offset(self, partition: int) -> int | None:
        """The changelog offset the partition's `devices` store reached (None: unknown)."""

    def devices(self, partition: int) -> Iterator[tuple[bytes, Any]]:
        """Every (key, row) of the partition's `devices` store."""

    def names(self, partition: int) -> Iterator[tuple[bytes, str]]:
        """Every (key, name) of the partition's `device-names` store."""


@dataclass
class _Reading:
    """What was stored in a partition while it is being read back: those keys are skipped."""

    devices: set[bytes] = field(default_factory=set)
    names: set[bytes] = field(default_factory=set)


class NotReady(Exception):
    """The index does not hold all of this worker's partitions yet (starting, rebalancing)."""


class WorkerIndex:
    """The index and what it knows about each partition (see the module docstring)."""

    def __init__(self, devices_table: str) -> None:
        self.devices_table = devices_table
        self.index = DeviceIndex()
        #: The partitions fully indexed, and the changelog offset each was indexed through.
        self._indexed: dict[int, int | None] = {}
        #: The partitions this worker actively owns, once the last rebalance is reconciled.
        self._owned: set[int] | None = None
        #: Partitions being read back: the keys (devices, names) stored meanwhile.
        self._reading: dict[int, _Reading] = {}
        #: Partitions being dropped (each already out of every count), oldest first.
        self._removals: list[Iterator[int]] = []
        self._generation = 0
        self._task: asyncio.Task[None] | None = None

    # fed by the worker

    def stored(
        self, table: str, partition: int, rows: dict[bytes, Any], offset: int | None
    ) -> None:
        """A flush's rows of one partition, now durable (a `WriteBehind.on_stored` observer)."""
        if table != self.devices_table:
            return
        upsert, remove = self.index.upsert, self.index.remove
        for key, row in rows.items():
            if row is None:  # erased
                remove(key.decode())
            else:
                upsert(key.decode(), row, partition)
        reading = self._reading.get(partition)
        if reading is not None:
            reading.devices.update(rows)
        if partition in self._indexed:
            self._indexed[partition] = offset

    def name_changed(self, key: bytes, name: str | None, partition: int) -> None:
        """A name set (or forgotten, None) in `device-names`, as its agent applied it."""
        self.index.set_name(key.decode(), name, partition)
        reading = self._reading.get(partition)
        if reading is not None:
            reading.names.add(key)

    def rebalancing(self) -> None:
        """Partitions are being revoked: unready until the next `reconcile`; a read-back under
        way stops (its partition may be given away)."""
        self._generation += 1
        self._owned = None
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def reconcile_soon(
        self,
        owned: set[int],
        stores: PartitionStores,
        serving: Callable[[], Awaitable[Any]] | None = None,
    ) -> asyncio.Task[None]:
        """`reconcile` in a task of its own (the rebalance signal must not wait for it)."""
        if self._task is not None:
            self._task.cancel()
        self._task = asyncio.ensure_future(self.reconcile(owned, stores, serving))
        return self._task

    async def reconcile(
        self,
        owned: set[int],
        stores: PartitionStores,
        serving: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        """Make the index hold exactly the `owned` partitions, as their stores have them.

        Partitions are read back once `serving` is awaited (the worker answers for its keys):
        a million rows read meanwhile slowed each step of faust's last seeks, and held the
        first answer back by seconds. Rows stored before are in the store the read-back reads."""
        self._generation += 1
        generation = self._generation
        self._owned = None
        for partition in self.index.partitions() - owned:
            self._drop(partition)
        for partition in set(self._indexed) - owned:
            del self._indexed[partition]
        if not await self._finish_drops(generation):
            return
        if serving is not None:
            await serving()
            if generation != self._generation:
                return
        started = time.monotonic()
        read = 0
        for partition in sorted(owned):
            reading = self._reading[partition] = _Reading()
            try:
                offset = stores.devices_offset(partition)
                kept = partition in self._indexed and offset is not None
                if not (kept and self._indexed[partition] == offset):
                    self._drop(partition)
                    if not await self._finish_drops(generation):
                        return
                    read += await self._read_back(partition, stores, reading, generation)
                    if generation != self._generation:
                        return
                    self._indexed[partition] = stores.devices_offset(partition)
                await self._read_names(partition, stores, reading, generation)
            finally:
                self._reading.pop(partition, None)
            if generation != self._generation:
                return
        self._owned = set(owned)
        if read:
            logger.info(
                "listing index: %d devices read back in %.1f s; %d held",
                read,
                time.monotonic() - started,
                len(self.index),
            )

    def _drop(self, partition: int) -> None:
        """Begin dropping a partition: its devices and names are out of every count and name
        search at once; `_finish_drops` takes them out of the index."""
        self._indexed.pop(partition, None)
        removal = self.index.removing_partition(partition)
        next(removal)
        self._removals.append(removal)

    async def _finish_drops(self, generation: int) -> bool:
        """Run the drops under way to their end, handing the event loop back every SLICE_S:
        False when a rebalance began meanwhile (the next reconcile goes on with them)."""
        while self._removals:
            async for _ in self._paced(self._removals[0], generation):
                pass
            if generation != self._generation:
                return False
            self._removals.pop(0)
        return True

    async def _read_back(
        self, partition: int, stores: PartitionStores, reading: _Reading, generation: int
    ) -> int:
        """Index every row of a partition's store; how many."""
        upsert = self.index.upsert
        count = 0
        async for key, row in self._sliced(stores.devices(partition), generation):
            if key not in reading.devices:
                upsert(key.decode(), row, partition)
            count += 1
        return count

    async def _read_names(
        self, partition: int, stores: PartitionStores, reading: _Reading, generation: int
    ) -> None:
        """Set the partition's names as its store holds them, forgetting the others."""
        held = self.index.names_in(partition)
        found: set[str] = set()
        async for key, name in self._sliced(stores.names(partition), generation):
            mac = key.decode()
            found.add(mac)
            if key not in reading.names:
                self.index.set_name(mac, name, partition)
        if generation != self._generation:
            return
        for mac in held - found:
            if mac.encode() not in reading.names:
                self.index.set_name(mac, None, partition)

    async def _sliced(
        self, rows: Iterator[tuple[bytes, _T]], generation: int
    ) -> AsyncIterator[tuple[bytes, _T]]:
        """The rows, handing the event loop back every SLICE_S; they stop when a rebalance
        begins (the store may be closed then)."""
        deadline = time.monotonic() + SLICE_S
        for number, pair in enumerate(rows, 1):
            yield pair
            if number % 32 == 0 and time.monotonic() >= deadline:
                await asyncio.sleep(0)
                if generation != self._generation:
                    return
                deadline = time.monotonic() + SLICE_S

    async def _paced(self, steps: Iterable[_T], generation: int) -> AsyncIterator[_T]:
        """Each step (a few milliseconds of work at most), handing the event loop back every
        SLICE_S; they stop when a rebalance begins (the steps left can be taken later)."""
        deadline = time.monotonic() + SLICE_S
        for step in steps:
            yield step
            if time.monotonic() >= deadline:
                await asyncio.sleep(0)
                if generation != self._generation:
                    return
                deadline = time.monotonic() + SLICE_S

    # read by the web

    def ready(self, owned: set[int]) -> bool:
        """Whether the index holds exactly the partitions this worker now actively owns."""
        return self._owned is not None and self._owned == owned

    def query(self, query: DeviceQuery, owned: set[int]) -> Page:
        """This worker's page; NotReady unless the index holds all of `owned`."""
        return self.ready_index(owned).query(query)

    def ready_index(self, owned: set[int]) -> DeviceIndex:
        """The index, to read now; NotReady unless it holds all of `owned`."""
        if not self.ready(owned):
            raise NotReady("this worker's device list is being built; retry shortly")
        return self.index
