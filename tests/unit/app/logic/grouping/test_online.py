"""The shard's fold as the cluster runs it (`app.logic.grouping.online`): guarded records, the
watermark over the `probes` partitions, moving quiet shards on, and rows that fit a record."""

from __future__ import annotations

import copy
import random

import pytest

from app.logic.grouping import DEFAULT_PARAMS, Assignment, Grouper, advance, shard, shard_key
from app.logic.grouping.online import (
    ShardRow,
    Sources,
    decode_row,
    due_at,
    due_from,
    encode_row,
    expire,
    expires_at,
    fit,
    fold_records,
    is_empty,
    new_row,
    row_from_json,
    run_due,
)
from app.logic.grouping.shard import settle_all
from app.models import ProbeEvent
from tests.unit.app.logic.grouping.streams import (
    FP,
    T0,
    Phone,
    alike_crowd,
    probe,
    random_mac,
)

KEY = f"fp:{FP}"


def _by_mac(assignments: list[Assignment]) -> dict[str, str]:
    first: dict[str, str] = {}
    for a in assignments:
        first.setdefault(a.mac, a.group)
    return first


def test_records_at_or_below_the_guard_are_skipped_and_the_rest_heard() -> None:
    row = new_row(KEY)
    probes = alike_crowd(phones=1, scans=2)
    heard, skipped = fold_records(row, [(3, 10, probes[:4]), (5, 2, probes[4:])])
    assert (heard, skipped) == (len(probes), 0)
    assert row.sources == {"probes:3": 10, "probes:5": 2}
    again = fold_records(row, [(3, 10, probes[:4]), (3, 9, probes[:1]), (5, 3, probes[:1])])
    assert again == (1, 5)
    assert row.sources == {"probes:3": 10, "probes:5": 3}
    assert row.state.clock == 0.0, "hearing moves no clock: the watermark does"


def test_halves_heard_one_after_the_other_then_moved_on_decide_as_in_order() -> None:
    """Two workers' flushes, each spanning the whole crowd: heard one after the other and
    moved on by the watermark, the shard decides what it decides in capture order."""
    crowd = alike_crowd()
    offline = _by_mac(Grouper().observe_all(crowd))
    row = new_row(KEY)
    halves = [[p for p in crowd if int(p.mac[-1], 16) % 2 == side] for side in (0, 1)]
    decided: list[Assignment] = []
    fold_records(row, [(1, 7, halves[1])])
    fold_records(row, [(0, 4, halves[0])])
    decided += advance(row.state, max(p.ts for p in crowd), DEFAULT_PARAMS)
    decided += run_due(row.state)
    assert _by_mac(decided) == offline
    assert due_at(row.state) is None


def test_moving_a_quiet_shard_to_its_due_times_decides_as_the_end_of_a_replay() -> None:
    crowd = alike_crowd(seed=5)
    grouper = Grouper()
    for p in crowd:
        grouper.observe(p)
    row = ShardRow(grouper.shards[KEY])
    assert decode_row(encode_row(row)) == row
    ended = row_from_json(_json(row))
    by_due = run_due(row.state)
    by_end = settle_all(ended.state)
    assert _by_mac(by_due) == _by_mac(by_end) and by_due
    assert row.state.clock <= max(p.ts for p in crowd) + DEFAULT_PARAMS.longest_burst_s + 1


def _json(row: ShardRow) -> object:
    import orjson

    return orjson.loads(encode_row(row))


def test_an_expired_shard_is_empty_and_its_expiry_follows_its_newest_memory() -> None:
    row = new_row(KEY)
    crowd = alike_crowd(phones=2, scans=2)
    fold_records(row, [(0, 1, crowd)])
    expires = expires_at(row.state)
    assert expires is not None and expires >= max(p.ts for p in crowd) + 900
    decided = expire(row.state)
    assert {a.mac for a in decided} == {p.mac for p in crowd}
    assert is_empty(row.state) and expires_at(row.state) is None


