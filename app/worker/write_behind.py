"""Write-behind state: fold rows in memory, write each changed row once per flush.

faust writes a table row on every assignment: one RocksDB put, one changelog record with its own
futures, and one more put when the broker acknowledges it (~75 µs a write). A fold that writes
per probe is then bound by table writes, not by probes. Here, as in Kafka Streams' record cache
and Quix Streams' checkpoints, an agent stages rows in memory and holds its events; a flush, once
per interval or when enough is staged, makes them durable in an order that keeps every copy of
the state exact:

1. the messages the fold derived from the changed rows are produced and acknowledged, then the
   rows themselves go to the table's changelog (one produce batch per partition), and the flush
   waits for the broker to acknowledge all (derived messages first: a row in the changelog makes
   a restarted worker skip the records behind it, so it would never derive them again). Rows of
   a table tracked as `leading` are acknowledged before any other table's are produced: a table
   tallied from what another table's fold reports (the activity counters) must never fall
   behind it, as a record its source row skips is never reported again;
2. only then are the rows written to the local RocksDB, in one WriteBatch per partition that
   also records the changelog offset they reach (faust's persisted offset, where recovery starts);
3. only then are the held events acknowledged, so a committed offset never runs ahead of state.

A crash before (2) leaves a local store that lacks rows the changelog has; faust's recovery reads
them back from the persisted offset. A crash before (3) re-delivers events already folded; the
folds skip them by the offset each row keeps. The local store never holds a row the changelog
does not, so a worker rebuilding or standing by for a partition sees exactly what its owner saw.

Reads see staged rows first (this generation, then the one being flushed, then the store), so an
agent and the HTTP API on this worker see their own writes at once.

A row staged as None is a deletion (an erased or forgotten device): a tombstone in the changelog
(so compaction drops the key, and a worker rebuilding the partition never sees it again), a
delete in the store, and None to the observers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
import rocksdict
from faust.types import AppT, EventT, TableT

from app.worker.pacing import Pacer

logger = logging.getLogger(__name__)

#: Rows (or events) between two looks at the clock in a flush's loops (`Pacer`).
PACE_EVERY = 256
#: How long a failed flush waits before it tries again (the broker may be restarting).
RETRY_AFTER_S = 1.0

#: (topic, key, value): a None value is a tombstone.
Message = tuple[str, bytes, bytes | None]
#: Where a test may have a flush kill its worker: half the changelog written, all of it, or the
#: local store too (events still not acknowledged).
CrashPoint = Literal["flush-half-produced", "flush-produced", "flush-stored"]
#: Rows staged per (table name, partition), and the generation's scratch.
StagedRows = dict[tuple[str, int], dict[bytes, Any]]
#: Given a generation about to be flushed, the messages to produce with its changelog records.
#: It is handed the flush's `Pacer`: a long derivation lets the event loop run as it goes.
Deriver = Callable[[StagedRows, dict[str, Any], Pacer], Awaitable[Iterable[Message]]]
#: Told of rows once they are in the changelog and the store: (table name, partition, key → row,
#: the changelog offset they reach, None if not known).
StoredObserver = Callable[[str, int, dict[bytes, Any], int | None], None]


@dataclass
class _Generation:
    """What was staged since the last flush began."""

    #: (table name, partition) → key → row (a JSON-able dict, mutable until the flush begins).
    rows: dict[tuple[str, int], dict[bytes, Any]] = field(default_factory=lambda: defaultdict(dict))
    #: Messages derived from the rows: (topic, key, value), produced with the changelog.
    messages: list[Message] = field(default_factory=list)
    #: Events to acknowledge once everything above is durable.
    held: list[EventT[Any]] = field(default_factory=list)
    #: What the folds keep about this generation for themselves (see `scratch`).
    scratch: dict[str, Any] = field(default_factory=dict)
    staged: int = 0
    #: Of those, the rows that count toward `max_staged`.
    counted: int = 0

    def __bool__(self) -> bool:
        # A fold may note what it changed in the scratch only, for its deriver to stage.
        return bool(self.rows or self.messages or self.held or self.scratch)


@dataclass
class _Flushing:
    """A generation being flushed: rows encoded once (a slice at a time), read back from these
    bytes meanwhile, or from a copy of the row while it is not encoded yet."""

    rows: StagedRows
    #: A row's JSON, None for a deletion.
    encoded: dict[tuple[str, int], dict[bytes, bytes | None]]
    messages: list[Message]
    held: list[EventT[Any]]
    #: The flush hands the event loop back every few milliseconds as it goes.
    pacer: Pacer = field(default_factory=Pacer)

    def copy_of(self, slot: tuple[str, int], key: bytes) -> tuple[bool, Any]:
        """(found, a fresh copy of the row) for a key of this generation."""
        encoded = self.encoded.get(slot)
        if encoded is not None and key in encoded:
            raw = encoded[key]
            return True, None if raw is None else orjson.loads(raw)
        rows = self.rows.get(slot)
        if rows is not None and key in rows:
            return True, orjson.loads(orjson.dumps(rows[key]))
        return False, None


class WriteBehind:
    """The write-behind cache of a worker, for the tables registered with `track`."""

    def __init__(
        self, app: AppT, *, max_staged: int, interval_s: float, crash_at: CrashPoint | None = None
    ) -> None:
        self.app = app
        #: Tests only (PROBEWATCH_TEST_CRASH_AT): die by SIGKILL at this point of a flush.
        self.crash_at = crash_at
        self.max_staged = max_staged
        self.interval_s = interval_s
        self._tables: dict[str, TableT[Any, Any]] = {}
        self._leading: set[str] = set()
        self._uncounted: set[str] = set()
        self._generation = _Generation()
        self._flushing: _Flushing | None = None
        self._lock = asyncio.Lock()
        self._loop_task: asyncio.Task[None] | None = None
        self._derivers: list[Deriver] = []
        self._observers: list[StoredObserver] = []
        self.flushes = 0

    def track(
        self, table: TableT[Any, Any], *, leading: bool = False, counted: bool = True
    ) -> None:
        """Stage rows of `table` (a faust Table with bytes keys, JSON values, RocksDB store).

        A `leading` table's rows reach its changelog before the other tables' rows are sent.
        Rows of a table not `counted` do not bring the next flush forward: they come one for
        one with rows of a table that does (a device's history with the device's row), and
        counting both would halve the rows a flush writes per table, and double the flushes.
        """
        self._tables[table.name] = table
        if leading:
            self._leading.add(table.name)
        if not counted:
            self._uncounted.add(table.name)

    def derive(self, deriver: Deriver) -> None:
        """Call `deriver` on each generation as its flush begins; produce what it returns."""
        self._derivers.append(deriver)

    def on_stored(self, observer: StoredObserver) -> None:
        """Call `observer` with each (table, partition)'s rows of a generation once they are
        durable (changelog and store), before its events are acknowledged. The rows are the
        objects the folds staged, no longer changed by them: read them, do not keep or change
        them. It runs inside the flush, so it must be quick; an error in it is logged and the
        flush goes on."""
        self._observers.append(observer)

    def scratch(self) -> dict[str, Any]:
        """A dict that belongs to the current generation: what a fold notes here is handed to
        its deriver with the rows it staged, and dropped with them. A deriver may stage rows of
        its own into the generation's rows it is handed (a row encoded once per flush)."""
        return self._generation.scratch

    # Reading and staging ----------------------------------------------------------------------

    def get(self, table: TableT[Any, Any], partition: int | None, key: bytes) -> Any | None:
        """The row as this worker last staged or stored it; a staged row is the live object.

        Without a partition, every partition this worker holds is looked in (the HTTP API's
        case: the key hashes to one of them).
        """
        if partition is None:
            return self._get_anywhere(table, key)
        slot = (table.name, partition)
        staged = self._generation.rows.get(slot)
        if staged is not None and key in staged:
            return staged[key]
        return self.committed(table, partition, key)

    def committed(self, table: TableT[Any, Any], partition: int, key: bytes) -> Any | None:
        """The row as it was before this generation: being flushed, or in the store. A fresh
        object each time."""
        flushing = self._flushing
        if flushing is not None:
            found, row = flushing.copy_of((table.name, partition), key)
            if found:
                return row
        raw = _stored(table).get(partition, key)
        return None if raw is None else orjson.loads(raw)

    def _get_anywhere(self, table: TableT[Any, Any], key: bytes) -> Any | None:
        for (name, _), rows in self._generation.rows.items():
            if name == table.name and key in rows:
                return rows[key]
        flushing = self._flushing
        if flushing is not None:
            for slot in flushing.rows:
                if slot[0] == table.name:
                    found, row = flushing.copy_of(slot, key)
                    if found:
                        return row
        raw = _stored(table).get(None, key)
        return None if raw is None else orjson.loads(raw)

    def stage(self, table: TableT[Any, Any], partition: int, key: bytes, row: Any) -> None:
        """Make `row` the new value of `key` (None deletes it); it reaches the changelog and
        store at the flush."""
        rows = self._generation.rows[(table.name, partition)]
        if key not in rows:
            self._generation.staged += 1
            if table.name not in self._uncounted:
                self._generation.counted += 1
        rows[key] = row

    def send_with_flush(self, topic: str, key: bytes, value: bytes | None) -> None:
        """Produce a message derived from staged rows together with their changelog records."""
        self._generation.messages.append((topic, key, value))

    def hold(self, event: EventT[Any]) -> None:
        """Acknowledge `event` once everything staged so far is durable."""
        self._generation.held.append(event)

    def held(self) -> list[EventT[Any]]:
        """The events held since the last flush began (what the rows staged since then hold)."""
        return self._generation.held

    @property
    def unflushed_rows(self) -> int:
        """Rows staged or being flushed: what is not yet in the changelog and the store."""
        flushing = self._flushing
        in_flight = 0 if flushing is None else sum(map(len, flushing.encoded.values()))
        return self._generation.staged + in_flight

    @property
    def due(self) -> bool:
        """Whether enough is staged that the agent should flush before it reads on."""
        return self._generation.counted >= self.max_staged

    # Flushing ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Flush every `interval_s` from now on, in a task that outlives faust's own stopping
        (faust waits for held events to be acknowledged before it lets a worker stop)."""
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.ensure_future(self._flush_every_interval())

    async def stop(self, *, flush: bool = True) -> None:
        """Stop the interval task, and flush what is staged unless told not to (a stopping
        worker whose stores are closed: what is staged then was not acknowledged, and is read
        again at the next start)."""
        task, self._loop_task = self._loop_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if flush:
            await self.flush()

    async def _flush_every_interval(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.flush()
            except Exception:
                logger.exception("write-behind flush failed; trying again")

    async def flush(self) -> None:
        """Make everything staged so far durable, in the order of the module docstring."""
        async with self._lock:
            generation, self._generation = self._generation, _Generation()
            if not generation:
                return
            # Readable as being flushed from now on: the derivers below let the folds run, and
            # a fold must find these rows, not the older ones in the store.
            flushing = _Flushing(generation.rows, {}, generation.messages, generation.held)
            self._flushing = flushing
            try:
                for deriver in self._derivers:
                    flushing.messages.extend(
                        await deriver(generation.rows, generation.scratch, flushing.pacer)
                    )
                await self._encode(flushing)
                while True:
                    try:
                        offsets = await self._produce(flushing)
                        break
                    except asyncio.CancelledError:
                        raise
                    except Exception as err:
                        logger.warning(
                            "flush could not produce (%r); again in %ss", err, RETRY_AFTER_S
                        )
                        await asyncio.sleep(RETRY_AFTER_S)
                self._crash_if("flush-produced")
                await self._store(flushing, offsets)
                await self._tell_observers(generation.rows, offsets, flushing.pacer)
                self._crash_if("flush-stored")
                for number, event in enumerate(flushing.held):
                    event.ack()
                    if number % PACE_EVERY == 0:
                        await flushing.pacer.pace()
                self.flushes += 1
            finally:
                self._flushing = None

    async def _encode(self, flushing: _Flushing) -> None:
        """Encode every row once, a slice at a time (reads meanwhile copy the row itself)."""
        dumps, pacer = orjson.dumps, flushing.pacer
        for slot, rows in flushing.rows.items():
            encoded: dict[bytes, bytes | None] = {}
            for number, (key, row) in enumerate(rows.items()):
                encoded[key] = None if row is None else dumps(row)
                if number % PACE_EVERY == 0:
                    await pacer.pace()
            flushing.encoded[slot] = encoded

    async def _produce(self, flushing: _Flushing) -> dict[tuple[str, int], int]:
        """Produce the changelog records and derived messages; the last changelog offset of each
        (table, partition), once the broker acknowledged everything."""
        producer = self.app.producer
        client = producer._ensure_producer()  # type: ignore[attr-defined]
        # Derived messages first: once a row is in the changelog, a restarted worker skips the
        # records behind it and would never derive them again. Sent before, they are at worst
        # sent again, which their consumers must bear (the SSID totals replace, not add).
        sent = [await client.send(topic, value, key=key) for topic, key, value in flushing.messages]
        for future in sent:
            await future
        last: dict[tuple[str, int], int] = {}
        slots = sorted(flushing.encoded, key=lambda slot: slot[0] not in self._leading)
        leading = [slot for slot in slots if slot[0] in self._leading]
        for group in (leading, slots[len(leading) :]):
            pending: list[tuple[tuple[str, int], int, asyncio.Future[Any]]] = []
            for slot in group:
                if self.crash_at and slot == slots[len(slots) // 2] and len(slots) > 1:
                    await asyncio.gather(*(future for _, _, future in pending))
                    self._crash_if("flush-half-produced")
                pending += await self._produce_rows(
                    client, slot, flushing.encoded[slot], flushing.pacer
                )
            for slot, count, future in pending:
                metadata = await future
                last[slot] = max(last.get(slot, -1), metadata.offset + count - 1)
        return last

    async def _tell_observers(
        self, rows: StagedRows, offsets: dict[tuple[str, int], int], pacer: Pacer
    ) -> None:
        """Each observer gets each (table, partition)'s rows, in slices of PACE_EVERY rows."""
        for observer in self._observers:
            for (name, partition), staged in rows.items():
                items = list(staged.items())
                for start in range(0, len(items), PACE_EVERY):
                    part = (
                        dict(items[start : start + PACE_EVERY])
                        if len(items) > PACE_EVERY
                        else staged
                    )
                    try:
                        observer(name, partition, part, offsets.get((name, partition)))
                    except Exception:
                        logger.exception(
                            "an observer of stored rows failed on %s/%s", name, partition
                        )
                    await pacer.pace()

    async def _produce_rows(
        self,
        client: Any,
        slot: tuple[str, int],
        encoded: dict[bytes, bytes | None],
        pacer: Pacer,
    ) -> list[tuple[tuple[str, int], int, asyncio.Future[Any]]]:
        """Send one (table, partition)'s rows to its changelog: (slot, records, future) a batch."""
        name, partition = slot
        topic = self._tables[name].changelog_topic.get_topic_name()
        sent = []
        batch = client.create_batch()
        for number, (key, value) in enumerate(encoded.items()):
            if number % PACE_EVERY == 0:
                await pacer.pace()
            if batch.append(key=key, value=value, timestamp=None) is None:
                count = batch.record_count()
                sent.append(
                    (slot, count, await client.send_batch(batch, topic, partition=partition))
                )
                batch = client.create_batch()
                batch.append(key=key, value=value, timestamp=None)
        sent.append(
            (slot, batch.record_count(), await client.send_batch(batch, topic, partition=partition))
        )
        return sent

    def _crash_if(self, point: CrashPoint) -> None:
        if self.crash_at == point:
            logger.warning("PROBEWATCH_TEST_CRASH_AT=%s: killing this worker", point)
            os.kill(os.getpid(), signal.SIGKILL)

    async def _store(self, flushing: _Flushing, offsets: dict[tuple[str, int], int]) -> None:
        """One WriteBatch per (table, partition), the event loop handed back between them."""
        for (name, partition), encoded in flushing.encoded.items():
            _stored(self._tables[name]).write(partition, encoded, offsets[(name, partition)])
            await flushing.pacer.pace()


