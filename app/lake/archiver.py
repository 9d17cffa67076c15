"""The archiver: every record of its zones' topics into the lake, exactly once.

Each worker runs one, in a consumer group of its own (`<app id>-lake`), so archiving never holds
back the folds' commits, and the group spreads the partitions over the workers like theirs.
Per partition it buffers what it reads and, every `flush_s` seconds (or at `max_records`), writes
it as raw pieces (`app.logic.lake.layout`): for each piece first its enriched files, then the
raw piece itself — the piece is the proof that everything made from it is there. Then it
commits the offsets after it. Between two polls it also compacts finished days: its own
partitions' raw pieces, and the enriched files of the days it owns (`app.lake.compactor`).

After an assignment it resumes each partition after the highest offset its pieces hold (from its
beginning when it has none), not at the committed offset (a crash between a piece and the commit
would write it twice); enriched files left by a piece that was never finished (they start at
that offset) are deleted then. A revoked partition's buffer is written out before it goes.

Before it joins its group it checks the lake can be used (`Lake.check`): an object-store lake's
bucket must exist, it is never created. Until the check passes the archiver logs why, as an
error, and reads nothing; the worker's folds and routes go on.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import os
import signal
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from app.lake.compactor import Compactor
from app.lake.eraser import LakeEraser
from app.lake.parquet import write_parquet
from app.lake.retention import LakeRetention
from app.lake.storage import Lake, LakeUnavailable
from app.logic.lake.layout import (
    TABLES,
    Piece,
    enriched_path,
    raw_glob,
    raw_path,
    resume_after,
)
from app.logic.lake.raw import RawRecord, envelope, pieces
from app.worker.counters import counters

logger = logging.getLogger(__name__)

#: How long the archiver waits before checking an unusable lake again.
RECHECK_S = 10.0

#: A zone's records into its tables' rows: (partition, record) → {table: rows}, None when the
#: record is malformed (it stays in the raw zone, and is counted).
Flatten = Callable[[int, RawRecord], dict[str, list[dict[str, Any]]] | None]


@dataclass
class Zone:
    """A topic the archiver keeps: its zone's name and how its records become rows."""

    topic: str
    name: str
    flatten: Flatten
    #: The devices (MACs) or users a record erases (`app.logic.erasure`): none for most.
    erased: Callable[[RawRecord], Iterable[str]] | None = None


@dataclass
class _Partition:
    zone: Zone
    partition: int
    buffered: list[RawRecord] = field(default_factory=list)
    #: The first offset to write next; records before it are in the lake already.
    next_offset: int = 0


