"""The daily compaction (`app.lake.compactor`) on real files in a folder: a finished day's files
become one, the rows unchanged, and so do a partition's raw pieces of a finished day; a
compaction a crash cut short is finished, never doubled."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from app.lake.archiver import Zone, write_pieces
from app.lake.compactor import COMPACTED, Compactor, owner_partition
from app.lake.eraser import LakeEraser
from app.lake.sql import connect
from app.lake.storage import Lake
from app.logic.lake.flatten import probe_rows
from app.logic.lake.layout import Piece
from app.logic.lake.raw import RawRecord, parse_line

DAY = "2024-01-01"
T0 = 1_704_067_200.0


def _flatten(partition: int, record: RawRecord) -> dict[str, list[dict[str, Any]]] | None:
    rows = probe_rows(record, "probes", partition, lambda mac: partition, lambda mac: None)
    return None if rows is None else {"probes": rows}


def write_probes(lake: Lake, partition: int, records: list[RawRecord]) -> None:
    """What the archiver writes of these records of `probes`, as it writes them."""
    zone = Zone("probes", "probes", _flatten)
    write_pieces(lake, LakeEraser(lake), zone, partition, records, lambda name, amount: None)


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    """Six pieces of two partitions, 4 probes each, all captured on one day."""
    lake = Lake(str(tmp_path / "lake"))
    for partition in (0, 1):
        for piece in range(3):
            records = []
            for offset in range(piece * 2, piece * 2 + 2):
                probes = [
                    {
                        "ts": T0 + 60 * (offset * 2 + i),
                        "mac": f"f0:18:98:00:0{partition}:{offset:02x}",
                        "ssid": "",
                        "randomized": False,
                    }
                    for i in range(2)
                ]
                records.append(RawRecord(offset, int(T0 * 1000), None, orjson.dumps(probes)))
            write_probes(lake, partition, records)
    return lake


def _rows(lake: Lake) -> list[tuple[Any, ...]]:
    with connect(lake) as con:
        return con.sql("select mac, ts, origin, idx from probes_files order by all").fetchall()


def _files(lake: Lake) -> list[str]:
    return [p.rsplit("/", 1)[-1] for p in lake.glob(f"enriched/probes/day={DAY}/*.parquet")]


def test_a_finished_day_becomes_one_file_with_every_row_once(lake: Lake) -> None:
    before = _rows(lake)
    assert len(before) == 24 and len(_files(lake)) == 6
    compactor = Compactor(lake, partitions=8, min_age_s=0)
    owner = owner_partition(DAY, 8)
    assert compactor.days_due("probes", {owner}, today="2024-01-02") == [DAY]
    assert compactor.days_due("probes", {owner}, today=DAY) == [], "today is not finished"
    assert compactor.days_due("probes", {owner + 1 if owner < 7 else 0}, today="2024-01-02") == []
    assert compactor.compact("probes", DAY) == 6
    [merged] = _files(lake)
    assert merged.startswith(COMPACTED) and _rows(lake) == before
    times = duckdb.sql(f"select time from '{lake.full(f'enriched/probes/day={DAY}/{merged}')}'")
    assert [t for (t,) in times.fetchall()] == sorted(t for (t,) in times.fetchall())
    assert compactor.compact("probes", DAY) == 0, "one file: nothing to do"


def test_a_compaction_cut_short_by_a_crash_is_finished_not_doubled(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _rows(lake)
    compactor = Compactor(lake, partitions=8, min_age_s=0)
    monkeypatch.setattr(lake, "delete", lambda paths: None)  # the crash: sources not deleted
    compactor.compact("probes", DAY)
    assert len(_files(lake)) == 7
    monkeypatch.undo()
    assert compactor.compact("probes", DAY) == 0, "the compacted file already holds them all"
    assert len(_files(lake)) == 1 and _rows(lake) == before


def test_files_younger_than_the_minimum_age_wait(lake: Lake) -> None:
    young = _files(lake)[0]
    old = _files(lake)[1:]
    for name in old:
        path = lake.full(f"enriched/probes/day={DAY}/{name}")
        os.utime(path, (1_000_000_000, 1_000_000_000))
    assert Compactor(lake, partitions=8, min_age_s=600).compact("probes", DAY) == 5
    assert young in _files(lake)
    assert len(_files(lake)) == 2


def _raw(lake: Lake) -> tuple[list[str], list[RawRecord]]:
    """The raw zone's pieces (day/name) and its records, in the pieces' order."""
    paths = lake.glob("raw/probes/context_date=*/*.jsonl.gz")
    pieces = sorted(paths, key=lambda path: Piece.parse(path) or Piece("", 0, 0, 0))
    records = [
        parse_line(line)
        for path in pieces
        for line in gzip.decompress(lake.read_bytes(path)).splitlines()
    ]
    return [path.split("/", 2)[2] for path in pieces], records


def test_a_finished_days_raw_pieces_become_one_piece_and_today_waits(lake: Lake) -> None:
    day_ms = 86_400_000
    late = [RawRecord(o, int(T0 * 1000) + day_ms * min(o - 5, 2), None, b"[]") for o in (6, 7, 8)]
    write_probes(lake, 0, late)  # one record of day 2, two of day 3 ("today")
    write_probes(lake, 0, [RawRecord(9, int(T0 * 1000) + 2 * day_ms, None, b"[]")])
    names, before = _raw(lake)
    assert len(names) == 3 + 3 + 2 + 1
    compactor = Compactor(lake, partitions=8, min_age_s=600)
    assert compactor.compact_raw("probes", 0, today="2024-01-03") == 3
    names, after = _raw(lake)
    assert after == before
    assert [name for name in names if "+0000+" in name] == [
        f"context_date={DAY}/probes+0000+{0:020d}+{5:020d}.jsonl.gz",
        f"context_date=2024-01-02/probes+0000+{6:020d}+{6:020d}.jsonl.gz",
        f"context_date=2024-01-03/probes+0000+{7:020d}+{8:020d}.jsonl.gz",
        f"context_date=2024-01-03/probes+0000+{9:020d}+{9:020d}.jsonl.gz",
    ], "one piece for the finished day; today's pieces wait"
    assert compactor.compact_raw("probes", 0, today="2024-01-03") == 0
    assert compactor.compact_raw("probes", 1, today="2024-01-03") == 3


def test_a_raw_merge_cut_short_by_a_crash_is_finished_not_doubled(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, before = _raw(lake)
    compactor = Compactor(lake, partitions=8, min_age_s=0)
    monkeypatch.setattr(lake, "delete", lambda paths: None)  # the crash: sources not deleted
    compactor.compact_raw("probes", 0, today="2024-01-02")
    assert len(_raw(lake)[0]) == 7
    monkeypatch.undo()
    assert compactor.compact_raw("probes", 0, today="2024-01-02") == 0
    names, after = _raw(lake)
    assert len(names) == 4 and after == before
