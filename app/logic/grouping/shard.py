"""The online fold of one shard: probes in, assignments out, state bounded.

A probe updates its MAC (span, sequence numbers, strongest signal, SSIDs), in any order and as
often as sniffers repeat it. Once a MAC's burst is over (`settle_s` of the shard's clock past its
last probe) it is placed in a scan: the open scan it continues (`decide.attach`) or a new one.
Once a scan is over (`scan_gap_s` more) it is decided as a whole: it continues the open group
`decide.choose` names, or starts a group named after its first MAC. A decided MAC's later probes
only keep its group's timing and counter current; it is never decided again while remembered,
so a group's id and its members' groups never change. MACs heard long ago and groups that can
no longer be continued are forgotten, and both are capped per shard.
"""

from __future__ import annotations

import bisect
import sys
from collections.abc import Iterable, Iterator
from itertools import filterfalse, islice
from operator import attrgetter

from app.logic.grouping.decide import Decision, attach, choose, scan_window
from app.logic.grouping.evidence import (
    add_ssids,
    as_history,
    continues_sequence,
    radio,
    remember_peaks,
    scan_signal,
)
from app.logic.grouping.params import DEFAULT_PARAMS, GroupingParams
from app.logic.grouping.records import Assignment, Link
from app.logic.grouping.state import GroupState, MacState, ScanState, ShardState
from app.models import ProbeEvent

#: Shard keys: by IE fingerprint, or by MAC for a probe without one (it can be linked to none).
FINGERPRINT_PREFIX = "fp:"
MAC_PREFIX = "mac:"


def shard_key(probe: ProbeEvent) -> str:
    """The key of the shard a probe belongs to: what candidates for one group share.

    In the cluster, probes re-keyed by it meet in one partition whatever their MAC."""
    if probe.ie_fingerprint:
        return FINGERPRINT_PREFIX + probe.ie_fingerprint
    return MAC_PREFIX + probe.mac


def observe(
    state: ShardState, probe: ProbeEvent, params: GroupingParams = DEFAULT_PARAMS
) -> list[Assignment]:
    """Fold one probe of this shard in; the MACs it lets be decided, scan by scan."""
    hear(state, probe, params)
    return advance(state, probe.ts, params)


def hear(state: ShardState, probe: ProbeEvent, params: GroupingParams = DEFAULT_PARAMS) -> None:
    """Fold one probe of this shard in without moving its clock: whoever calls it moves the
    clock (`advance`) once every probe up to that time has been heard (a watermark, when probes
    come from several places that do not keep in step)."""
    if shard_key(probe) != state.key:
        raise ValueError(f"probe of shard {shard_key(probe)!r} given to shard {state.key!r}")
    mac = state.pending.get(probe.mac) or state.macs.get(probe.mac)
    if mac is None:
        mac = MacState(
            mac=probe.mac,
            randomized=probe.randomized,
            first_ts=probe.ts,
            last_ts=probe.ts,
            first_seq=probe.seq,
            last_seq=probe.seq,
        )
        state.pending[probe.mac] = mac
    _hear(mac, probe, params)
    if mac.scan is None:  # pending: a probe may bring its time to be placed forward
        state.pending_due_from = min(state.pending_due_from, placed_at(mac, params))
    later: GroupState | ScanState | None = None
    if mac.group is not None:
        later = state.groups.get(mac.group)
    elif mac.scan is not None:
        later = state.scans.get(mac.scan)
    if later is not None and probe.ts >= later.last_ts:
        later.last_ts, later.last_seq, later.last_mac = probe.ts, probe.seq, probe.mac
        if mac.group is not None:
            _heard_last(state, mac.group)


def advance(
    state: ShardState, now: float, params: GroupingParams = DEFAULT_PARAMS
) -> list[Assignment]:
    """Move the shard's clock to `now` (never back), place the MACs and decide the scans that
    are due. Called by `observe`, and by a timer for a shard that has gone quiet."""
    return [a for step in advance_in_steps(state, now, params) for a in step]


