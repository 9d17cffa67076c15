"""Effects that must happen once per record: a reply, an alert message.

At-least-once delivery hands a record to an agent again when a worker dies before its offset
is committed. Before acting, an agent asks whether the record's partition already got this far;
after acting, it records the offset in the changelog-backed `processed-offsets` table. What is
left is the moment between acting and that write reaching Kafka (milliseconds, not the seconds
between offset commits).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from faust.types import EventT

from app.tables.processed import processed_offsets_table
from app.worker.counters import counters


def _row(event: EventT[bytes]) -> str:
    message = event.message
    return f"{message.topic}:{message.partition}"


def _already_done(event: EventT[bytes], stream: str) -> bool:
    """Whether this record's effect happened before; counted as `<stream>.duplicates_skipped`."""
    done = processed_offsets_table.get(_row(event))
    if done is not None and event.message.offset <= done:
        counters.incr(f"{stream}.duplicates_skipped")
        return True
    return False


def _mark_done(event: EventT[bytes]) -> None:
    """Remember that this record's effect happened (written to the event's own partition)."""
    processed_offsets_table[_row(event)] = event.message.offset


def once_per_record(
    stream: str, handle: Callable[[EventT[bytes]], Awaitable[None]]
) -> Callable[[EventT[bytes]], Awaitable[None]]:
    """`handle`, skipping records whose effect already happened and remembering each one it
    acted on, even when it raised (the record is dead-lettered then, not retried)."""

    async def handle_once(event: EventT[bytes]) -> None:
        if _already_done(event, stream):
            return
        try:
            await handle(event)
        finally:
            _mark_done(event)

    return handle_once
