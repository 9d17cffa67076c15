"""The producer learns every topic's partitions as the worker starts.

faust declares no topic (`probewatch worker` creates them all first, `app.cli.topic_admin`), and
its declaring was what had the producer look each one up: without this, the first key placed
in a topic (a fold placing MACs, faust's router answering `/router/{table}/{key}/`) would find
no partitions and fail. Each place that needs them also fetches them when they are missing;
this only makes that the rare case.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from app.main import app, settings
from app.topics import INPUT_TOPICS, internal_topics

logger = logging.getLogger(__name__)

#: How long the start waits for the broker's answer before leaving it to the first use.
METADATA_TIMEOUT_S = 10.0


def every_topic() -> list[str]:
    """The names of every topic the worker reads or writes."""
    return [*(settings.topic(name) for name in INPUT_TOPICS), *internal_topics()]


@app.task  # type: ignore[untyped-decorator]
async def learn_every_topic() -> None:
    """Track every topic in the producer's metadata, in one metadata request."""
    # faust keeps its AIOKafkaProducer behind `_ensure_producer()` (as `app.web.routing` reads
    # it); `add_topic` is aiokafka's client call that tracks a topic, sharing one update.
    try:
        client: Any = app.producer._ensure_producer().client  # type: ignore[attr-defined]
        updates = [client.add_topic(topic) for topic in every_topic()]
        await asyncio.wait_for(asyncio.gather(*updates), METADATA_TIMEOUT_S)
    except Exception as err:  # Kafka away or slow: each first use fetches what it needs
        logger.info("topic metadata not fetched at start: %s", type(err).__name__)