def advance_in_steps(
    state: ShardState, now: float, params: GroupingParams = DEFAULT_PARAMS
) -> Iterator[list[Assignment]]:
    """`advance`, a step at a time: a few MACs placed, or one scan decided, each step leaving
    the shard whole, so whoever drives it may let other work run in between (a watermark
    that jumps can make one shard decide thousands of scans at once). What the steps decide
    is what `advance` decides, as long as nothing else changes the shard before the last
    step; a copy encoded in between holds what was decided so far and what waits, due now."""
    if now > state.clock:
        state.clock = now
    clock = state.clock
    for _ in _placing(state, _due_macs(state, clock, params), params):
        yield []
    yield from _deciding(state, _finished_scans(state, clock, params), params)
    if (
        clock - state.swept >= params.sweep_s
        or len(state.pending) + len(state.macs) > params.max_macs
        or len(state.groups) > params.max_groups
    ):
        yield from _sweeping(state, params)


#: How far ahead of the clock a scan must end, or a MAC be due, for `advance` to skip looking
#: (seconds): far more than the rounding of `scan_over_at` and `placed_at` against the exact
#: tests, so skipping changes nothing.
_OVER_MARGIN_S = 1e-3


def _due_macs(state: ShardState, clock: float, params: GroupingParams) -> list[MacState]:
    """The pending MACs whose burst is over at `clock`. As with the scans, a crowded shard
    holds a thousand, and looking through them on every record is skipped until the earliest
    is due."""
    if clock + _OVER_MARGIN_S < state.pending_due_from:
        return []
    due = []
    next_due = sys.float_info.max
    for mac in state.pending.values():
        at = placed_at(mac, params)
        if at <= clock:
            due.append(mac)
        elif at < next_due:
            next_due = at
    state.pending_due_from = next_due
    return due


def placed_at(mac: MacState, params: GroupingParams) -> float:
    """The clock at which a pending MAC's burst is over and it is placed."""
    return min(mac.last_ts + params.settle_s, mac.first_ts + params.longest_burst_s)


def _finished_scans(state: ShardState, clock: float, params: GroupingParams) -> list[ScanState]:
    """The open scans that are over at `clock`. In a busy shard most are not, and looking
    through a thousand scans on every probe was a sixth of a worker's time: each look also
    notes when the next one ends, and until then none is looked at."""
    if clock + _OVER_MARGIN_S < state.scans_over_from:
        return []
    over = clock - params.settle_s - params.scan_gap_s
    longest = clock - params.longest_burst_s - params.scan_gap_s
    finished = []
    next_over = sys.float_info.max
    for scan in state.scans.values():
        if scan.last_ts <= over or scan.first_ts <= longest:
            finished.append(scan)
        else:
            next_over = min(next_over, scan_over_at(scan, params))
    state.scans_over_from = next_over
    return finished


def scan_over_at(scan: ScanState, params: GroupingParams) -> float:
    """The clock at which the scan is over (no MAC continues it, or it has gone on too long)."""
    return (
        min(scan.last_ts + params.settle_s, scan.first_ts + params.longest_burst_s)
        + params.scan_gap_s
    )


def settle_all(state: ShardState, params: GroupingParams = DEFAULT_PARAMS) -> list[Assignment]:
    """Place every pending MAC and decide every scan, as if all were over (a replay's end)."""
    return [a for step in _settling_all(state, params) for a in step]


def _settling_all(state: ShardState, params: GroupingParams) -> Iterator[list[Assignment]]:
    """`settle_all` a step at a time, as `advance_in_steps` goes."""
    for _ in _placing(state, list(state.pending.values()), params):
        yield []
    yield from _deciding(state, list(state.scans.values()), params)


def _deciding(
    state: ShardState, scans: list[ScanState], params: GroupingParams
) -> Iterator[list[Assignment]]:
    """Decide `scans` in the order they began, one a step; one decided meanwhile (a row
    trimmed to fit a record between two steps) is not decided again."""
    for scan in sorted(scans, key=_scan_began):
        yield _decide(state, scan, params) if state.scans.get(scan.scan) is scan else []


