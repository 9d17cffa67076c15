"""Records of a partition reach a fold in offset order, none missing: or they are read again.

faust can drop records it has fetched: those of a partition that is not active yet (its table
still recovering), and the rest of a batch when the group's generation changes. It relies on the
seek to the committed offset at the next assignment to read them again; but with no committed
offset (a partition nobody has committed yet) aiokafka does not seek, so the fetch position stays
past the dropped records. faust also counts a jump in offsets as a compaction gap, which its
commit then treats as acknowledged. Either way probes would be lost, and the rows' offsets (which
make re-delivery a no-op) would then also skip them if they came later than records behind them.

So each partition's next offset is tracked from where its consumption starts (the committed
offset, else the log's start). A record past it means records were skipped: the consumer is
sought back to the missing offset, faust's gap for those offsets is forgotten, and records are
passed over, unacknowledged, until the missing one comes. A record before it was delivered
again after a seek or a rebalance; the fold's offsets make it a no-op, so it is passed on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol

from faust.types import TP

logger = logging.getLogger(__name__)

#: A seek that has not brought the missing record within this long is made again.
SEEK_AGAIN_AFTER_S = 5.0


class Consumer(Protocol):
    """What the guard needs of faust's consumer."""

    _committed_offset: MutableMapping[TP, int | None]
    _gap: MutableMapping[TP, Any]

    async def seek(self, partition: TP, offset: int) -> None: ...

    async def earliest_offsets(self, *partitions: TP) -> Mapping[TP, int]: ...


@dataclass
class _Seek:
    offset: int
    at: float


class OffsetGuard:
    """Per partition of the folded topics, the offset of the next record to fold."""

    def __init__(
        self,
        consumer: Callable[[], Consumer],
        on_gap: Callable[[TP, int, int], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._consumer = consumer
        self._on_gap = on_gap
        self._clock = clock
        #: None until faust first assigned partitions: a fold run on its own (unit tests) has
        #: no consumer to seek, and every record is admitted.
        self._guarded: set[TP] | None = None
        self._next: dict[TP, int] = {}
        self._seeking: dict[TP, _Seek] = {}

    def assigned(self, partitions: set[TP]) -> None:
        """Guard these partitions from their committed offsets on (faust seeks there)."""
        self._guarded = set(partitions)
        self._next.clear()
        self._seeking.clear()

    def revoked(self, partitions: set[TP]) -> None:
        """Stop guarding these; the others start over at the assignment that follows."""
        if self._guarded is not None:
            self._guarded -= partitions
        self._next.clear()
        self._seeking.clear()

    async def admit(self, topic: str, partition: int, offset: int) -> bool:
        """Whether to fold the record at `offset`; False while a seek back to a record that
        was skipped is under way (the record then comes again, after the missing ones)."""
        tp = TP(topic, partition)
        if self._guarded is None or tp not in self._guarded:
            return True
        expected = self._next.get(tp)
        if expected is None:
            expected = await self._start_of(tp)
        if offset <= expected:
            if offset == expected:
                self._next[tp] = offset + 1
                self._seeking.pop(tp, None)
            else:
                self._next.setdefault(tp, expected)
            return True
        return await self._skipped(tp, expected, offset)

    async def _start_of(self, tp: TP) -> int:
        """Where consumption of `tp` starts: its committed offset, else its log's start."""
        consumer = self._consumer()
        committed = consumer._committed_offset.get(tp)
        if committed:
            return committed
        earliest = await consumer.earliest_offsets(tp)
        return earliest.get(tp, 0)

    async def _skipped(self, tp: TP, expected: int, offset: int) -> bool:
        now = self._clock()
        pending = self._seeking.get(tp)
        if (
            pending is not None
            and pending.offset == expected
            and now - pending.at < SEEK_AGAIN_AFTER_S
        ):
            return False
        consumer = self._consumer()
        earliest = (await consumer.earliest_offsets(tp)).get(tp, 0)
        if earliest > expected:
            logger.warning(
                "records %s..%s of %s were deleted before they were read (retention)",
                expected,
                earliest - 1,
                tp,
            )
            self._next[tp] = expected = earliest
            if offset <= expected:
                return await self.admit(tp.topic, tp.partition, offset)
        logger.warning(
            "%s: record %s came where %s was due; reading again from there", tp, offset, expected
        )
        if self._on_gap is not None:
            self._on_gap(tp, expected, offset)
        gap = consumer._gap.get(tp)
        if gap is not None:
            gap.chop(expected, offset)
        self._next[tp] = expected
        self._seeking[tp] = _Seek(expected, now)
        await consumer.seek(tp, expected)
        return False
