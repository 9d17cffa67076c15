"""A shard's fold as the cluster runs it: records in, guarded; time moved by a watermark; the
state kept small enough for one changelog record.

- `fold_records`: the probes of several `probes` records for one shard, each record applied at
  most once (`ShardRow.sources`: per `probes` partition, the last record applied), heard in
  capture-time order without moving the shard's clock.
- `Sources`: the clock. A partition of `group-probes` hears from every partition of `probes`,
  each folded by whichever worker owns it, each flush a while apart: a replay folded by two
  workers delivers one half of the crowd, then the other, each spanning the whole capture. So
  the clock of a partition's shards is a watermark: the oldest of what each `probes`
  partition has reported (its newest capture time), less a little lateness. A partition that
  reported nothing for a while is left out, so a silent or dead one holds nothing back (what
  it sends later is late, as a probe heard late always was).
- `due_at` / `expires_at`: when the shard next has something to decide (a MAC's burst over, a
  scan finished), and when it will have forgotten everything. When every `probes` partition is
  silent (a replay's end), each shard is moved to its due time (`run_due`), never further:
  what gets decided is what a probe heard a moment later would have let be decided.
- `fit`: the row as JSON, trimmed when it would not fit in one Kafka record: the oldest MACs and
  groups go first (what the shard's own caps do, with smaller caps).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable, Sequence

import msgspec

from app.logic.grouping.params import DEFAULT_PARAMS, GroupingParams
from app.logic.grouping.records import Assignment
from app.logic.grouping.shard import advance, hear, placed_at, scan_over_at
from app.logic.grouping.state import ShardState
from app.models import ProbeEvent

#: The `probes` partition a guard entry is for.
SOURCE_PREFIX = "probes:"
#: A row larger than this is trimmed (a Kafka record's default limit is 1 MiB).
MAX_ROW_BYTES = 768 * 1024
#: Moving a quiet shard on decides its MACs and scans in a few steps; this bounds the loop.
MAX_DUE_STEPS = 64


class ShardRow(msgspec.Struct):
    """A `group-shards` row: the shard's state and, per `probes` partition (`probes:3`), the
    offset of the last record whose probes it holds."""

    state: ShardState
    sources: dict[str, int] = msgspec.field(default_factory=dict)


_DECODE_ROW = msgspec.json.Decoder(ShardRow).decode
_ENCODE = msgspec.json.encode


def new_row(key: str) -> ShardRow:
    return ShardRow(ShardState(key=key))


def row_from_json(data: object) -> ShardRow:
    """A row as the table's store hands it back (decoded JSON)."""
    return msgspec.convert(data, ShardRow)


def decode_row(raw: bytes) -> ShardRow:
    return _DECODE_ROW(raw)


def fold_records(
    row: ShardRow,
    records: Iterable[tuple[int, int, Sequence[ProbeEvent]]],
    params: GroupingParams = DEFAULT_PARAMS,
) -> tuple[int, int]:
    """Hear the records' probes of this shard that the row does not hold yet, in capture time
    order, leaving the clock where it is (`advance` moves it): (probes heard, probes skipped as
    held already)."""
    sources = row.sources
    fresh: list[tuple[float, int, int, int, ProbeEvent]] = []
    newest: dict[str, int] = {}
    skipped = 0
    for partition, offset, probes in records:
        name = f"{SOURCE_PREFIX}{partition}"
        if offset <= sources.get(name, -1):
            skipped += len(probes)
            continue
        newest[name] = max(newest.get(name, -1), offset)
        fresh.extend((p.ts, partition, offset, i, p) for i, p in enumerate(probes))
    fresh.sort(key=lambda item: item[:4])
    state = row.state
    for *_, probe in fresh:
        hear(state, probe, params)
    sources.update(newest)
    return len(fresh), skipped