class Archiver:
    """Reads its share of the zones' topics and writes it to the lake (see the module)."""

    def __init__(
        self,
        lake: Lake,
        zones: list[Zone],
        bootstrap_servers: str,
        group_id: str,
        flush_s: float = 30.0,
        max_records: int = 50_000,
        compactor: Compactor | None = None,
        compact_s: float = 3600.0,
        retention: LakeRetention | None = None,
        crash_after_enriched: bool = False,
        writer: PieceWriter | None = None,
    ) -> None:
        self.lake = lake
        self.zones = {zone.topic: zone for zone in zones}
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.flush_s = flush_s
        self.max_records = max_records
        self.compactor = compactor
        self.retention = retention
        #: How pieces are written: by default in a thread, which with `crash_after_enriched`
        #: (tests only) dies by SIGKILL between a piece's enriched files and its raw piece.
        self.writer = writer or ThreadWriter(lake, crash_after_enriched)
        self.compact_s = compact_s
        self._compact_at = time.monotonic() + min(compact_s, 60.0)
        self._partitions: dict[TopicPartition, _Partition] = {}
        self._buffered = 0
        self._flushed_at = time.monotonic()
        #: Held while partitions are written, compacted, assigned or revoked: aiokafka calls the
        #: rebalance listener from its coordinator's task, concurrently with the loop, and a
        #: partition resumed while its piece is still being written would be written twice.
        self._lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        #: Set after each flush: tests and `flush_now` wait on it.
        self.flushes = 0

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        """Write what is buffered, then stop."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.writer.close()

    async def _run(self) -> None:
        while True:
            await self._wait_for_lake()
            consumer = AIOKafkaConsumer(
                *self.zones,
                bootstrap_servers=self.bootstrap_servers,
                group_id=self.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_partition_fetch_bytes=4 * 1024 * 1024,
            )
            self._consumer = consumer
            consumer.subscribe(list(self.zones), listener=_Listener(self))
            try:
                await consumer.start()
                await self._consume(consumer)
            except asyncio.CancelledError:
                try:
                    await asyncio.shield(self._flush(consumer, list(self._partitions)))
                finally:
                    await consumer.stop()
                raise
            except (KafkaError, OSError) as err:
                logger.warning("lake archiver: %r; starting again", err)
                await consumer.stop()
                self._forget_partitions()
                await asyncio.sleep(1.0)
            except Exception:
                logger.exception("lake archiver failed; starting again")
                await consumer.stop()
                self._forget_partitions()
                await asyncio.sleep(1.0)

    def _forget_partitions(self) -> None:
        """Drop what is buffered (the group reads it again, from the pieces on), and its count."""
        self._partitions.clear()
        self._buffered = 0

    async def _wait_for_lake(self) -> None:
        """Until the lake can be used; each failed check is logged and counted."""
        while True:
            try:
                await asyncio.to_thread(self.lake.check)
                return
            except LakeUnavailable as err:
                counters.incr("lake.unavailable")
                logger.error("lake archiver: %s; archiving waits, checking again", err)
            await asyncio.sleep(RECHECK_S)

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=self.max_records)
            for tp, messages in batches.items():
                held = self._partitions.get(tp)
                if held is None:
                    continue
                for message in messages:
                    # Offsets only grow: a record fetched again (a seek re-fetches what the
                    # fetcher already brought) or already in the lake is not buffered twice.
                    if message.offset < held.next_offset or (
                        held.buffered and message.offset <= held.buffered[-1].offset
                    ):
                        continue
                    held.buffered.append(
                        RawRecord(
                            message.offset,
                            message.timestamp,
                            message.key,
                            message.value,
                            tuple((name, value) for name, value in message.headers or ()),
                        )
                    )
                    self._buffered += 1
            due = time.monotonic() - self._flushed_at >= self.flush_s
            if self._buffered >= self.max_records or (due and self._buffered):
                await self._flush(consumer, list(self._partitions))
            elif due:
                self._flushed_at = time.monotonic()
            if self.compactor is not None and time.monotonic() >= self._compact_at:
                async with self._lock:
                    await self._compact()
                self._compact_at = time.monotonic() + self.compact_s

    async def _compact(self) -> None:
        """Compact the finished days this worker owns (see `app.lake.compactor`), between polls."""
        compactor = self.compactor
        assert compactor is not None
        for held in list(self._partitions.values()):
            try:
                await asyncio.to_thread(compactor.compact_raw, held.zone.name, held.partition)
            except OSError as err:
                logger.warning(
                    "lake: merging raw pieces of %s %d failed: %r",
                    held.zone.name,
                    held.partition,
                    err,
                )
        owned = {
            tp.partition for tp, held in self._partitions.items() if held.zone.name == "probes"
        }
        if not owned:
            return
        if self.retention is not None:
            try:
                await asyncio.to_thread(self.retention.expire, owned)
            except OSError as err:
                logger.warning("lake: deleting expired days failed: %r", err)
        for table in TABLES:
            for day in await asyncio.to_thread(compactor.days_due, table, owned):
                try:
                    await asyncio.to_thread(compactor.compact, table, day)
                except (OSError, duckdb.Error) as err:
                    logger.warning("lake: compacting %s %s failed: %r", table, day, err)

    async def assigned(
        self, consumer: AIOKafkaConsumer, assigned: Iterable[TopicPartition]
    ) -> None:
        """Resume each new partition after what its pieces hold."""
        async with self._lock:
            await self._resume(consumer, assigned)

    async def _resume(self, consumer: AIOKafkaConsumer, assigned: Iterable[TopicPartition]) -> None:
        for tp in assigned:
            zone = self.zones[tp.topic]
            found = await asyncio.to_thread(self.lake.glob, raw_glob(zone.name, tp.partition))
            archived = [piece for path in found if (piece := Piece.parse(path)) is not None]
            last = resume_after(archived)
            # Registered and sought at once: aiokafka fetches a new partition while this runs.
            # Synchronous seeks only: asking the coordinator anything (the committed offset)
            # from inside a rebalance waits for the rebalance, which waits for this. A partition
            # with no piece is read from its beginning (0, or the earliest Kafka still holds).
            self._partitions[tp] = _Partition(zone, tp.partition, next_offset=last + 1)
            consumer.seek(tp, last + 1)
            await asyncio.to_thread(self._delete_unfinished, zone, tp.partition, last + 1)

    async def revoked(self, consumer: AIOKafkaConsumer, revoked: Iterable[TopicPartition]) -> None:
        """Write the revoked partitions' buffers while they are still this worker's."""
        async with self._lock:
            going = [tp for tp in revoked if tp in self._partitions]
            try:
                await self._write_out(consumer, going)
            finally:  # written or not (the next owner resumes after the pieces), no longer ours
                for tp in going:
                    held = self._partitions.pop(tp)
                    self._buffered -= len(held.buffered)

    async def _flush(self, consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> None:
        async with self._lock:
            await self._write_out(consumer, tps)

    async def _write_out(self, consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> None:
        commits: dict[TopicPartition, int] = {}
        for tp in tps:
            held = self._partitions.get(tp)
            if held is None or not held.buffered:
                continue
            records, held.buffered = held.buffered, []
            self._buffered -= len(records)
            await self.writer.write(held.zone, held.partition, records)
            held.next_offset = records[-1].offset + 1
            commits[tp] = held.next_offset
        if commits:
            try:
                await consumer.commit(commits)
            except KafkaError as err:  # the pieces hold them: resuming reads them from there
                logger.info("lake archiver: commit after a flush failed: %r", err)
        self._flushed_at = time.monotonic()
        self.flushes += 1

    def _delete_unfinished(self, zone: Zone, partition: int, first: int) -> None:
        """Enriched files of a piece that starts where writing resumes: its raw piece was never
        written (it would hold this offset), so they are a crashed attempt's."""
        tables = [table for table, source in TABLES.items() if source == zone.name]
        stale: list[str] = []
        for table in tables:
            stale += self.lake.glob(
                f"enriched/{table}/day=*/{zone.name}+{partition:04d}+{first:020d}+*.parquet"
            )
        if stale:
            logger.info("lake archiver: deleting %d files of an unfinished piece", len(stale))
            self.lake.delete(stale)


