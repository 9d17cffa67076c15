"""A query that meets the lake's files deleted under it is tried again over what is there then."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from app.lake.parquet import COLUMNS
from app.lake.sql import with_lake
from app.lake.storage import Lake
from app.logic.lake.raw import RawRecord
from tests.unit.app.lake.test_compactor import write_probes

T0 = 1_704_067_200.0


def _lake_of_one_probe(tmp_path: Path) -> tuple[Lake, list[Path]]:
    """A lake the archiver wrote one probe to, and its enriched files."""
    lake = Lake(str(tmp_path / "lake"))
    probe = {"ts": T0, "mac": "f0:18:98:00:00:01", "ssid": "", "randomized": False}
    write_probes(lake, 0, [RawRecord(0, int(T0 * 1000), None, orjson.dumps([probe]))])
    files = list((tmp_path / "lake" / "enriched").rglob("*.parquet"))
    assert files
    return lake, files


def test_a_query_whose_every_file_went_away_meanwhile_answers_from_the_empty_lake(
    tmp_path: Path,
) -> None:
    """The files were listed when the views were made, then all deleted (a worker clearing a
    crashed piece's orphans, or a retention sweep) before the query read them: DuckDB finds no
    file for the pattern; the next try sees an empty lake and counts nothing."""
    lake, files = _lake_of_one_probe(tmp_path)
    tries: list[int] = []

    def count(con: Any) -> int:
        tries.append(len(tries))
        if len(tries) == 1:
            for path in files:
                path.unlink()
        [[n]] = con.sql("select count(*) from probes").fetchall()
        return int(n)

    assert with_lake(lake, count) == 0
    assert len(tries) == 2


def test_files_that_went_away_while_the_views_were_made_are_looked_for_again(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """Listed by the lake, then compacted away before DuckDB made the view over them (it reads
    their schemas then): the connection is made again, over what is there."""
    lake, files = _lake_of_one_probe(tmp_path)
    listed = lake.glob
    listings: list[str] = []

    def glob_then_lose_them(pattern: str) -> list[str]:
        found = listed(pattern)
        listings.append(pattern)
        if len(listings) == 1:
            for path in files:
                path.unlink()
        return found

    monkeypatch.setattr(lake, "glob", glob_then_lose_them)
    assert with_lake(lake, lambda con: con.sql("select count(*) from probes").fetchall()) == [(0,)]
    assert len(listings) > len(COLUMNS)  # the views were made twice
