"""The online grouper (`app.logic.grouping`): scenarios with their evidence, and properties."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.logic.grouping import (
    DEFAULT_PARAMS,
    Assignment,
    Grouper,
    GroupingParams,
    ShardState,
    advance,
    decode_shard,
    encode_shard,
    observe,
    shard_key,
)
from app.models import ProbeEvent
from tests.unit.app.logic.grouping.streams import FP, T0, Phone, probe, random_mac


def run(
    probes: Iterable[ProbeEvent], params: GroupingParams = DEFAULT_PARAMS
) -> dict[str, Assignment]:
    """Every MAC's assignment, after the stream and its end."""
    decided: dict[str, Assignment] = {}
    for assignment in Grouper(params).observe_all(sorted(probes, key=lambda p: p.ts)):
        assert assignment.mac not in decided, f"{assignment.mac} was assigned twice"
        decided[assignment.mac] = assignment
    return decided


def groups_of(decided: dict[str, Assignment], macs: Iterable[str]) -> set[str]:
    return {decided[mac].group for mac in macs}


def macs_of(probes: Iterable[ProbeEvent]) -> list[str]:
    return list(dict.fromkeys(p.mac for p in probes))


def test_a_phone_that_changes_its_mac_every_scan_is_one_group_named_after_its_first_mac() -> None:
    phone = Phone(random.Random(1), rssi=-48)
    probes = [p for k in range(10) for p in phone.scan(T0 + 40 * k)]
    decided = run(probes)
    macs = macs_of(probes)
    assert len(macs) == 30
    assert groups_of(decided, macs) == {macs[0]}
    first = decided[macs[0]]
    assert first.link is None and first.group == macs[0] and not first.doubt
    links = [link for m in macs[1:] if (link := decided[m].link) is not None]
    # Within a scan MACs follow one another; from scan to scan the signal carries the link.
    assert Counter(link.kind for link in links) == {"burst": 20, "handover": 9}
    handover = next(link for link in links if link.kind == "handover")
    assert handover.fingerprint == FP
    assert 39 < handover.gap_s < 40
    assert handover.rssi_diff_db is not None and handover.rssi_diff_db <= 2
    signals = {item["signal"] for item in handover.evidence()}
    assert signals == {"fingerprint", "timing", "sequence", "rssi"}


def test_two_phones_alike_but_far_apart_in_signal_are_never_merged() -> None:
    rng = random.Random(2)
    near, far = Phone(rng, rssi=-40), Phone(rng, rssi=-70)
    near_probes = [p for k in range(8) for p in near.scan(T0 + 30 * k)]
    far_probes = [p for k in range(8) for p in far.scan(T0 + 30 * k + 0.6)]
    decided = run(near_probes + far_probes)
    near_groups = groups_of(decided, macs_of(near_probes))
    far_groups = groups_of(decided, macs_of(far_probes))
    assert near_groups.isdisjoint(far_groups)
    assert len(near_groups) == len(far_groups) == 1


def test_a_mac_heard_weaker_on_a_radio_new_to_its_scan_continues_the_scan() -> None:
    """Radios of one sensor differ in gain: a MAC 13 dB weaker than its scan so far, on a radio
    the scan had not used, is within the tolerance plus that spread; on the same radio it is
    not."""
    rng = random.Random(7)
    start = [probe(random_mac(rng), T0 + 0.05 * k, rssi=-65, freq=2437) for k in range(3)]
    other_radio = probe(random_mac(rng), T0 + 0.2, rssi=-78, freq=2412)
    decided = run([*start, other_radio])
    assert groups_of(decided, macs_of([*start, other_radio])) == {start[0].mac}
    link = decided[other_radio.mac].link
    assert link is not None and link.kind == "burst" and link.rssi_diff_db == 13
    same_radio = msgspec.structs.replace(other_radio, freq_mhz=2437)
    decided = run([*start, same_radio])
    assert decided[same_radio.mac].group == same_radio.mac
    # Without the spread, as before: the scan ends at the weaker MAC.
    no_spread = GroupingParams(radio_spread_db=0)
    assert run([*start, other_radio], no_spread)[other_radio.mac].group == other_radio.mac


