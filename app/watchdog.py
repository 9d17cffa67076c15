"""Re-start fetching of input partitions that faust assigned but never fetches.

When a rebalance follows another within seconds (two workers starting together, a worker
joining right after start), faust 0.15.3 can leave an assigned, unpaused partition without
fetch requests for good (faust#629 reports the symptom): probes in it are never counted. Every
few seconds each worker compares the broker's end offsets of its active input partitions with
what it has read; a partition with unread messages and no progress over two checks is sought
back to its committed offset. Re-reading is harmless: rows skip offsets they already applied.
"""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from faust.types import TP

from app.counters import counters
from app.kafka_admin import INPUT_TOPICS
from app.main import app, settings

logger = logging.getLogger(__name__)

CHECK_EVERY_S = 5.0
_INPUTS = {settings.topic(name) for name, spec in INPUT_TOPICS.items() if not spec.single_partition}


class StallWatch:
    """What each partition had read at the last check, and an outside view of end offsets."""

    def __init__(self) -> None:
        self.last_read: dict[TP, int | None] = {}
        self.suspect: set[TP] = set()
        self._offsets: AIOKafkaConsumer | None = None

    async def end_offsets(self, tps: list[TP]) -> dict[TP, int]:
        if self._offsets is None:
            offsets = AIOKafkaConsumer(
                bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None
            )
            try:
                await offsets.start()
            except BaseException:
                await offsets.stop()
                raise
            self._offsets = offsets
        try:
            ends = await self._offsets.end_offsets(tps)
        except KafkaError:
            await self._offsets.stop()
            self._offsets = None
            raise
        return {TP(tp.topic, tp.partition): int(end) for tp, end in ends.items()}

    async def check(self) -> None:
        monitor = app.monitor
        if app.rebalancing or not app.tables.recovery.completed.is_set():  # type: ignore[attr-defined]
            self.suspect.clear()
            return
        tps = [tp for tp in app.assignor.assigned_actives() if tp.topic in _INPUTS]
        if not tps:
            return
        ends = await self.end_offsets(tps)
        for tp in tps:
            read = monitor.tp_read_offsets.get(tp)
            position = read + 1 if read is not None else monitor.tp_committed_offsets.get(tp) or 0
            stalled = ends.get(tp, 0) > position and self.last_read.get(tp, -2) == read
            self.last_read[tp] = read
            if not stalled:
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


watch = StallWatch()


@app.timer(interval=CHECK_EVERY_S)  # type: ignore[untyped-decorator]
async def restart_stalled_partitions() -> None:
    """Never let one stuck partition hold probes back for longer than a few checks."""
    try:
        await watch.check()
    except Exception as err:  # a watchdog must never take the worker down with it
        logger.info("stall check skipped: %r", err)
