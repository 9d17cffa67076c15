"""A whole compacted topic held in memory by every worker: small lists every worker must read.

Probes are partitioned by MAC, but every worker needs the *whole* SSID watch list (and the whole
list of subscribed chats), whichever keys it owns. Each worker therefore reads these one-partition
topics from the beginning with its own consumer, outside the consumer group, and keeps the latest
value per key. An edit made through any worker reaches all of them within milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from app.worker.changes import Changes
from app.worker.counters import counters

logger = logging.getLogger(__name__)

V = TypeVar("V")


class TopicMirror(Generic[V]):
    """Latest decoded value per key of a compacted topic; tombstones (None) remove the key.

    `decode(raw)` returns the value, None to forget the key, or raises ValueError for a value of
    the wrong shape; `check_key(key)` raises ValueError for a key the API could not edit. Either
    is logged, counted (`<label>.rejected.bad_value`, `bad_key`) and skipped, so every entry
    listed is one the API can change or remove.
    """

    def __init__(
        self,
        label: str,
        topic: str,
        decode: Callable[[bytes | None], V | None],
        check_key: Callable[[str], object],
    ) -> None:
        self.label = label
        self.topic = topic
        self._decode = decode
        self._check_key = check_key
        self._values: dict[str, V] = {}
        self._ready = asyncio.Event()
        self._changes = Changes()
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    def get(self, key: str) -> V | None:
        return self._values.get(key)

    def items(self) -> list[tuple[str, V]]:
        return sorted(self._values.items())

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __len__(self) -> int:
        return len(self._values)

    def load(self, values: dict[str, V]) -> None:
        """Set the content directly and mark the mirror ready (tests, and tools without Kafka)."""
        self._values = dict(values)
        self._ready.set()

    @property
    def ready(self) -> bool:
        """Whether the mirror has read everything the topic held when it started."""
        return self._ready.is_set()

    async def wait_ready(self, timeout: float | None = None) -> bool:
        """Until the mirror has read everything the topic held when it started."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def wait_until(self, predicate: Callable[[TopicMirror[V]], bool], timeout: float) -> bool:
        """Until `predicate(self)` holds: read-your-writes for an edit just produced."""
        return await self._changes.wait_until(lambda: predicate(self), timeout)

    async def start(self, bootstrap_servers: str) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run(bootstrap_servers))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self, bootstrap_servers: str) -> None:
        """Read from the beginning, forever; after broker trouble, read the topic again.

        Without a group, aiokafka assigns every partition of the topic to this consumer. Reading a
        compacted topic again is harmless: the latest value per key still wins.
        """
        while True:
            consumer = AIOKafkaConsumer(
                self.topic,
                bootstrap_servers=bootstrap_servers,
                enable_auto_commit=False,
                group_id=None,
                auto_offset_reset="earliest",
            )
            try:
                await consumer.start()
                ends: dict[TopicPartition, int] | None = None
                while True:
                    batches = await consumer.getmany(timeout_ms=500)
                    for messages in batches.values():
                        for message in messages:
                            self._apply(message.key, message.value)
                    if batches:
                        await self._changes.applied()
                    if not self._ready.is_set() and consumer.assignment():
                        if ends is None:
                            ends = await consumer.end_offsets(list(consumer.assignment()))
                        if await self._caught_up(consumer, ends):
                            await self._mark_ready()
            except asyncio.CancelledError:
                raise
            except KafkaError as err:
                logger.warning("mirror of %s: %r; reading it again", self.topic, err)
                await asyncio.sleep(1.0)
            except Exception:
                logger.exception("mirror of %s failed; reading it again", self.topic)
                await asyncio.sleep(1.0)
            finally:
                await consumer.stop()

    @staticmethod
    async def _caught_up(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
        for tp, end in ends.items():
            if await consumer.position(tp) < end:
                return False
        return True

    async def _mark_ready(self) -> None:
        if not self._ready.is_set():
            logger.info("mirror of %s ready: %d entries", self.topic, len(self._values))
            self._ready.set()
        await self._changes.applied()

    def _apply(self, raw_key: bytes | None, raw_value: bytes | None) -> None:
        if raw_key is None:
            counters.reject(self.label, "no_key", f"message without a key on {self.topic}")
            return
        try:
            key = raw_key.decode("utf-8")
            self._check_key(key)
        except ValueError as bad:  # UnicodeDecodeError included
            counters.reject(self.label, "bad_key", f"{raw_key[:40]!r}: {bad}")
            return
        try:
            value = self._decode(raw_value)
        except ValueError as bad:
            counters.reject(self.label, "bad_value", f"{key[:40]!r}: {bad}")
            return
        if value is None:
            self._values.pop(key, None)
        else:
            self._values[key] = value
