"""Records of a partition skipped on their way to a fold: noticed, logged and counted.

faust can drop records it has fetched: those of a partition that is not active yet (its table
still recovering), and the rest of a batch when the group's generation changes. It relies on the
seek to the committed offset at the next assignment to read them again; aiokafka did not seek a
partition with no committed offset, which `app.worker.transport` now seeks to its beginning.
A skip that still happens is a lost probe, which the counts must never hide.

Seeking back to the missing record from here was tried: a seek from the event loop's thread was
undone by the fetch under way in the consumer's thread, and `seek_wait` in that thread stalled
the agent during a rebalance. So this only watches: per partition this worker keeps folding, the
offset of the next record due; a record past it is logged and counted (`records.skipped`), once
per skip. A record before it came again after a seek or a rebalance: the rows' offsets make it a
no-op. A partition that leaves this worker is forgotten (another worker folds it meanwhile).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

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

    def next_due(self, topic: str, partition: int) -> int | None:
        """The offset of the next record due to the fold (None: none folded here yet)."""
        return self._next.get((topic, partition))

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
