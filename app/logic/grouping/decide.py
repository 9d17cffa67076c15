"""What a newcomer continues, if anything: the linking rules, applied twice.

A settled MAC may join an open scan (`attach`: MACs of one scan follow one another within
`scan_gap_s`), and a finished scan may continue an open group (`choose`: up to `max_gap_s`
after the group fell silent). Both read the same evidence (`assess`), with the same shard key
(IE fingerprint) as a precondition. A candidate is ruled out when the evidence contradicts the
link: signals too far apart, a fixed MAC without its sequence counter continued and its signal
agreeing, or two sides that treat their counter differently (one keeps it across MAC changes,
the other starts afresh). What is left is ranked: a continued counter of a device known to keep
it first, then a continued counter whose habit is not known yet, then timing (a scan soon after
the group's last probe, or after a silence with signal or SSIDs that agree). The best one is
taken only if nothing else ranks as high; a tie that SSIDs or the signal cannot break leaves the
newcomer alone, in doubt, because a missed link costs less than two people counted as one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import Generic, Protocol, TypeVar

from app.logic.grouping.evidence import (
    SeqHabit,
    as_history,
    continues_sequence,
    rssi_distance,
    seq_step,
    sequence_habit,
    shared_ssids,
)
from app.logic.grouping.params import GroupingParams
from app.logic.grouping.records import STRENGTH, Link, LinkKind
from app.logic.grouping.state import GroupState, MacState, ScanState

#: Rank of each kind of link: a higher rank wins. A continued counter ranks first only for a
#: device known to keep it; otherwise just above timing, since for a device that starts it
#: afresh one open group in 64 continues it by chance, and a busy shard offers many chances.
#: Timing ranks no group above another: the group heard a second ago is as likely to be another
#: device that scanned at the same moment; the signal decides between them.
RANK_SEQUENCE_HABIT = 3.0
RANK_SEQUENCE = 1.5
RANK_TIMING = 1.0

#: Seconds a time window is widened by before `assess` applies it exactly.
_WINDOW_MARGIN_S = 1e-3


class Target(Protocol):
    """What a newcomer may continue: an open scan or an open group."""

    @property
    def randomized(self) -> bool: ...
    @property
    def last_ts(self) -> float: ...
    @property
    def last_seq(self) -> int | None: ...
    @property
    def last_mac(self) -> str: ...
    @property
    def seq_kept(self) -> int: ...
    @property
    def seq_reset(self) -> int: ...
    @property
    def peaks(self) -> dict[str, list[int]]: ...
    @property
    def ssids(self) -> list[str]: ...


T = TypeVar("T", bound=Target)


@dataclass(frozen=True, slots=True)
class Newcomer:
    """A settled MAC or a finished scan, as the rules see it."""

    first_ts: float
    first_seq: int | None
    randomized: bool
    peaks: dict[str, list[int]]
    ssids: list[str]
    seq_kept: int = 0
    seq_reset: int = 0
    #: What it does with its counter (`sequence_habit`), found once for every target assessed.
    habit: SeqHabit = "unknown"

    @classmethod
    def of_mac(cls, mac: MacState, params: GroupingParams) -> Newcomer:
        return cls(
            mac.first_ts,
            mac.first_seq,
            mac.randomized,
            as_history(mac.peaks),
            mac.ssids,
            habit=sequence_habit(0, 0, params.seq_habit_changes),
        )

    @classmethod
    def of_scan(cls, scan: ScanState, params: GroupingParams) -> Newcomer:
        return cls(
            scan.first_ts,
            scan.first_seq,
            scan.randomized,
            scan.peaks,
            scan.ssids,
            scan.seq_kept,
            scan.seq_reset,
            sequence_habit(scan.seq_kept, scan.seq_reset, params.seq_habit_changes),
        )


@dataclass(frozen=True, slots=True)
class Candidate(Generic[T]):
    """A target the newcomer could continue, with what each signal said."""

    target: T
    kind: LinkKind
    rank: float
    gap_s: float
    seq_step: int | None
    rssi_diff_db: float | None
    shared_ssids: tuple[str, ...] = field(default=())


def assess(
    new: Newcomer, target: T, max_gap_s: float, params: GroupingParams
) -> Candidate[T] | None:
    """The evidence that `new` continues `target`; None when it rules the link out."""
    gap = new.first_ts - target.last_ts
    if gap < -params.overlap_s or gap > max_gap_s:
        return None
    theirs = sequence_habit(target.seq_kept, target.seq_reset, params.seq_habit_changes)
    mine = new.habit
    if theirs != mine and "unknown" not in (theirs, mine):
        return None  # one keeps its counter across MAC changes, the other does not
    keeps = "keeps" in (theirs, mine)
    step = seq_step(target.last_seq, new.first_seq)
    # For a device that starts its counter afresh, a step in the window is chance.
    in_sequence = continues_sequence(step, params.seq_step_max) and "resets" not in (theirs, mine)
    if not in_sequence and (keeps or not (new.randomized and target.randomized)):
        return None
    distance = rssi_distance(new.peaks, target.peaks, params.radio_spread_db)
    if distance is not None and distance.beyond_spread > params.rssi_tolerance_db:
        return None
    diff = None if distance is None else distance.measured
    if diff is None and not (new.randomized and target.randomized):
        return None  # a fixed MAC: its counter alone is not strong enough
    shared = shared_ssids(new.ssids, target.ssids)
    if in_sequence:
        if keeps:
            return Candidate(target, "sequence", RANK_SEQUENCE_HABIT, gap, step, diff, shared)
        kind: LinkKind = "sequence"
        rank = RANK_SEQUENCE
    elif gap <= params.burst_gap_s:
        kind, rank = "burst", RANK_TIMING
    elif diff is not None or shared:
        kind, rank = "handover", RANK_TIMING
    else:
        return None  # a silence, then a new MAC, and nothing else to go on: too weak
    return Candidate(target, kind, rank, gap, step, diff, shared)


def attach(
    mac: MacState, scans: list[ScanState], fingerprint: str, params: GroupingParams
) -> Decision[ScanState]:
    """The open scan a settled MAC belongs to, and how; or the scans it fits alike; or none.

    A fixed MAC is a scan of its own, and no MAC joins its scan, nor a scan begun in doubt."""
    if not mac.randomized:
        return Decision()
    new = Newcomer.of_mac(mac, params)
    # `assess` rules out a scan that did not end within the window; testing that first spares
    # a crowded shard, where a MAC meets hundreds of open scans, as many calls of `assess`.
    earliest, latest = scan_window(mac.first_ts, params)
    open_scans = [
        s
        for s in scans
        if earliest <= s.last_ts <= latest
        and s.randomized
        and not s.doubt
        and len(s.macs) < params.max_scan_macs
    ]
    found = [c for s in open_scans if (c := assess(new, s, params.scan_gap_s, params))]
    return _decision(found, fingerprint, params)


def scan_window(first_ts: float, params: GroupingParams) -> tuple[float, float]:
    """When a scan a MAC first heard at `first_ts` may join must have ended: a little wider
    than what `assess` then applies exactly, so that rounding never drops a scan it keeps."""
    return (
        first_ts - params.scan_gap_s - _WINDOW_MARGIN_S,
        first_ts + params.overlap_s + _WINDOW_MARGIN_S,
    )


def choose(
    scan: ScanState, groups: list[GroupState], fingerprint: str, params: GroupingParams
) -> Decision[GroupState]:
    """The open group a finished scan continues, and how; or the groups it fits alike; or
    none. Groups begun in doubt are no candidates; only the `max_candidates` groups heard last
    are examined."""
    new = Newcomer.of_scan(scan, params)
    # What heapq.nlargest documents itself to be, in C: one sort of a list heard-last first,
    # so nearly in order already.
    recent = sorted((g for g in groups if not g.doubt), key=attrgetter("last_ts"), reverse=True)[
        : params.max_candidates
    ]
    found = [c for g in recent if (c := assess(new, g, params.max_gap_s, params))]
    return _decision(found, fingerprint, params)


@dataclass(frozen=True, slots=True)
class Decision(Generic[T]):
    """What a newcomer continues (`target`, `link`), or, when several fitted alike and none
    was clearly best, which ones (`tied`); all empty: nothing fitted."""

    target: T | None = None
    link: Link | None = None
    tied: tuple[T, ...] = ()


def _decision(found: list[Candidate[T]], fingerprint: str, params: GroupingParams) -> Decision[T]:
    """The best candidate and its link, unless none is clearly best."""
    if not found:
        return Decision()
    best_rank = max(c.rank for c in found)
    top = [c for c in found if c.rank == best_rank]
    chosen = top[0] if len(top) == 1 else _break_tie(top, params)
    if chosen is None:
        return Decision(tied=tuple(c.target for c in top))
    return Decision(
        chosen.target,
        Link(
            kind=chosen.kind,
            strength=STRENGTH[chosen.kind],
            fingerprint=fingerprint,
            follows=chosen.target.last_mac,
            gap_s=chosen.gap_s,
            seq_step=chosen.seq_step,
            rssi_diff_db=chosen.rssi_diff_db,
            shared_ssids=chosen.shared_ssids,
            rivals=len(found) - 1,
        ),
    )


def _break_tie(top: list[Candidate[T]], params: GroupingParams) -> Candidate[T] | None:
    """Among equally ranked candidates: the only one sharing an SSID, else the one nearer in
    signal by at least `rssi_margin_db` (all signals known); otherwise none."""
    with_ssids = [c for c in top if c.shared_ssids]
    if len(with_ssids) == 1:
        return with_ssids[0]
    diffs = sorted((c.rssi_diff_db, i) for i, c in enumerate(top) if c.rssi_diff_db is not None)
    if len(diffs) == len(top) and diffs[1][0] - diffs[0][0] >= params.rssi_margin_db:
        return top[diffs[0][1]]
    return None
