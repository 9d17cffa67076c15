"""Start a partition with no committed offset from its beginning, every time faust seeks.

After a rebalance faust suspends the flow, recovers the tables, then seeks each partition to
its committed offset (`Consumer.perform_seek`). Records fetched meanwhile are dropped, and the
seek is what brings them back. But aiokafka's `seek_to_committed` skips a partition that has
no committed offset (or 0), so its position stays after what was dropped; and faust's commit,
which advances over the first run of consecutive acknowledged offsets, then moves past the
dropped ones. Seen here: with two workers, the first record of a fresh partition (500 packed
probes) was lost in about one run in six. A partition nothing was ever committed for is read
from its start, as `auto_offset_reset=earliest` means; what was already folded is skipped by
the per-row offsets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from faust.transport.consumer import Consumer

logger = logging.getLogger(__name__)


def install() -> None:
    """Wrap faust's `Consumer.perform_seek` (once)."""
    original: Callable[..., Any] = Consumer.perform_seek
    if getattr(original, "_probewatch_rewind", False):
        return

    async def perform_seek(self: Consumer) -> None:
        await original(self)
        await rewind_uncommitted(self)

    perform_seek._probewatch_rewind = True  # type: ignore[attr-defined]
    Consumer.perform_seek = perform_seek  # type: ignore[method-assign]


async def rewind_uncommitted(consumer: Consumer) -> None:
    """Seek to their beginning the assigned partitions of the topics faust commits (not the
    changelogs, whose positions recovery keeps) that have no committed offset, or 0 (aiokafka
    does not seek to 0 either)."""
    acks_enabled_for = consumer.app.topics.acks_enabled_for
    read_offset = consumer._read_offset
    never = sorted(
        tp for tp in consumer.assignment() if acks_enabled_for(tp.topic) and not read_offset.get(tp)
    )
    if never:
        logger.info("no committed offset: reading %d partition(s) from the start", len(never))
        for tp, offset in (await consumer.earliest_offsets(*never)).items():
            await consumer.seek(tp, offset)
