"""The worker's write-behind cache (`app.worker.write_behind`) for the tables folded per probe,
and the partitions whose records the folds may apply.

At a rebalance faust waits for the records its agents hold to be acknowledged, but a fold can
still be handed a record of a partition being given away, and what is staged must reach the
changelog before the partition's next owner reads it. So: when partitions are revoked, they stop
being folded here and everything staged is flushed, inside faust's revocation, which the group
waits for; a record of a partition this worker does not own is left unacknowledged, for its
owner to read. A record faust skips on its way here is read back from Kafka and folded before
the one that revealed the skip (`OffsetGuard`, `RecordReader`); one that cannot be is logged and
counted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast, get_args

from faust.types import TP, AppT, ChannelT, EventT, StreamT

from app.main import app, settings
from app.worker import dead_letters
from app.worker.counters import counters
from app.worker.offset_guard import OffsetGuard
from app.worker.pacing import Pacer
from app.worker.record_reader import RecordReader
from app.worker.write_behind import CrashPoint, WriteBehind

logger = logging.getLogger(__name__)

write_behind = WriteBehind(
    app,
    max_staged=settings.flush_max_rows,
    interval_s=settings.flush_interval_s,
    crash_at=cast(
        "CrashPoint | None",
        settings.test_crash_at if settings.test_crash_at in get_args(CrashPoint) else None,
    ),
)


class Ownership:
    """The partitions, per topic, whose records this worker folds; None until faust first
    assigned any (a fold run on its own, as in unit tests, folds everything)."""

    def __init__(self) -> None:
        self.partitions: set[tuple[str, int]] | None = None

    def assign(self, actives: set[TP]) -> None:
        self.partitions = {(tp.topic, tp.partition) for tp in actives}

    def revoke(self, revoked: set[TP]) -> None:
        if self.partitions is not None:
            self.partitions -= {(tp.topic, tp.partition) for tp in revoked}

    def holds(self, event: EventT[Any]) -> bool:
        message = event.message
        return self.partitions is None or (message.topic, message.partition) in self.partitions


ownership = Ownership()


def _count_skip(tp: TP, expected: int, offset: int) -> None:
    counters.incr("records.skipped", offset - expected)


offsets = OffsetGuard(on_skip=_count_skip)
app.resume_at = offsets.next_due
app.sought = offsets.sought
skipped_records = RecordReader(settings.kafka_bootstrap_servers)

Fold = Callable[[EventT[bytes]], Awaitable[None]]


async def fold_each(stream: StreamT[bytes], name: str, fold: Fold) -> None:
    """Hand every record of `stream` this worker owns to `fold`, in order, as
    `dead_letters.each_record` does; but a record is acknowledged only by the flush that makes
    what `fold` staged for it durable, and `fold` is made to wait for a flush when enough is
    staged. faust hands over a buffered record without a turn of the event loop, so the loop is
    handed back every few milliseconds (`Pacer`) for the HTTP server."""
    write_behind.start()
    app.gaps_read_back.update(getattr(stream.channel, "topics", ()))
    pacer = Pacer()
    async for event in stream.noack().events():  # type: ignore[attr-defined]
        if not ownership.holds(event):
            continue
        message = event.message
        skipped_from = offsets.gap_before(message.topic, message.partition, message.offset)
        if skipped_from is not None:
            await _fold_skipped(stream, event, skipped_from, name, fold)
        offsets.admit(message.topic, message.partition, message.offset)
        await _fold_one(event, name, fold)
        await pacer.pace()


async def _fold_one(event: EventT[bytes], name: str, fold: Fold) -> None:
    try:
        await fold(event)
    except Exception as err:
        await dead_letters.failed(event, name, err)
    write_behind.hold(event)
    if write_behind.due:
        await write_behind.flush()


async def _fold_skipped(
    stream: StreamT[bytes], event: EventT[bytes], start: int, name: str, fold: Fold
) -> None:
    """Read the records skipped from `start` up to `event` back from Kafka and fold them, in
    order, as faust would have handed them over. What Kafka no longer has is acknowledged as a
    gap (and counted by `offsets.admit`)."""
    message = event.message
    topic, partition, offset = message.topic, message.partition, message.offset
    tp = TP(topic, partition)
    consumer: Any = app.consumer
    channel = cast("ChannelT[bytes]", stream.channel)
    records = await skipped_records.read(topic, partition, start, offset)
    logger.warning(
        "%s: records %s..%s skipped by faust; %s read back", tp, start, offset - 1, len(records)
    )
    for record in records:
        skipped = await channel.decode(consumer._to_message(tp, record), propagate=True)
        offsets.admit(topic, partition, record.offset)
        await _fold_one(skipped, name, fold)
    counters.incr("records.read_back", len(records))
    missing = offsets.gap_before(topic, partition, offset)
    if missing is not None:
        acknowledge_gap = getattr(consumer, "acknowledge_gap", None)
        if acknowledge_gap is not None:
            await acknowledge_gap(tp, missing, offset - 1)


@app.on_partitions_assigned.connect  # type: ignore[arg-type]
async def _fold_assigned(app: AppT, assigned: set[TP], **_: Any) -> None:
    actives = set(app.assignor.assigned_actives())
    ownership.assign(actives)
    offsets.assigned(actives)


@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def _flush_before_giving_away(app: AppT, revoked: set[TP], **_: Any) -> None:
    """Stop folding the revoked partitions and make what was folded durable before the group
    moves on (their next owner starts from the changelog and skips what it holds)."""
    ownership.revoke(revoked)
    await write_behind.flush()


@app.on_before_shutdown.connect  # type: ignore[arg-type]
async def _stop_flushing(app: AppT, **_: Any) -> None:
    """faust has waited for every held record to be acknowledged (each flush did that) and closed
    the stores: end the interval task."""
    await write_behind.stop(flush=False)
    await skipped_records.close()