class Sources:
    """What each partition of `probes` reported to one partition of `group-probes`: its newest
    capture time, and when (wall clock, seconds) it last reported. Kept in memory: a worker that
    starts afresh waits `idle_s` for the partitions to report again."""

    def __init__(self, expected: int, since: float, idle_s: float, lateness_s: float) -> None:
        #: The partitions of `probes`: each one counts until it proves silent.
        self.expected = expected
        #: When this worker began to hold the partition: one never heard from counts until then
        #: plus `idle_s`.
        self.since = since
        self.idle_s = idle_s
        self.lateness_s = lateness_s
        self.reported: dict[int, tuple[float, float]] = {}

    def report(self, partition: int, newest: float, now: float) -> None:
        held = self.reported.get(partition)
        self.reported[partition] = (newest if held is None else max(held[0], newest), now)

    def watermark(self, now: float) -> float | None:
        """The capture time every live partition has reported beyond (less the lateness):
        -inf while one that may still report has not; None when all are silent."""
        marks = []
        for partition in range(self.expected):
            held = self.reported.get(partition)
            if held is None:
                if now - self.since < self.idle_s:
                    return float("-inf")
                continue
            newest, heard = held
            if now - heard < self.idle_s:
                marks.append(newest)
        return min(marks) - self.lateness_s if marks else None


def due_at(state: ShardState, params: GroupingParams = DEFAULT_PARAMS) -> float | None:
    """The shard clock at which `advance` next places a MAC or decides a scan; None when
    nothing waits. Having looked, it leaves the shard's bounds (`due_from`) exact."""
    nothing = sys.float_info.max
    state.pending_due_from = min(
        (placed_at(m, params) for m in state.pending.values()), default=nothing
    )
    state.scans_over_from = min(
        (scan_over_at(s, params) for s in state.scans.values()), default=nothing
    )
    return due_from(state)


def due_from(state: ShardState) -> float | None:
    """No later than `due_at`, without looking through the shard (the bounds `advance` and
    `hear` keep); None exactly when nothing waits. A crowded shard waits for a thousand MACs,
    and looking through them on every record was a tenth of a busy worker's time."""
    if not (state.pending or state.scans):
        return None
    return min(state.pending_due_from, state.scans_over_from)


def expires_at(state: ShardState, params: GroupingParams = DEFAULT_PARAMS) -> float | None:
    """The shard clock by which, nothing more heard, it has forgotten every MAC and closed every
    group (and can be deleted); None when it holds nothing."""
    if not (state.pending or state.scans or state.macs or state.groups):
        return None
    latest = [m.last_ts + params.forget_mac_s for m in state.macs.values()]
    latest += [
        g.last_ts + params.max_gap_s + params.settle_s + params.scan_gap_s
        for g in state.groups.values()
    ]
    latest += [m.last_ts + params.forget_mac_s for m in state.pending.values()]
    latest += [s.last_ts + params.forget_mac_s for s in state.scans.values()]
    return max(latest) + params.settle_s


def is_empty(state: ShardState) -> bool:
    return not (state.pending or state.scans or state.macs or state.groups)


def run_due(state: ShardState, params: GroupingParams = DEFAULT_PARAMS) -> list[Assignment]:
    """Move a quiet shard's clock to each time something is due, until nothing waits: every
    MAC placed and every scan decided, as if probes had gone on arriving a moment later."""
    decided: list[Assignment] = []
    for _ in range(MAX_DUE_STEPS):
        due = due_at(state, params)
        if due is None:
            break
        decided += advance(state, max(due, state.clock), params)
    return decided


def expire(state: ShardState, params: GroupingParams = DEFAULT_PARAMS) -> list[Assignment]:
    """Move a shard that stayed quiet past `expires_at` there: what waits is decided, every
    MAC forgotten and every group closed."""
    decided = run_due(state, params)
    until = expires_at(state, params)
    if until is not None:
        decided += advance(state, max(until, state.clock), params)
    return decided


def encode_row(row: ShardRow) -> bytes:
    return _ENCODE(row)


def fit(
    row: ShardRow, params: GroupingParams = DEFAULT_PARAMS, max_bytes: int = MAX_ROW_BYTES
) -> tuple[bytes, list[Assignment], int]:
    """The row as JSON, at most `max_bytes`: trimmed if need be, the oldest MACs and groups
    first, by halving the shard's caps (pending MACs are decided at once then, as the caps
    do). (the JSON, the MACs decided by trimming, how many times it was halved)."""
    encoded = encode_row(row)
    decided: list[Assignment] = []
    halvings = 0
    while len(encoded) > max_bytes and halvings < 16:
        halvings += 1
        state = row.state
        smaller = dataclasses.replace(
            params,
            max_macs=max(1, (len(state.pending) + len(state.macs)) // 2),
            max_groups=max(1, len(state.groups) // 2),
        )
        state.swept = state.clock - params.settle_s  # so that this advance sweeps
        decided += advance(state, state.clock, smaller)
        encoded = encode_row(row)
    return encoded, decided, halvings
