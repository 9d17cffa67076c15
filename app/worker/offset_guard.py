"""Records of a partition skipped on their way to a fold: noticed, read back, and counted when
they could not be.

faust can drop records it has fetched: those of a partition that is not active yet (its table
still recovering), the rest of a batch when the group's generation changes, and a record whose
hand-over to the agent's buffer is cancelled when a rebalance suspends the flow (its
`_drain_messages` still counts it as read); and, until `app.tables.recovery`, now and then the
record at a partition's committed offset after a rebalance. It relies on the seek to the
committed offset at the next assignment to read them again; aiokafka did not seek a partition
with no committed offset, which `app.worker.transport` now seeks. And when the next record comes
after a gap, faust marks the gap acknowledged, so a commit can pass records no fold has seen.

Seeking faust's consumer back from here was tried: a seek from the event loop's thread was
undone by the fetch under way in the consumer's thread, and `seek_wait` in that thread stalled
the agent during a rebalance. So the guard keeps, per partition this worker folds, the offset of
the next record due (from the position the partition was sought to, then from each record
folded). A record past it means records were skipped: the fold reads them back from Kafka
(`app.worker.record_reader`) and folds them first; for the topics folded this way the transport
no longer acknowledges gaps ahead of them. What cannot be read back (gone by retention, or the
broker away for the whole read) is logged and counted (`records.skipped`), once per skip. A
record before the next due came again after a seek or a rebalance: the rows' offsets make it a
no-op. A partition that leaves this worker is forgotten (another worker folds it meanwhile).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from faust.types import TP

logger = logging.getLogger(__name__)


class OffsetGuard:
    """Per partition folded here, the offset of the next record due."""

    def __init__(self, on_skip: Callable[[TP, int, int], None] | None = None) -> None:
        self._on_skip = on_skip
        self._next: dict[tuple[str, int], int] = {}

    def assigned(self, partitions: set[TP]) -> None:
        """Forget the partitions that are no longer this worker's; the others go on."""
        kept = {(tp.topic, tp.partition) for tp in partitions}
        self._next = {tp: offset for tp, offset in self._next.items() if tp in kept}

    def sought(self, positions: Mapping[TP, int]) -> None:
        """Partitions were sought to these offsets: the next record due, for those not folded
        here yet (one folded here before goes on from the record after its last)."""
        for tp, offset in positions.items():
            self._next.setdefault((tp.topic, tp.partition), offset)

    def next_due(self, topic: str, partition: int) -> int | None:
        """The offset of the next record due to the fold (None: none folded here yet)."""
        return self._next.get((topic, partition))

    def gap_before(self, topic: str, partition: int, offset: int) -> int | None:
        """The first of the records skipped before `offset`, if any were."""
        expected = self._next.get((topic, partition))
        return expected if expected is not None and offset > expected else None

    def admit(self, topic: str, partition: int, offset: int) -> None:
        """Note the record at `offset` on its way to the fold; a skip before it is reported."""
        key = (topic, partition)
        expected = self._next.get(key)
        if expected is None or offset >= expected:
            if expected is not None and offset > expected:
                tp = TP(topic, partition)
                logger.warning(
                    "%s: records %s..%s never reached the fold (record %s came next)",
                    tp,
                    expected,
                    offset - 1,
                    offset,
                )
                if self._on_skip is not None:
                    self._on_skip(tp, expected, offset)
            self._next[key] = offset + 1