def _began(mac: MacState) -> tuple[float, str]:
    return (mac.first_ts, mac.mac)


def _scan_began(scan: ScanState) -> tuple[float, str]:
    return (scan.first_ts, scan.scan)


def _fingerprint(state: ShardState) -> str | None:
    """The IE fingerprint the shard is keyed by; None for a shard of one MAC."""
    if state.key.startswith(FINGERPRINT_PREFIX):
        return state.key.removeprefix(FINGERPRINT_PREFIX)
    return None


def _hear(mac: MacState, probe: ProbeEvent, params: GroupingParams) -> None:
    """Add a probe to its MAC, whatever order probes come in."""
    mac.probes += 1
    if probe.ts < mac.first_ts:
        mac.first_ts, mac.first_seq = probe.ts, probe.seq
    if probe.ts >= mac.last_ts:
        mac.last_ts, mac.last_seq = probe.ts, probe.seq
    if probe.rssi_dbm is not None:
        key = radio(probe.sensor, probe.freq_mhz)
        peak = mac.peaks.get(key)
        if peak is None or probe.rssi_dbm > peak:
            mac.peaks[key] = probe.rssi_dbm
    if probe.ssid:
        add_ssids(mac.ssids, (probe.ssid,), params.max_ssids)


class _ScansByEnd:
    """The open scans in the order they ended, for placing many MACs at once (a watermark that
    moved far, a shard trimmed): each MAC looks only at the scans that ended within its
    `scan_window`, not at every open scan. (Where a MAC keeps its address for minutes, its scan
    ends far after it was placed, and a crowd of them leaves a thousand scans open.)"""

    def __init__(self, scans: Iterable[ScanState]) -> None:
        self.scans = {scan.scan: scan for scan in scans}
        self.keys = {name: (scan.last_ts, name) for name, scan in self.scans.items()}
        self.ends = sorted(self.keys.values())

    def ended_within(self, earliest: float, latest: float) -> list[ScanState]:
        start = bisect.bisect_left(self.ends, (earliest,))
        stop = bisect.bisect_right(self.ends, (latest, _AFTER_EVERY_NAME))
        return [self.scans[name] for _, name in self.ends[start:stop]]

    def placed(self, scan: ScanState) -> None:
        """The scan a MAC was placed in: new, or its end may have moved."""
        old = self.keys.get(scan.scan)
        key = (scan.last_ts, scan.scan)
        if old == key:
            return
        if old is not None:
            del self.ends[bisect.bisect_left(self.ends, old)]
        self.scans[scan.scan] = scan
        self.keys[scan.scan] = key
        bisect.insort(self.ends, key)


#: Greater than any scan name (a MAC address string), for the end of a range of `ends`.
_AFTER_EVERY_NAME = "\U0010ffff"
#: From this many MACs placed at once, `_ScansByEnd` is worth building.
_INDEX_FROM = 8
#: MACs placed in one step of `advance_in_steps`.
PLACED_PER_STEP = 32


def _place_all(state: ShardState, macs: list[MacState], params: GroupingParams) -> None:
    """Place MACs whose bursts are over, in the order they began."""
    for _ in _placing(state, macs, params):
        pass


def _placing(state: ShardState, macs: list[MacState], params: GroupingParams) -> Iterator[None]:
    """`_place_all`, pausing after every `PLACED_PER_STEP` MACs (with the shard whole). What
    changed the shard in a pause (a row trimmed to fit a record decides what waits) is taken
    as it is: a MAC placed meanwhile is not placed again, a scan decided is not continued."""
    if not macs:
        return
    ordered = sorted(macs, key=_began)
    if len(macs) < _INDEX_FROM:
        for mac in ordered:
            _place(state, mac, list(state.scans.values()), params)
        yield
        return
    by_end = _ScansByEnd(state.scans.values())
    for placed, mac in enumerate(ordered, 1):
        if state.pending.get(mac.mac) is mac:
            window = by_end.ended_within(*scan_window(mac.first_ts, params))
            window = [scan for scan in window if state.scans.get(scan.scan) is scan]
            by_end.placed(_place(state, mac, window, params))
        if placed % PLACED_PER_STEP == 0 or placed == len(ordered):
            yield