def test_a_scan_that_fits_two_groups_alike_is_left_in_doubt_naming_both() -> None:
    rng = random.Random(3)
    one, two = Phone(rng, rssi=-40), Phone(rng, rssi=-60)
    probes = one.scan(T0) + two.scan(T0 + 5)
    middle = Phone(rng, rssi=-50)
    doubtful = middle.scan(T0 + 20)
    decided = run(probes + doubtful)
    ids = {decided[m].group for m in macs_of(probes)}
    assert len(ids) == 2
    for mac in macs_of(doubtful):
        assert set(decided[mac].doubt) == ids
        assert decided[mac].group == macs_of(doubtful)[0]
    # A group begun in doubt is no candidate: the next scan alike is in doubt again.
    again = run(probes + doubtful + middle.scan(T0 + 40))
    assert sum(1 for a in again.values() if a.doubt) == 6


def test_a_phone_that_keeps_its_counter_is_linked_by_it_even_without_signal() -> None:
    phone = Phone(random.Random(4), keeps_counter=True, macs_per_scan=1)
    probes = [
        msgspec.structs.replace(p, rssi_dbm=None)
        for k in range(6)
        for p in phone.scan(T0 + 100 * k)
    ]
    decided = run(probes)
    macs = macs_of(probes)
    assert groups_of(decided, macs) == {macs[0]}
    links = [decided[m].link for m in macs[1:]]
    assert all(link is not None and link.kind == "sequence" for link in links)
    assert {link.seq_step for link in links if link} == {1}


def test_a_phone_known_to_keep_its_counter_is_not_continued_by_a_mac_that_does_not() -> None:
    rng = random.Random(5)
    keeper = Phone(rng, rssi=-50, keeps_counter=True, macs_per_scan=1)
    probes = [p for k in range(4) for p in keeper.scan(T0 + 20 * k)]
    stranger = probe(random_mac(rng), T0 + 90, seq=(keeper.seq + 2000) % 4096, rssi=-50)
    decided = run([*probes, stranger])
    assert decided[stranger.mac].group == stranger.mac
    assert decided[stranger.mac].link is None


def test_a_fixed_mac_stays_alone_and_no_randomized_mac_joins_it() -> None:
    rng = random.Random(6)
    fixed = random_mac(rng, randomized=False)
    laptop = [
        probe(fixed, T0 + 10 * k, seq=rng.randrange(4096), rssi=-50, randomized=False)
        for k in range(30)
    ]
    phone = Phone(rng, rssi=-50)
    phone_probes = [p for k in range(10) for p in phone.scan(T0 + 1 + 30 * k)]
    decided = run(laptop + phone_probes)
    assert decided[fixed].group == fixed and decided[fixed].link is None
    assert all(decided[m].group != fixed for m in macs_of(phone_probes))


def test_a_fixed_mac_joins_a_group_only_on_strong_evidence() -> None:
    rng = random.Random(7)
    phone = Phone(rng, rssi=-50, keeps_counter=True, macs_per_scan=1)
    probes = [p for k in range(3) for p in phone.scan(T0 + 20 * k)]
    own = random_mac(rng, randomized=False)
    # The same counter, the same signal: the phone's own address, used once associated.
    continued = probe(own, T0 + 70, seq=(phone.seq + 1) % 4096, rssi=-50, randomized=False)
    decided = run([*probes, continued])
    link = decided[own].link
    assert link is not None and link.kind == "sequence" and link.strength == "strong"
    assert decided[own].group == macs_of(probes)[0]
    # Without a signal to agree, the counter alone does not link a fixed MAC.
    mute = msgspec.structs.replace(continued, rssi_dbm=None)
    assert run([*probes, mute])[own].group == own