class _RocksDBRows:
    """Rows in faust's RocksDB store: one database per partition, bytes in and out."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def get(self, partition: int | None, key: bytes) -> bytes | None:
        if partition is None:
            raw: bytes | None = self.store._get(key)
            return raw
        db = self.store._dbs.get(partition)
        if db is None:  # not a partition this worker holds: open nothing for a read
            return None
        return db.get(key)  # type: ignore[no-any-return]

    def write(
        self, partition: int, encoded: dict[bytes, bytes | None], changelog_offset: int
    ) -> None:
        """One WriteBatch: the rows and the changelog offset they reach, atomically."""
        batch = rocksdict.WriteBatch(raw_mode=True)
        for key, value in encoded.items():
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        batch.put(self.store.offset_key, str(changelog_offset).encode())
        self.store._db_for_partition(partition).write(batch)


class _MemoryRows:
    """Rows in faust's `memory://` store (PROBEWATCH_STORE=memory://, and unit tests): decoded
    values keyed by bytes, as faust's own recovery leaves them; no offset to keep."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def get(self, partition: int | None, key: bytes) -> bytes | None:
        value = self.store.get(key)
        return None if value is None else orjson.dumps(value)

    def write(
        self, partition: int, encoded: dict[bytes, bytes | None], changelog_offset: int
    ) -> None:
        for key, value in encoded.items():
            if value is None:
                self.store.pop(key, None)
            else:
                self.store[key] = orjson.loads(value)


def _stored(table: TableT[Any, Any]) -> _RocksDBRows | _MemoryRows:
    store = table.data
    if hasattr(store, "_db_for_partition"):
        return _RocksDBRows(store)
    return _MemoryRows(store)
