"""The aiokafka consumers a worker starts beside faust's own (no group, nothing committed)."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer


async def started_consumer(bootstrap_servers: str, **config: Any) -> AIOKafkaConsumer:
    """A started consumer of no group. One whose start failed (the broker unreachable) is stopped
    before the error goes on: aiokafka leaves its client open otherwise."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None, **config)
    try:
        await consumer.start()
    except BaseException:
        await consumer.stop()
        raise
    return consumer