def _place(
    state: ShardState, mac: MacState, open_scans: list[ScanState], params: GroupingParams
) -> ScanState:
    """Put a MAC whose burst is over in the open scan it continues, or in a new one (returned)."""
    del state.pending[mac.mac]
    state.macs[mac.mac] = mac
    state.macs_heard_from = min(state.macs_heard_from, mac.last_ts)
    fingerprint = _fingerprint(state)
    decision: Decision[ScanState] = Decision()
    if fingerprint is not None:
        decision = attach(mac, open_scans, fingerprint, params)
    if decision.target is not None and decision.link is not None:
        scan = decision.target
        scan.links[mac.mac] = decision.link
        _count_change(scan, decision.link, params)
    else:
        scan = state.scans.get(mac.mac) or ScanState(
            scan=mac.mac,
            randomized=mac.randomized,
            first_ts=mac.first_ts,
            last_ts=mac.last_ts,
            first_seq=mac.first_seq,
            last_seq=mac.last_seq,
            last_mac=mac.mac,
            doubt=bool(decision.tied),
        )
        state.scans[scan.scan] = scan
    scan.macs.append(mac.mac)
    if mac.first_ts < scan.first_ts:
        scan.first_ts, scan.first_seq = mac.first_ts, mac.first_seq
    if mac.last_ts >= scan.last_ts:
        scan.last_ts, scan.last_seq, scan.last_mac = mac.last_ts, mac.last_seq, mac.mac
    remember_peaks(scan.peaks, as_history(mac.peaks), params.max_scan_macs)
    add_ssids(scan.ssids, mac.ssids, params.max_ssids)
    mac.scan = scan.scan
    state.scans_over_from = min(state.scans_over_from, scan_over_at(scan, params))
    return scan


def _count_change(side: ScanState | GroupState, link: Link, params: GroupingParams) -> None:
    """Count a MAC change: did the sequence counter go on across it?"""
    if link.seq_step is None:
        return
    if continues_sequence(link.seq_step, params.seq_step_max):
        side.seq_kept += 1
    else:
        side.seq_reset += 1


def _heard_last(state: ShardState, group: str) -> None:
    """Keep `state.groups` in the order its groups were last heard: the newest last."""
    state.groups[group] = state.groups.pop(group)


def _recent_groups(state: ShardState, params: GroupingParams) -> list[GroupState]:
    """The groups heard last, twice as many as `choose` examines (it picks the most recent of
    them by capture time): in a busy shard of a thousand open groups, a decision looks at
    a hundred, not at all of them."""
    return list(
        islice(
            filterfalse(attrgetter("doubt"), reversed(state.groups.values())),
            2 * params.max_candidates,
        )
    )


