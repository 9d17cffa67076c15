"""Re-start fetching of input partitions that faust assigned but never fetches.

When a rebalance follows another within seconds (two workers starting together, a worker
joining right after start), faust 0.15.3 can leave an assigned, unpaused partition without
fetch requests for good (faust#629 reports the symptom): probes in it are never counted. Every
few seconds each worker compares the broker's end offsets of its active input partitions with
what it has read; a partition with unread messages and no progress over two checks is sought
to where the group left it.

That position is never below the group's committed offset, as the broker knows it: this
process's own commits are empty after a restart, and an idle partition that was read to its end
before the restart must not be read again from the start (replies and forwards would repeat).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from faust.types import TP

from app.main import app, settings
from app.topics import INPUT_TOPICS
from app.worker.counters import counters
from app.worker.side_consumer import started_consumer

logger = logging.getLogger(__name__)

T = TypeVar("T")
CHECK_EVERY_S = settings.stall_check_s
_INPUTS = {settings.topic(name) for name, spec in INPUT_TOPICS.items() if not spec.single_partition}


class OffsetsView:
    """An outside view of a partition's offsets: the log's ends and the group's commits."""

    def __init__(self, bootstrap_servers: str, group_id: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None

    async def ends(self, tps: list[TP]) -> dict[TP, int]:
        consumer = await self._the_consumer()
        ends = await self._reset_on_error(consumer.end_offsets(_kafka_tps(tps)))
        return {TP(tp.topic, tp.partition): int(end) for tp, end in ends.items()}

    async def starts(self, tps: list[TP]) -> dict[TP, int]:
        consumer = await self._the_consumer()
        starts = await self._reset_on_error(consumer.beginning_offsets(_kafka_tps(tps)))
        return {TP(tp.topic, tp.partition): int(start) for tp, start in starts.items()}

    async def committed(self, tps: list[TP]) -> dict[TP, int]:
        """The group's committed offsets; partitions it never committed are left out."""
        if self._admin is None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers)
            await admin.start()
            self._admin = admin
        found = await self._reset_on_error(
            self._admin.list_consumer_group_offsets(self.group_id, partitions=_kafka_tps(tps))
        )
        return {
            TP(tp.topic, tp.partition): int(meta.offset)
            for tp, meta in found.items()
            if meta.offset >= 0
        }

    async def _the_consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            self._consumer = await started_consumer(self.bootstrap_servers)
        return self._consumer

    async def _reset_on_error(self, request: Awaitable[T]) -> T:
        """The answer; after a Kafka error, fresh clients at the next check."""
        try:
            return await request
        except KafkaError:
            await self.close()
            raise

    async def close(self) -> None:
        consumer, admin, self._consumer, self._admin = self._consumer, self._admin, None, None
        if consumer is not None:
            await consumer.stop()
        if admin is not None:
            await admin.close()


def _kafka_tps(tps: list[TP]) -> list[TopicPartition]:
    return [TopicPartition(tp.topic, tp.partition) for tp in tps]


def resume_position(read: int | None, committed: int | None, start: int) -> int:
    """Where a stalled partition resumes: after what this worker read, never before what the
    group committed; from the log's start when neither is known."""
    known = [
        offset for offset in (None if read is None else read + 1, committed) if offset is not None
    ]
    return max(known) if known else start


class StallWatch:
    """What each partition had read at the last check, and the partitions that look stalled."""

    def __init__(self, offsets: OffsetsView) -> None:
        self.offsets = offsets
        self.last_read: dict[TP, int | None] = {}
        self.suspect: set[TP] = set()

    async def check(self) -> None:
        monitor = app.monitor
        if app.rebalancing or not app.tables.recovery.completed.is_set():  # type: ignore[attr-defined]
            self.suspect.clear()
            return
        tps = [tp for tp in app.assignor.assigned_actives() if tp.topic in _INPUTS]
        if not tps:
            return
        ends = await self.offsets.ends(tps)
        idle = []
        for tp in tps:
            read = monitor.tp_read_offsets.get(tp)
            progressed = self.last_read.get(tp, -2) != read
            self.last_read[tp] = read
            unread = ends.get(tp, 0) > (read + 1 if read is not None else 0)
            if progressed or not unread:
                self.suspect.discard(tp)
            else:
                idle.append(tp)
        if idle:
            await self._restart_stalled(idle, ends)

    async def _restart_stalled(self, idle: list[TP], ends: dict[TP, int]) -> None:
        """Of partitions with no progress, restart those that truly have messages to read."""
        committed = await self.offsets.committed(idle)
        starts = await self.offsets.starts(idle)
        for tp in idle:
            read = app.monitor.tp_read_offsets.get(tp)
            position = resume_position(read, committed.get(tp), starts.get(tp, 0))
            if ends.get(tp, 0) <= position:
                self.suspect.discard(tp)
            elif tp in self.suspect:
                await self.restart(tp, position)
                self.suspect.discard(tp)
            else:
                self.suspect.add(tp)

    async def restart(self, tp: TP, position: int) -> None:
        logger.warning("partition %s:%d is not being fetched; seeking it to %d", *tp, position)
        counters.incr("partitions.restarted")
        await app.consumer.seek_wait({tp: position})


watch = StallWatch(OffsetsView(settings.kafka_bootstrap_servers, settings.app_id))


@app.timer(interval=CHECK_EVERY_S)  # type: ignore[untyped-decorator]
async def restart_stalled_partitions() -> None:
    """Never let one stuck partition hold probes back for longer than a few checks."""
    try:
        await watch.check()
    except Exception as err:  # a watchdog must never take the worker down with it
        logger.info("stall check skipped: %r", err)