class PieceWriter(Protocol):
    """Writes a partition's records as pieces (`write_pieces`) and counts what it wrote."""

    async def write(self, zone: Zone, partition: int, records: list[RawRecord]) -> None: ...

    async def close(self) -> None: ...


class ThreadWriter:
    """`write_pieces` in a thread of the worker (the loop goes on; the GIL is shared)."""

    def __init__(self, lake: Lake, crash_after_enriched: bool = False) -> None:
        self.lake = lake
        self.eraser = LakeEraser(lake)
        self.die = _die if crash_after_enriched else None

    async def write(self, zone: Zone, partition: int, records: list[RawRecord]) -> None:
        await asyncio.to_thread(
            write_pieces, self.lake, self.eraser, zone, partition, records, counters.incr, self.die
        )

    async def close(self) -> None:
        return None


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def write_pieces(
    lake: Lake,
    eraser: LakeEraser,
    zone: Zone,
    partition: int,
    records: list[RawRecord],
    incr: Callable[[str, int], None],
    die: Callable[[], None] | None = None,
) -> None:
    """Write a partition's records as pieces, each after the enriched files made from it; then
    take the devices (or users) its erasures name out of what was archived before. What it
    wrote is counted with `incr`; `die`, if given, is called between a piece's enriched files and
    the piece (tests of a crash there)."""
    for piece, day, run in pieces(zone.name, partition, records):
        _write_enriched(lake, zone, piece, run, incr)
        if die is not None:
            logger.warning("lake archiver: dying on purpose before writing %s", piece.stem)
            die()
        raw = gzip.compress(b"".join(map(envelope, run)), compresslevel=5)
        lake.put_bytes(raw_path(piece, day), raw)
        incr(f"lake.{zone.name}.archived", len(run))
    if zone.erased is not None:
        macs = frozenset(subject for record in records for subject in zone.erased(record))
        if macs:  # every earlier probe of theirs is in the lake now: take them out
            eraser.erase(zone.name, partition, macs)


def _write_enriched(
    lake: Lake,
    zone: Zone,
    piece: Piece,
    records: list[RawRecord],
    incr: Callable[[str, int], None],
) -> None:
    by_table_day: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        flat = zone.flatten(piece.partition, record)
        if flat is None:
            incr(f"lake.{zone.name}.rejected", 1)
            continue
        for table, rows in flat.items():
            for row in rows:
                by_table_day[(table, row["day"])].append(row)
    for (table, day), rows in sorted(by_table_day.items()):
        handle, local = tempfile.mkstemp(suffix=".parquet", prefix="probewatch-lake-")
        os.close(handle)
        try:
            write_parquet(table, rows, local)
            lake.put_file(enriched_path(table, day, piece.stem), local)
        finally:
            if os.path.exists(local):
                os.unlink(local)
        incr(f"lake.{table}.rows", len(rows))


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, archiver: Archiver) -> None:
        self.archiver = archiver

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        consumer = self.archiver._consumer
        if consumer is not None:
            await self.archiver.revoked(consumer, revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = self.archiver._consumer
        if consumer is not None:
            await self.archiver.assigned(consumer, assigned)
