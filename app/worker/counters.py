"""Counts of what this worker accepted and rejected, so bad input is visible, not silent."""

from __future__ import annotations

import logging
from collections import Counter

logger = logging.getLogger(__name__)

#: How many rejections of one kind are logged in full before only every 1000th is.
LOG_FIRST = 20


class EventCounters:
    """Per-process counters of stream events by outcome (`probes.accepted`, `probes.rejected.*`)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def incr(self, name: str, amount: int = 1) -> None:
        self.counts[name] += amount

    def reject(self, stream: str, reason: str, detail: str) -> None:
        """Count a rejected message and log it, without letting a flood of them flood the log."""
        key = f"{stream}.rejected.{reason}"
        self.counts[key] += 1
        seen = self.counts[key]
        if seen <= LOG_FIRST or seen % 1000 == 0:
            logger.warning("rejected %s message (%s, #%d): %s", stream, reason, seen, detail)

    def snapshot(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))


counters = EventCounters()
