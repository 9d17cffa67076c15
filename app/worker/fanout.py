"""Live fan-out of a topic to any number of HTTP clients (the "EMIT CHANGES" push queries).

One consumer per worker and topic, outside the consumer group, reads every partition from the
end while at least one client listens; each client has a bounded queue. A client that cannot keep
up loses events (and is told how many) instead of slowing the consumer or the worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from app.worker.counters import counters

logger = logging.getLogger(__name__)

Event = dict[str, Any]


@dataclass(eq=False)
class Subscriber:
    """One client: the events it wants, waiting in a bounded queue."""

    wants: Callable[[Event], bool]
    queue: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    dropped: int = 0

    def offer(self, event: Event) -> None:
        if not self.wants(event):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1


class TopicFanout:
    """Fans a JSON topic out to subscribers; the consumer runs only while somebody listens."""

    def __init__(self, label: str, topic: str, bootstrap_servers: str, queue_size: int) -> None:
        self.label = label
        self.topic = topic
        self.bootstrap_servers = bootstrap_servers
        self.queue_size = queue_size
        self.subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def subscribe(self, wants: Callable[[Event], bool], timeout: float = 30.0) -> Subscriber:
        """A new subscriber; returns once the consumer is positioned, so nothing later is missed."""
        subscriber = Subscriber(wants, asyncio.Queue(self.queue_size))
        self.subscribers.add(subscriber)
        if self._task is None or self._task.done():
            self._listening.clear()
            self._task = asyncio.ensure_future(self._run())
        await asyncio.wait_for(self._listening.wait(), timeout)
        return subscriber

    async def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        if not self.subscribers and self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while self.subscribers:
            consumer = AIOKafkaConsumer(
                self.topic,
                bootstrap_servers=self.bootstrap_servers,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="latest",
            )
            try:
                await consumer.start()
                await self._position_at_end(consumer)
                self._listening.set()
                while self.subscribers:
                    batches = await consumer.getmany(timeout_ms=500)
                    for messages in batches.values():
                        for message in messages:
                            self._publish(message.value)
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError) as err:
                logger.warning("live stream of %s: %r; reconnecting", self.topic, err)
                await asyncio.sleep(1.0)
            finally:
                await consumer.stop()

    @staticmethod
    async def _position_at_end(consumer: AIOKafkaConsumer) -> None:
        """Wait for the partitions and resolve their end positions before declaring 'listening'."""
        for _ in range(100):
            if consumer.assignment():
                break
            await consumer.getmany(timeout_ms=100)
        for tp in consumer.assignment():
            await consumer.position(tp)

    def _publish(self, raw: bytes | None) -> None:
        """Offer each event of a record (an object, or an array of them) to every client."""
        try:
            value = orjson.loads(raw) if raw is not None else None
        except orjson.JSONDecodeError:
            value = None
        events = value if isinstance(value, list) else [value]
        for event in events:
            if not isinstance(event, dict):
                counters.incr(f"stream.{self.label}.undecodable")
                continue
            for subscriber in list(self.subscribers):
                subscriber.offer(event)