def _decide(state: ShardState, scan: ScanState, params: GroupingParams) -> list[Assignment]:
    """Decide a finished scan: it continues the group `choose` names, or starts its own; every
    MAC of it is assigned that group (the first with the scan's link, the others with theirs)."""
    del state.scans[scan.scan]
    fingerprint = _fingerprint(state)
    decision: Decision[GroupState] = Decision()
    if fingerprint is not None:
        decision = choose(scan, _recent_groups(state, params), fingerprint, params)
    link = decision.link
    if decision.target is not None and link is not None:
        group = decision.target
        _count_change(group, link, params)
    else:
        # A group of its own, named after its first MAC (found again if that MAC returns).
        group = state.groups.get(scan.scan) or GroupState(
            group=scan.scan,
            randomized=scan.randomized,
            first_ts=scan.first_ts,
            last_ts=scan.last_ts,
            last_mac=scan.last_mac,
            last_seq=scan.last_seq,
            members=0,
            doubt=[g.group for g in decision.tied],
        )
        state.groups[group.group] = group
    group.members += len(scan.macs)
    group.randomized = group.randomized and scan.randomized
    group.first_ts = min(group.first_ts, scan.first_ts)
    if scan.last_ts >= group.last_ts:
        group.last_ts, group.last_seq, group.last_mac = scan.last_ts, scan.last_seq, scan.last_mac
        _heard_last(state, group.group)
    group.seq_kept += scan.seq_kept
    group.seq_reset += scan.seq_reset
    remember_peaks(group.peaks, scan_signal(scan.peaks), params.rssi_history)
    add_ssids(group.ssids, scan.ssids, params.max_ssids)
    decided = []
    for index, name in enumerate(scan.macs):
        mac = state.macs[name]
        mac.group = group.group
        decided.append(
            Assignment(
                mac=name,
                group=group.group,
                decided_ts=state.clock,
                first_ts=mac.first_ts,
                last_ts=mac.last_ts,
                link=link if index == 0 else scan.links.get(name),
                doubt=tuple(group.doubt),
            )
        )
    return decided


def _forget_macs(state: ShardState, before: float) -> None:
    """Forget the decided MACs last heard before `before`, and note when the oldest one left
    was (a shard of 2,000 MACs looked through them all at every sweep)."""
    oldest = sys.float_info.max
    gone = []
    for name, mac in state.macs.items():
        if mac.group is not None and mac.last_ts < before:
            gone.append(name)
        elif mac.last_ts < oldest:
            oldest = mac.last_ts
    for name in gone:
        del state.macs[name]
    state.macs_heard_from = oldest


def _below(cap: int) -> int:
    """What a cap trims down to: a tenth below it, so that a shard at its cap pays for a sort
    now and then, not for every new MAC or group."""
    return cap - cap // 10


def _last(mac: MacState) -> float:
    return mac.last_ts


def _sweeping(state: ShardState, params: GroupingParams) -> Iterator[list[Assignment]]:
    """Forget what can no longer matter, then enforce the caps (oldest first); a step at a
    time where the MAC cap makes every waiting MAC and scan be decided at once.

    A group stays open while something not yet decided could still continue it: its silence is
    at most `max_gap_s` counted from the earliest pending MAC or open scan (or from the clock,
    less the time a MAC and a scan take to be decided)."""
    state.swept = state.clock
    horizon = state.clock - params.settle_s - params.scan_gap_s
    waiting = [m.first_ts for m in state.pending.values()]
    waiting += [s.first_ts for s in state.scans.values()]
    if waiting:
        horizon = min(horizon, min(waiting))
    for gid in [g for g, grp in state.groups.items() if horizon - grp.last_ts > params.max_gap_s]:
        del state.groups[gid]
    if len(state.groups) > params.max_groups:
        oldest = sorted(state.groups.values(), key=lambda g: g.last_ts)
        for group in oldest[: len(state.groups) - _below(params.max_groups)]:
            del state.groups[group.group]
    forget = state.clock - params.forget_mac_s
    if forget > state.macs_heard_from:
        _forget_macs(state, forget)
    held = len(state.pending) + len(state.macs)
    if held > params.max_macs:
        # Decided MACs first, the oldest: what waits is decided only if that is not enough.
        done = sorted((m for m in state.macs.values() if m.group is not None), key=_last)
        for mac in done[: held - _below(params.max_macs)]:
            del state.macs[mac.mac]
    if len(state.pending) + len(state.macs) > params.max_macs:
        # The cap beats waiting for the end of bursts.
        last: list[Assignment] = []
        for step in _settling_all(state, params):
            if last:
                yield last
            last = step
        excess = len(state.macs) - _below(params.max_macs)
        for mac in sorted(state.macs.values(), key=_last)[: max(excess, 0)]:
            del state.macs[mac.mac]
        yield last