def test_a_probe_without_fingerprint_is_a_group_of_its_own() -> None:
    rng = random.Random(8)
    lone = [probe(random_mac(rng), T0 + k, fp=None, rssi=-50) for k in range(5)]
    decided = run(lone)
    assert all(a.group == a.mac and a.link is None for a in decided.values())
    assert shard_key(lone[0]) == "mac:" + lone[0].mac
    assert shard_key(probe("02:00:00:00:00:01", T0)) == "fp:" + FP


def test_a_shard_refuses_probes_of_another_shard() -> None:
    state = ShardState(key="fp:other")
    with pytest.raises(ValueError, match="shard"):
        observe(state, probe("02:00:00:00:00:01", T0))


def test_a_quiet_shard_is_decided_by_the_clock() -> None:
    state = ShardState(key="fp:" + FP)
    assert observe(state, probe("02:00:00:00:00:01", T0)) == []
    assert advance(state, T0 + 0.5) == []
    decided = advance(state, T0 + 10)
    assert [(a.mac, a.group) for a in decided] == [("02:00:00:00:00:01", "02:00:00:00:00:01")]
    assert advance(state, T0 + 5) == [], "the clock never goes back"


def test_a_mac_that_never_pauses_is_decided_all_the_same() -> None:
    state = ShardState(key="fp:" + FP)
    decided: list[Assignment] = []
    for k in range(100):  # a probe every 0.5 s for 50 s
        decided += observe(state, probe("02:00:00:00:00:01", T0 + 0.5 * k, seq=k), DEFAULT_PARAMS)
    assert [a.mac for a in decided] == ["02:00:00:00:00:01"]
    assert decided[0].decided_ts <= T0 + DEFAULT_PARAMS.longest_burst_s + 2


def test_late_repeated_and_reordered_probes_change_nothing() -> None:
    rng = random.Random(9)
    phones = [Phone(rng, rssi=-40), Phone(rng, rssi=-65, macs_per_scan=1)]
    probes = [p for k in range(12) for ph in phones for p in ph.scan(T0 + 25 * k + rng.random())]
    in_order = run(probes)
    shaken = [
        msgspec.structs.replace(p, ts=p.ts)  # same frames
        for p in probes
        for _ in range(rng.choice((1, 2)))  # some heard twice (several sniffers)
    ]
    # Arrival order jittered by up to 0.2 s (merged sniffers), capture times unchanged.
    arrival = sorted(shaken, key=lambda p: p.ts + rng.uniform(0, 0.2))
    decided: dict[str, Assignment] = {}
    for assignment in Grouper().observe_all(arrival):
        assert assignment.mac not in decided
        decided[assignment.mac] = assignment
    assert {m: a.group for m, a in decided.items()} == {m: a.group for m, a in in_order.items()}


def test_state_written_and_read_back_mid_stream_goes_on_alike() -> None:
    rng = random.Random(10)
    phones = [Phone(rng, rssi=-40), Phone(rng, rssi=-70), Phone(rng, rssi=-55, keeps_counter=True)]
    probes = sorted(
        (p for k in range(10) for ph in phones for p in ph.scan(T0 + 30 * k + 7 * rng.random())),
        key=lambda p: p.ts,
    )
    whole = ShardState(key="fp:" + FP)
    expected = [a for p in probes for a in observe(whole, p)]
    state = ShardState(key="fp:" + FP)
    decided: list[Assignment] = []
    for index, p in enumerate(probes):
        if index % 17 == 0:
            state = decode_shard(encode_shard(state))  # a table restored from its changelog
        decided += observe(state, p)
    assert decided == expected
    assert decode_shard(encode_shard(state)) == state


def test_state_stays_bounded_on_an_endless_stream() -> None:
    params = GroupingParams(max_macs=64, max_groups=16, forget_mac_s=60.0)
    rng = random.Random(11)
    state = ShardState(key="fp:" + FP)
    for k in range(3000):
        observe(
            state,
            probe(
                random_mac(rng), T0 + k * 0.7, seq=rng.randrange(4096), rssi=rng.randrange(-90, -30)
            ),
            params,
        )
        assert len(state.pending) + len(state.macs) <= params.max_macs + 1
        assert len(state.groups) <= params.max_groups + 1


