"""The MACs' joins to their probable devices in the lake: `group-members` records written by
the archiver's groups zone (`app.lake.zones`), the joins flattened, the totals left raw, and an
erasure on request taking the device out while retention's leaves the lake to its own retention.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

from app.lake.archiver import Zone, write_pieces
from app.lake.eraser import LakeEraser
from app.lake.sql import connect
from app.lake.storage import Lake
from app.lake.zones import lake_zones
from app.logic.grouping.records import Link
from app.logic.grouping.wire import Join, MemberUpdate, encode_members
from app.logic.lake.raw import RawRecord

T0 = 1_711_843_200.0
GROUP, SECOND, THIRD, FORGOTTEN = (f"da:a1:b2:c3:d4:{n:02x}" for n in range(4))
LINK = Link(
    kind="burst",
    strength="medium",
    fingerprint="ie:1",
    follows=GROUP,
    gap_s=2.0,
    seq_step=None,
    rssi_diff_db=None,
    shared_ssids=(),
    rivals=0,
)


def _zone() -> Zone:
    [*_, groups] = lake_zones("probes", "updates", 1, {}.get, "group-members")
    assert groups.name == "groups"
    return groups


def _record(offset: int, *updates: MemberUpdate) -> RawRecord:
    return RawRecord(offset, int(T0 * 1000), None, encode_members(updates))


def _joined(mac: str, at: float, link: Link | None = None, doubt: bool = False) -> MemberUpdate:
    join = Join(decided_ts=T0 + at, link=link, doubt=[THIRD] if doubt else [])
    return MemberUpdate(group=GROUP, mac=mac, probes=3, first_ts=T0, last_ts=T0 + at, join=join)


def _write(lake: Lake, records: list[RawRecord]) -> dict[str, int]:
    counted: dict[str, int] = {}

    def incr(name: str, amount: int) -> None:
        counted[name] = counted.get(name, 0) + amount

    write_pieces(lake, LakeEraser(lake), _zone(), 0, records, incr)
    return counted


def _joins(lake: Lake) -> list[tuple[Any, ...]]:
    with connect(lake) as con:
        return con.sql(
            "SELECT mac, group_id, in_doubt, link_kind, decided_ts - $t0, origin, idx "
            "FROM group_joins ORDER BY mac",
            params={"t0": T0},
        ).fetchall()


def _raw(lake: Lake) -> bytes:
    return b"".join(gzip.decompress(lake.read_bytes(p)) for p in lake.glob("raw/groups/*/*"))


def test_joins_become_rows_and_totals_stay_raw(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    totals = MemberUpdate(group=GROUP, mac=GROUP, probes=9, first_ts=T0, last_ts=T0 + 50)
    counted = _write(
        lake,
        [
            _record(0, _joined(GROUP, 10), _joined(SECOND, 20, LINK)),
            _record(1, totals, _joined(THIRD, 30, doubt=True)),
            _record(2, _joined(SECOND, 20, LINK)),  # sent again after a crash
            RawRecord(3, int(T0 * 1000), None, b'[{"group": "not a mac"}]'),
        ],
    )
    assert _joins(lake) == [
        (GROUP, GROUP, False, None, 10.0, "group-members:0:0", 0),
        (SECOND, GROUP, False, "burst", 20.0, "group-members:0:0", 1),
        (THIRD, GROUP, True, None, 30.0, "group-members:0:1", 1),
    ]
    assert counted == {
        "lake.groups.archived": 4,
        "lake.groups.rejected": 1,
        "lake.group_joins.rows": 4,
    }
    assert lake.glob("raw/groups/context_date=2024-03-31/groups+0000+*+*.jsonl.gz")
    assert _raw(lake).count(b'"probes":9') == 1, "every record is in the raw zone as it came"


def test_an_erasure_on_request_takes_the_device_out_and_retentions_does_not(
    tmp_path: Path,
) -> None:
    lake = Lake(str(tmp_path))
    _write(
        lake,
        [
            _record(0, _joined(GROUP, 10), _joined(SECOND, 20, LINK)),
            _record(1, _joined(FORGOTTEN, 30, LINK)),
        ],
    )
    forgotten = MemberUpdate(group=GROUP, mac=FORGOTTEN, erase=True, expired=True)
    _write(lake, [_record(2, forgotten)])
    assert [row[0] for row in _joins(lake)] == [GROUP, SECOND, FORGOTTEN]

    _write(lake, [_record(3, MemberUpdate(group=GROUP, mac=SECOND, erase=True))])
    assert [row[0] for row in _joins(lake)] == [GROUP, FORGOTTEN]
    raw = _raw(lake)
    assert SECOND.encode() not in raw, "its join and its erasure are gone from the raw zone"
    assert raw.count(GROUP.encode()) >= 1 and FORGOTTEN.encode() in raw

    _write(lake, [_record(4, MemberUpdate(group=GROUP, mac=GROUP, erase=True))])
    assert [row[0] for row in _joins(lake)] == [FORGOTTEN], "the group's first MAC, erased"
    assert b'"mac":"' + GROUP.encode() not in _raw(lake)
