"""The lake's erasure (`app.lake.eraser`) and retention (`app.lake.retention`) on real files."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import orjson

from app.lake.compactor import Compactor, owner_partition
from app.lake.eraser import LakeEraser
from app.lake.retention import LakeRetention
from app.lake.sql import connect
from app.lake.storage import Lake
from app.logic.lake.raw import RawRecord
from tests.unit.app.lake.test_compactor import T0, write_probes

MAC = "f0:18:98:00:00:01"
OTHER = "f0:18:98:00:00:02"


def _lake(tmp_path: Path) -> Lake:
    """Two partitions, each with two pieces; MAC's probes in partition 0 alone and packed."""
    lake = Lake(str(tmp_path / "lake"))
    for partition in (0, 1):
        for offset in (0, 1):
            macs = [MAC, OTHER] if partition == 0 else [OTHER]
            probes = [
                {"ts": T0 + offset, "mac": mac, "ssid": "", "randomized": False} for mac in macs
            ]
            write_probes(
                lake, partition, [RawRecord(offset, int(T0 * 1000), None, orjson.dumps(probes))]
            )
    return lake


def _macs(lake: Lake) -> list[tuple[str, int]]:
    with connect(lake) as con:
        return con.sql(
            "select mac, count(*) from probes_files group by mac order by mac"
        ).fetchall()


def test_an_erased_device_leaves_every_file_and_piece_and_the_others_stay(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    Compactor(lake, partitions=8, min_age_s=0).compact("probes", "2024-01-01")
    assert _macs(lake) == [(MAC, 2), (OTHER, 4)]
    files, pieces = LakeEraser(lake).erase("probes", 0, frozenset({MAC}))
    assert (files, pieces) == (1, 2), "the compacted file; partition 0's two pieces"
    assert _macs(lake) == [(OTHER, 4)]
    raw = b"".join(
        gzip.decompress(lake.read_bytes(p)) for p in lake.glob("raw/probes/*/*.jsonl.gz")
    )
    assert MAC.encode() not in raw and raw.count(OTHER.encode()) == 4
    assert LakeEraser(lake).erase("probes", 0, frozenset({MAC})) == (0, 0)
    with connect(lake) as con:
        sources = con.sql(
            "select count(*) from parquet_kv_metadata('"
            + lake.full("enriched/probes/day=2024-01-01/*.parquet")
            + "') where key = 'probewatch.sources'"
        ).fetchall()
    assert sources == [(1,)], "the compacted file keeps its list of sources"


def test_day_folders_past_their_retention_go_with_their_owner(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    now = datetime(2024, 1, 3, 12, tzinfo=UTC)
    owner = owner_partition("2024-01-01", 8)
    kept_raw = LakeRetention(lake, 8, raw_days=None, enriched_days=1.0)
    assert kept_raw.expire({(owner + 1) % 8}, now) == 0, "another worker's day"
    assert kept_raw.expire({owner}, now) == 1
    assert lake.glob("enriched/probes/day=*") == [] and lake.glob("raw/probes/context_date=*")
    assert LakeRetention(lake, 8, raw_days=3.0, enriched_days=None).expire({owner}, now) == 0
    assert LakeRetention(lake, 8, raw_days=1.0, enriched_days=None).expire({owner}, now) == 1
    assert lake.glob("raw/probes/context_date=*") == []