# Properties over random crowds: phones alike or not, fixed MACs, any timing.
crowds = st.lists(
    st.tuples(
        st.integers(-85, -30),  # signal
        st.booleans(),  # keeps its counter
        st.integers(1, 3),  # MACs a scan
        st.lists(st.floats(0, 900, allow_nan=False), min_size=1, max_size=6),  # scan times
        st.sampled_from([FP, "0123456789abcdef"]),
    ),
    min_size=1,
    max_size=5,
)


def crowd_probes(
    seed: int, phones: list[tuple[int, bool, int, list[float], str]]
) -> list[ProbeEvent]:
    rng = random.Random(seed)
    probes: list[ProbeEvent] = []
    for rssi, keeps, per_scan, times, fp in phones:
        phone = Phone(rng, rssi=rssi, keeps_counter=keeps, macs_per_scan=per_scan, fp=fp)
        for t in sorted(times):
            probes += phone.scan(T0 + t)
    return sorted(probes, key=lambda p: p.ts)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), crowds, st.lists(st.floats(0, 900, allow_nan=False), max_size=8))
def test_group_ids_never_change_and_fixed_macs_stay_alone(
    seed: int, phones: list[tuple[int, bool, int, list[float], str]], laptop_times: list[float]
) -> None:
    rng = random.Random(seed)
    probes = crowd_probes(seed, phones)
    laptop = random_mac(rng, randomized=False)
    probes += [probe(laptop, T0 + t, seq=None, rssi=-50, randomized=False) for t in laptop_times]
    probes.sort(key=lambda p: p.ts)
    grouper = Grouper()
    decided: dict[str, Assignment] = {}
    for p in probes:
        for a in grouper.observe(p):
            assert a.mac not in decided, "a MAC is assigned once"
            # A group is named after its first MAC, which was assigned to it first.
            assert a.group == a.mac or decided[a.group].group == a.group
            assert (a.link is None) == (a.group == a.mac)
            decided[a.mac] = a
    for a in grouper.finish():
        assert a.mac not in decided
        assert a.group == a.mac or decided[a.group].group == a.group
        decided[a.mac] = a
    assert set(decided) == {p.mac for p in probes}
    if laptop_times:
        assert decided[laptop].group == laptop
        assert [a.mac for a in decided.values() if a.group == laptop] == [laptop]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32), crowds)
def test_a_shard_decides_alone_whatever_other_shards_hear(
    seed: int, phones: list[tuple[int, bool, int, list[float], str]]
) -> None:
    probes = crowd_probes(seed, phones)
    mine = [p for p in probes if p.ie_fingerprint == FP]
    alone = {m: a.group for m, a in run(mine).items()}
    together = {m: a.group for m, a in run(probes).items() if m in alone}
    assert together == alone


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), crowds)
def test_skipping_scans_and_macs_not_due_yet_decides_exactly_as_looking_at_every_probe(
    seed: int, phones: list[tuple[int, bool, int, list[float], str]]
) -> None:
    """`advance` skips looking through the open scans until the earliest of them is over, and
    through the pending MACs until the earliest is due; a grouper made to look every time (as
    if each shard's row had just been read back from before the skips existed) decides the
    same MACs, the same way, at the same probe."""
    probes = crowd_probes(seed, phones)
    skipping, looking = Grouper(), Grouper()
    for p in probes:
        for state in looking.shards.values():
            state.scans_over_from = 0.0
            state.pending_due_from = 0.0
            state.macs_heard_from = 0.0
        assert msgspec.to_builtins(skipping.observe(p)) == msgspec.to_builtins(looking.observe(p))
    assert msgspec.to_builtins(skipping.finish()) == msgspec.to_builtins(looking.finish())
