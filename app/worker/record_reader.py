"""Read a given range of a partition's records straight from Kafka, outside faust's consumer.

faust can lose a fetched record on its way to an agent (`app.worker.offset_guard` says how);
the fold notices when the next record it is handed is past the one it is due. Kafka still holds
the missing ones, so the fold reads them here, by offset, and folds them first. A consumer of
its own (no group, nothing committed), started at the first such read and kept for the next.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from app.worker.side_consumer import started_consumer

logger = logging.getLogger(__name__)

#: How long a read keeps trying (a broker away for longer: what was not read stays missing).
READ_TIMEOUT_S = 30.0
#: How long one fetch waits for records.
FETCH_TIMEOUT_MS = 1_000


class RecordReader:
    """Reads records `start <= offset < end` of one partition at a time."""

    def __init__(self, bootstrap_servers: str, timeout_s: float = READ_TIMEOUT_S) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.timeout_s = timeout_s
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def read(
        self, topic: str, partition: int, start: int, end: int
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """The records of the range still in Kafka, in order; fewer (or none) when some are
        gone (retention) or the broker did not answer within the timeout."""
        async with self._lock:
            deadline = time.monotonic() + self.timeout_s
            records: list[ConsumerRecord[bytes, bytes]] = []
            while time.monotonic() < deadline:
                try:
                    return await self._read(topic, partition, start, end, deadline, records)
                except KafkaError as err:
                    logger.warning("reading %s[%s] %s..%s: %r", topic, partition, start, end, err)
                    await self._close()
                    await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            return records

    async def _read(
        self,
        topic: str,
        partition: int,
        start: int,
        end: int,
        deadline: float,
        records: list[ConsumerRecord[bytes, bytes]],
    ) -> list[ConsumerRecord[bytes, bytes]]:
        consumer = await self._started()
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, records[-1].offset + 1 if records else start)
        while time.monotonic() < deadline:
            fetched = await consumer.getmany(tp, timeout_ms=FETCH_TIMEOUT_MS)
            for record in fetched.get(tp, []):
                if record.offset >= end:
                    return records
                if record.offset >= start:
                    records.append(record)
            if await consumer.position(tp) >= end:
                return records
        return records

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            self._consumer = await started_consumer(
                self.bootstrap_servers, enable_auto_commit=False, auto_offset_reset="earliest"
            )
        return self._consumer

    async def _close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

    async def close(self) -> None:
        """Stop the consumer, if one was started."""
        async with self._lock:
            await self._close()
