"""Probable devices in the lake's reports (`app.lake.sql`, `app.logic.lake.reports`): probes and
the MACs' joins written as the archiver writes them, the reports' counts against a hand count.

The lake below, by hand (B = 2024-03-31 00:00 UTC; a, b, … are MACs):
- a and b took group A (a's join written twice: a crash re-sent it); c took C, begun in doubt;
  d has no join yet; f, a fixed MAC, is its own group F; e took E1, was forgotten by retention,
  was heard again and took E2 at B + 5000 s.
- Day 1, hour 0: a, b, c, d, e, f  → MACs 6; probable devices A, E1, F = 3 (C in doubt, d none).
- Day 1, hour 1: a, e at B + 4000 s, e at B + 5100 s → MACs 2; probable devices A, E1, E2 = 3.
- Day 2: a and g (g took A that day) → MACs new 1 (g), returning 1 (a); probable devices new 0,
  returning 1 (A).
- SSID "home" on day 1: a, b and e → 3 MACs, 2 probable devices (A, E1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.lake.parquet import write_parquet
from app.lake.sql import connect, run_report
from app.lake.storage import Lake
from app.logic.lake.layout import day_of, enriched_path

B = 1_711_843_200.0
DAY = 86_400.0
A, BB, C, D, E, E2, G = (f"da:a1:b2:c3:d4:{n:02x}" for n in range(7))
F = "f0:18:98:00:00:01"


def _probe(mac: str, at: float, ssid: str = "") -> dict[str, Any]:
    return {"ts": B + at, "mac": mac, "ssid": ssid, "origin": f"probes:0:{at}", "idx": 0}


def _join(mac: str, group: str, at: float, doubt: bool = False, offset: int = 0) -> dict[str, Any]:
    return {
        "decided_ts": B + at,
        "mac": mac,
        "group_id": group,
        "in_doubt": doubt,
        "link_kind": None if mac == group else "burst",
        "link_strength": None if mac == group else "medium",
        "randomized": mac != F,
        "origin": f"group-members:0:{offset}",
        "idx": 0,
    }


PROBES = [
    _probe(A, 10, "home"),
    _probe(BB, 150, "home"),
    _probe(C, 20),
    _probe(D, 30),
    _probe(E, 50, "home"),
    _probe(F, 60),
    _probe(A, 3700),
    _probe(E, 4000),
    _probe(E, 5100),
    _probe(A, DAY + 100),
    _probe(G, DAY + 200),
]
JOINS = [
    _join(A, A, 120, offset=1),
    _join(A, A, 120, offset=7),
    _join(BB, A, 200, offset=2),
    _join(C, C, 100, doubt=True, offset=3),
    _join(E, E, 100, offset=4),
    _join(E, E2, 5000, offset=8),
    _join(F, F, 60, offset=5),
    _join(G, A, DAY + 300, offset=9),
]


def _lake(tmp_path: Path) -> Lake:
    for table, rows in (("probes", PROBES), ("group_joins", JOINS)):
        times = {"probes": "ts", "group_joins": "decided_ts"}[table]
        for day in sorted({day_of(row[times]) for row in rows}):
            target = tmp_path / enriched_path(table, day, f"x+0000+{0:020d}+{9:020d}")
            target.parent.mkdir(parents=True, exist_ok=True)
            write_parquet(table, [r for r in rows if day_of(r[times]) == day], str(target))
    return Lake(str(tmp_path))


def _report(lake: Lake, name: str, **given: str) -> list[tuple[Any, ...]]:
    with connect(lake) as con:
        return run_report(con, name, given).fetchall()


def test_probes_per_hour_count_probable_devices_beside_macs(tmp_path: Path) -> None:
    rows = _report(_lake(tmp_path), "probes-per-hour")
    assert [row[1:] for row in rows] == [(6, 6, 3), (3, 2, 3), (2, 2, 1)]


def test_new_and_returning_probable_devices_per_day(tmp_path: Path) -> None:
    rows = _report(_lake(tmp_path), "new-and-returning-devices-per-day")
    assert [(str(day), *rest) for day, *rest in rows] == [
        ("2024-03-31", 6, 0, 4, 0),
        ("2024-04-01", 1, 1, 0, 1),
    ]


def test_top_ssids_count_probable_devices(tmp_path: Path) -> None:
    rows = _report(_lake(tmp_path), "top-ssids-per-day")
    assert [row[1:4] for row in rows] == [("home", 3, 2)]


def test_each_probe_names_the_group_its_mac_had_then_and_a_join_sent_twice_is_one(
    tmp_path: Path,
) -> None:
    with connect(_lake(tmp_path)) as con:
        taken = con.sql(
            "SELECT mac, ts - $b, group_id, group_in_doubt FROM grouped_probes ORDER BY ts",
            params={"b": B},
        ).fetchall()
        joins = con.sql("SELECT count(*) FROM group_joins WHERE mac = $a", params={"a": A})
        assert joins.fetchall() == [(1,)]
    assert taken == [
        (A, 10, A, False),
        (C, 20, C, True),
        (D, 30, None, None),
        (E, 50, E, False),
        (F, 60, F, False),
        (BB, 150, A, False),
        (A, 3700, A, False),
        (E, 4000, E, False),
        (E, 5100, E2, False),
        (A, DAY + 100, A, False),
        (G, DAY + 200, A, False),
    ]


def test_an_empty_lake_has_the_views(tmp_path: Path) -> None:
    with connect(Lake(str(tmp_path))) as con:
        assert con.sql("SELECT count(*) FROM grouped_probes").fetchall() == [(0,)]
        assert _report(Lake(str(tmp_path)), "probes-per-hour") == []
