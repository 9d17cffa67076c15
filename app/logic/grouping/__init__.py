"""Randomized MACs grouped into probable physical devices, online (issue 14).

Pure logic: probes in, in arrival order, one assignment per MAC out (its group and the evidence
that linked it). State is kept per shard key (`shard_key`: the IE fingerprint), so that in the
cluster the probes that may belong together meet in one partition once re-keyed by it, and the
state of a shard is a plain msgspec value a changelog-backed table can hold.

- `params`: the thresholds, each with the reason for its value
- `state`: the serialisable state of a shard (MACs not yet decided, open groups)
- `evidence`: what one signal says (sequence numbers, timing, signal strength, SSIDs)
- `decide`: which open group a newly settled MAC continues, if any, and why
- `shard`: the online fold of one shard (observe, settle, forget)
- `grouper`: many shards behind one object, for replays and tests
- `records`: what comes out: an Assignment, with its Link evidence
- `score`: B-cubed and pairwise scores of groups against labels
"""

from app.logic.grouping.grouper import Grouper, shard_key
from app.logic.grouping.params import DEFAULT_PARAMS, GroupingParams
from app.logic.grouping.records import Assignment, Link
from app.logic.grouping.shard import advance, observe
from app.logic.grouping.state import ShardState, decode_shard, encode_shard

__all__ = [
    "DEFAULT_PARAMS",
    "Assignment",
    "Grouper",
    "GroupingParams",
    "Link",
    "ShardState",
    "advance",
    "decode_shard",
    "encode_shard",
    "observe",
    "shard_key",
]
