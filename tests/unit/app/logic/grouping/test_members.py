"""A device taking its group and a group gathering its members (`app.logic.grouping.members`),
and the records that carry them between partitions (`app.logic.grouping.wire`)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from app.logic.activity import ActivityQuery, deployment_activity, merge_counters, tally
from app.logic.grouping.members import (
    MAX_MEMBERS,
    erased_member,
    fold_member,
    group_view,
    is_device,
    member_update,
    take_group,
)
from app.logic.grouping.records import Link
from app.logic.grouping.wire import (
    AssignmentRecord,
    InvalidGroupRecord,
    Join,
    MemberUpdate,
    decode_assignments,
    decode_group_probes,
    decode_members,
    encode_assignments,
    encode_group_probes,
    encode_members,
)
from app.logic.stats import fold_probe
from tests.unit.app.logic.grouping.streams import FP, T0, probe

G, A, B = "da:00:00:00:00:01", "da:00:00:00:00:02", "da:00:00:00:00:03"
MINUTE = int(T0 // 60)
LINK = Link("burst", "medium", FP, G, 0.04, None, 2.0, (), 0)


def _update(mac: str, **fields: Any) -> MemberUpdate:
    base: dict[str, Any] = {
        "group": G,
        "mac": mac,
        "probes": 2,
        "first_ts": T0,
        "last_ts": T0 + 1,
        "offset": 5,
        "minutes": [MINUTE],
    }
    return MemberUpdate(**(base | fields))


def _assignment(group: str = G, doubt: tuple[str, ...] = ()) -> AssignmentRecord:
    return AssignmentRecord(
        mac=A, group=group, decided_ts=T0 + 2, first_ts=T0, last_ts=T0 + 1, shard=f"fp:{FP}",
        link=LINK, doubt=list(doubt),
    )  # fmt: skip


def test_a_device_keeps_the_first_group_it_is_given() -> None:
    row = fold_probe(None, probe(A, T0), max_ssids=10)
    assert take_group(row, _assignment(doubt=(B,)))
    assert row["group"] == G and row["group_in_doubt"] is True
    assert not take_group(row, _assignment(group=B))
    assert row["group"] == G


def test_a_member_update_carries_the_row_totals_and_none_without_a_group() -> None:
    row = fold_probe(None, probe(A, T0, ssid="home"), max_ssids=10)
    row = fold_probe(row, probe(A, T0 + 3), max_ssids=10)
    row["offset"] = 9
    assert member_update(A, row) is None and erased_member(A, row) is None
    take_group(row, _assignment())
    update = member_update(A, row, ssids={"home"}, minutes={MINUTE})
    assert update is not None
    assert (update.group, update.probes, update.first_ts, update.last_ts) == (G, 2, T0, T0 + 3)
    assert update.offset == 9 and update.randomized and update.ssids == ["home"]
    assert erased_member(A, row) == MemberUpdate(group=G, mac=A, erase=True)


def test_totals_replace_older_ones_never_newer_ones_and_the_link_is_kept_once() -> None:
    row, _ = fold_member(None, _update(G, join=Join(T0 + 2)))
    row, _ = fold_member(row, _update(A, join=Join(T0 + 2, LINK), ssids=["home"]))
    row, _ = fold_member(row, _update(A, probes=5, offset=7))
    row, _ = fold_member(row, _update(A, probes=3, offset=6, ssids=["work"]))
    assert row is not None
    member = row["members"][A]
    assert member["probes"] == 5 and member["offset"] == 7
    assert member["link"] == msgspec.to_builtins(LINK)
    assert row["ssids"] == ["home", "work"]
    view = group_view(G, row)
    assert view["macs"] == 2 and view["probe_count"] == 7
    assert [m["mac"] for m in view["members"]] == [G, A]
    assert view["members"][0]["joined_by"] is None
    joined = view["members"][1]["joined_by"]
    assert joined["kind"] == "burst" and joined["follows"] == G
    assert {e["signal"] for e in joined["evidence"]} == {"fingerprint", "timing", "rssi"}


def test_each_minute_hour_and_day_of_a_group_is_counted_once() -> None:
    row, seen = fold_member(None, _update(G, minutes=[MINUTE, MINUTE + 1]))
    assert [(s.new_in_minute, s.new_in_hour, s.new_in_day) for s in seen] == [
        (True, True, True),
        (True, False, False),
    ]
    row, seen = fold_member(row, _update(A, minutes=[MINUTE + 1]))
    assert seen == [], "another member in a minute the group was heard in already"
    row, seen = fold_member(row, _update(A, minutes=[], hours=[MINUTE // 60 - 30]))
    assert [(s.new_in_minute, s.new_in_hour) for s in seen] == [(False, True)]
    counts = None
    for sighting in (*fold_member(None, _update(G, minutes=[MINUTE]))[1],):
        counts = tally(counts, sighting)
    hour = deployment_activity(merge_counters([counts]), ActivityQuery("hour"))  # type: ignore[list-item]
    assert hour["buckets"][-1]["devices"] == 1


def test_a_group_begun_in_doubt_counts_no_device() -> None:
    row, seen = fold_member(None, _update(G, join=Join(T0 + 2, None, [B])))
    assert row is not None and seen == [] and not is_device(row)
    assert group_view(G, row)["in_doubt"] and group_view(G, row)["doubt_with"] == [B]


def test_an_erased_member_leaves_and_an_empty_group_is_deleted() -> None:
    row, _ = fold_member(None, _update(G))
    row, _ = fold_member(row, _update(A))
    row, _ = fold_member(row, MemberUpdate(group=G, mac=A, erase=True))
    assert row is not None and list(row["members"]) == [G]
    row, _ = fold_member(row, MemberUpdate(group=G, mac=G, erase=True))
    assert row is None
    assert fold_member(None, MemberUpdate(group=G, mac=A, erase=True)) == (None, [])


def test_members_past_the_cap_are_summed_up_oldest_first() -> None:
    row = None
    for n in range(MAX_MEMBERS + 3):
        mac = f"da:00:00:00:{n // 256:02x}:{n % 256:02x}"
        row, _ = fold_member(row, _update(mac, first_ts=T0 + n, last_ts=T0 + n, probes=1))
    assert row is not None and len(row["members"]) == MAX_MEMBERS
    view = group_view(G, row)
    assert view["macs"] == MAX_MEMBERS + 3 and view["probe_count"] == MAX_MEMBERS + 3
    assert view["earlier_macs"] == 3 and view["first_seen_ts"] == T0


def test_records_round_trip_and_bad_ones_say_why() -> None:
    probes = [probe(A, T0), probe(B, T0 + 1, fp=None)]
    value = encode_group_probes([(3, 10, T0 + 1, probes), (4, 2, T0 + 5, [])])
    assert decode_group_probes(value) == [(3, 10, T0 + 1, probes), (4, 2, T0 + 5, [])]
    assignments = [_assignment(), _assignment(group=B, doubt=(G,))]
    assert decode_assignments(encode_assignments(assignments)) == assignments
    updates = [_update(A, join=Join(T0, LINK)), MemberUpdate(group=G, mac=B, erase=True)]
    assert decode_members(encode_members(updates)) == updates
    for decode, raw, reason in [
        (decode_group_probes, None, "empty_value"),
        (decode_group_probes, b"[]", "bad_value"),
        (decode_group_probes, b'[[1, 2, 3.0, [{"ts": 1, "mac": "x"}]]]', "bad_probe.bad_mac"),
        (decode_group_probes, b"[[-1, 2, 3.0, []]]", "bad_value"),
        (decode_assignments, b'[{"mac": "AA-BB"}]', "bad_value"),
        (decode_members, b'[{"group": "da:00:00:00:00:01", "mac": "x"}]', "bad_value"),
        (decode_members, b"nope", "bad_value"),
    ]:
        with pytest.raises(InvalidGroupRecord) as raised:
            decode(raw)
        assert raised.value.reason == reason, raw