def test_a_row_too_large_for_a_record_is_trimmed_oldest_first() -> None:
    row = new_row(KEY)
    rng = random.Random(9)
    phones = [Phone(rng, rssi=-30 - i) for i in range(40)]
    probes = sorted(
        (p for t in range(30) for ph in phones for p in ph.scan(T0 + 30 * t + rng.random())),
        key=lambda p: p.ts,
    )
    fold_records(row, [(0, 1, probes)])
    advance(row.state, probes[-1].ts)
    held = {m.mac: m.last_ts for m in [*row.state.macs.values(), *row.state.pending.values()]}
    full = len(encode_row(row))
    encoded, decided, halvings = fit(row, max_bytes=full // 3)
    assert len(encoded) <= full // 3 and halvings >= 1
    assert encoded == encode_row(row)
    kept = set(row.state.macs) | set(row.state.pending)
    dropped = set(held) - kept
    assert dropped and max(held[m] for m in dropped) <= min(held[m] for m in kept)
    assert {a.mac for a in decided} <= set(held)
    waiting = {m.mac for m in row.state.pending.values()}
    assert waiting <= kept, "decided MACs are dropped first; what waits is kept"
    untouched, _, none = fit(row)
    assert none == 0 and untouched == encode_row(row)


def test_the_watermark_waits_for_every_partition_then_leaves_the_silent_out() -> None:
    sources = Sources(expected=3, since=100.0, idle_s=3.0, lateness_s=0.5)
    sources.report(0, T0 + 50, now=100.5)
    assert sources.watermark(101.0) == float("-inf"), "partitions 1 and 2 may still report"
    sources.report(1, T0 + 40, now=101.0)
    sources.report(2, T0 + 45, now=101.5)
    assert sources.watermark(102.0) == T0 + 40 - 0.5
    sources.report(1, T0 + 30, now=102.0)  # an older probe never moves a partition back
    assert sources.watermark(102.0) == T0 + 40 - 0.5
    # Partition 0 goes silent: after idle_s it no longer holds the others back.
    sources.report(1, T0 + 60, now=103.0)
    sources.report(2, T0 + 70, now=103.0)
    assert sources.watermark(103.0) == T0 + 50 - 0.5
    assert sources.watermark(103.6) == T0 + 60 - 0.5
    assert sources.watermark(200.0) is None, "all silent: no watermark"


def test_a_partition_never_heard_from_stops_counting_after_the_idle_time() -> None:
    sources = Sources(expected=2, since=10.0, idle_s=3.0, lateness_s=0.0)
    sources.report(0, T0, now=12.0)
    assert sources.watermark(12.9) == float("-inf")
    assert sources.watermark(13.0) == T0


@pytest.mark.parametrize("fp", [FP, None])
def test_shard_keys_are_what_rows_are_named_after(fp: str | None) -> None:
    one = probe("02:00:00:00:00:01", T0, fp=fp)
    assert new_row(shard_key(one)).state.key == (f"fp:{fp}" if fp else "mac:02:00:00:00:00:01")


@pytest.mark.parametrize("seed", range(20))
def test_skipping_what_is_not_due_decides_as_looking_when_records_come_out_of_order(
    seed: int,
) -> None:
    """As the cluster folds: two sources' records, each a slice of capture time, heard in turn
    and the clock moved by a watermark behind them, so a look may find nothing pending and the
    next MACs are heard older than the clock. `advance` skipping scans and MACs not due yet
    decides the same as a copy made to look every time."""
    rng = random.Random(seed)
    crowd = alike_crowd(phones=5, scans=8, seed=seed)
    sides = [[p for p in crowd if int(p.mac[-1], 16) % 2 == side] for side in (0, 1)]
    skipping, looking = new_row(KEY), new_row(KEY)
    newest = {0: T0 - 1.0, 1: T0 - 1.0}
    offsets = {0: 0, 1: 0}
    decided: dict[str, list[object]] = {"skipping": [], "looking": []}
    while sides[0] or sides[1]:
        source = rng.choice([s for s in (0, 1) if sides[s]])
        take = rng.randint(1, 12)
        record, sides[source] = sides[source][:take], sides[source][take:]
        offsets[source] += 1
        newest[source] = max(p.ts for p in record)
        watermark = min(newest[s] if sides[s] else float("inf") for s in (0, 1)) - 0.25
        watermark = min(watermark, max(newest.values()))
        if rng.random() < 0.5 and (sides[0] or sides[1]):
            # Other shards' probes moved the watermark on, up to this shard's next probe.
            upcoming = min(side[0].ts for side in sides if side)
            watermark = max(watermark, upcoming - 0.01)
        for name, row in (("skipping", skipping), ("looking", looking)):
            fold_records(row, [(source, offsets[source], record)])
            if name == "looking":
                row.state.scans_over_from = 0.0
                row.state.pending_due_from = 0.0
                row.state.macs_heard_from = 0.0
            decided[name] += advance(row.state, watermark, DEFAULT_PARAMS)
        bound, exact = due_from(skipping.state), due_at(copy.deepcopy(skipping.state))
        assert (bound is None) == (exact is None)
        assert bound is None or exact is None or bound <= exact
    assert decided["skipping"] == decided["looking"]
    assert run_due(skipping.state) == run_due(looking.state)


def _crowd_with_keepers(rng: random.Random, seed: int) -> list[ProbeEvent]:
    """24 alike phones, and 40 devices that keep their MAC for minutes (so their scans end long
    after they began), in capture order."""
    crowd = alike_crowd(phones=24, scans=10, seed=seed)
    for index in range(40):
        keeper, start = random_mac(rng), rng.uniform(0, 150)
        crowd += [
            probe(keeper, T0 + start + 15 * n, seq=rng.randrange(4096), rssi=-30 - index)
            for n in range(rng.randint(1, 12))
        ]
    return sorted(crowd, key=lambda p: p.ts)


@pytest.mark.parametrize("seed", range(6))
def test_a_thousand_macs_placed_at_once_decide_as_when_every_open_scan_is_looked_at(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A watermark that moves far places a whole crowd's MACs in one go, each looking only at
    the scans that ended in its window; among them MACs that keep their address for minutes,
    whose scans end long after they began. The same as every MAC looking at every open scan."""
    rng = random.Random(seed)
    crowd = _crowd_with_keepers(rng, seed)
    decided = []
    for index_from in (1, 10**9):
        monkeypatch.setattr(shard, "_INDEX_FROM", index_from)
        row = new_row(KEY)
        fold_records(row, [(0, 1, crowd)])
        decided.append(advance(row.state, max(p.ts for p in crowd), DEFAULT_PARAMS))
        decided[-1] += run_due(row.state)
    assert len({a.mac for a in decided[0]}) > 500
    assert decided[0] == decided[1]


@pytest.mark.parametrize("seed", range(4))
def test_a_jump_decided_in_steps_with_the_shard_encoded_between_decides_as_in_one_go(
    seed: int,
) -> None:
    """The cluster moves a crowded shard on a step at a time, and a flush may encode it between
    two steps (which makes its bounds exact): the same decisions as one `advance`, in as many
    steps as MACs placed in groups of `PLACED_PER_STEP` and scans decided one by one."""
    rng = random.Random(seed)
    crowd = _crowd_with_keepers(rng, seed)
    whole, stepped = new_row(KEY), new_row(KEY)
    for row in (whole, stepped):
        fold_records(row, [(0, 1, crowd)])
    until = max(p.ts for p in crowd) - 30.0
    at_once = advance(whole.state, until, DEFAULT_PARAMS)
    steps: list[list[Assignment]] = []
    for step in shard.advance_in_steps(stepped.state, until, DEFAULT_PARAMS):
        steps.append(step)
        if rng.random() < 0.3:
            due_at(stepped.state)
            encode_row(stepped)
    assert [a for step in steps for a in step] == at_once and len(at_once) > 300
    assert all(len({a.group for a in step}) <= 1 for step in steps[:-1]), "one scan a step"
    assert len(steps) > len(at_once) / 4
    due_at(whole.state)
    due_at(stepped.state)
    assert encode_row(stepped) == encode_row(whole)
    assert run_due(stepped.state) == run_due(whole.state)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("trim_after", [2, 12])
def test_a_shard_trimmed_between_two_steps_decides_each_mac_once_and_loses_none(
    seed: int, trim_after: int
) -> None:
    """A flush that finds a shard too large for a record trims it (`fit`), deciding what waits,
    maybe between two steps of `advance_in_steps` (here while its MACs are being placed, or
    while its scans are being decided): the steps go on with what is left, so no MAC is decided
    twice and none is left placed in a scan that no longer exists."""
    crowd = alike_crowd(phones=6, scans=12, seed=seed)
    row = new_row(KEY)
    fold_records(row, [(0, 1, crowd)])
    decided: list[Assignment] = []
    steps = shard.advance_in_steps(row.state, max(p.ts for p in crowd), DEFAULT_PARAMS)
    for number, step in enumerate(steps, 1):
        decided += step
        if number == trim_after:
            _, trimmed, halvings = fit(row, max_bytes=len(encode_row(row)) * 3 // 4)
            assert halvings and trimmed
            decided += trimmed
    assert number > trim_after, "steps went on after the trim"
    decided += run_due(row.state)
    macs = [a.mac for a in decided]
    assert len(macs) == len(set(macs)), "each MAC decided once"
    state = row.state
    assert not state.pending and not state.scans
    assert all(mac.group is not None for mac in state.macs.values()), "none left undecided"


def test_macs_are_forgotten_as_when_every_sweep_looks_through_all_of_them() -> None:
    """A sweep looks for MACs to forget only once `forget_mac_s` has passed since the oldest
    one kept was heard. Over 40 minutes of a crowd that comes and goes (every MAC forgotten
    between its visits), a shard keeps exactly the MACs of one made to look at every sweep."""
    rng = random.Random(7)
    crowd: list[ProbeEvent] = []
    for index in range(4):
        phone = Phone(rng, rssi=-40 - 14 * index)
        for visit in (0, 1000, 2400):
            crowd += [p for scan in range(6) for p in phone.scan(T0 + visit + 20 * scan + index)]
    crowd.sort(key=lambda p: p.ts)
    skipping, looking = new_row(KEY), new_row(KEY)
    for start in range(0, len(crowd), 7):
        record = crowd[start : start + 7]
        for row in (skipping, looking):
            fold_records(row, [(0, start + 1, record)])
            if row is looking:
                row.state.macs_heard_from = 0.0
            decided = advance(row.state, record[-1].ts, DEFAULT_PARAMS)
            if row is skipping:
                decided_skipping = decided
        assert decided_skipping == decided
        assert sorted(skipping.state.macs) == sorted(looking.state.macs)
    assert len(skipping.state.macs) < len({p.mac for p in crowd}) / 2, "MACs were forgotten"
