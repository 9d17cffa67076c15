"""Many shards behind one object: what a replay, a benchmark or a test feeds probes to.

In the cluster each shard lives in the partition its key hashes to (probes re-keyed by
`shard_key`), so no process needs this object; it is the same fold, shard by shard.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.logic.grouping.params import DEFAULT_PARAMS, GroupingParams
from app.logic.grouping.records import Assignment
from app.logic.grouping.shard import advance, observe, settle_all, shard_key
from app.logic.grouping.state import ShardState
from app.models import ProbeEvent

__all__ = ["Grouper", "shard_key"]


class Grouper:
    """The shards of a stream, created as their keys first appear."""

    def __init__(self, params: GroupingParams = DEFAULT_PARAMS) -> None:
        self.params = params
        self.shards: dict[str, ShardState] = {}

    def observe(self, probe: ProbeEvent) -> list[Assignment]:
        """Fold one probe into its shard; the MACs decided by it."""
        key = shard_key(probe)
        state = self.shards.get(key)
        if state is None:
            state = self.shards[key] = ShardState(key=key)
        return observe(state, probe, self.params)

    def observe_all(self, probes: Iterable[ProbeEvent]) -> list[Assignment]:
        """Fold probes in order, then decide every MAC still pending (a replay's end)."""
        decided = [a for probe in probes for a in self.observe(probe)]
        return decided + self.finish()

    def advance(self, now: float) -> list[Assignment]:
        """Move every shard's clock to `now` (a timer): MACs of quiet shards get decided."""
        return [a for state in self.shards.values() for a in advance(state, now, self.params)]

    def finish(self) -> list[Assignment]:
        """Decide every MAC still pending."""
        return [a for state in self.shards.values() for a in settle_all(state, self.params)]
