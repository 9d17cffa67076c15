"""The lake's ready reports over 10 million probes: how long each takes with DuckDB.

The lake is made here directly in its layout (one compacted file per day, as the daily job
leaves it): 10,000,000 probes over 30 days from 50,000 devices, an SSID on a third of them, a
share of probes forwarded (so the view's deduplication runs), and each device's join to a
probable device (so the probable devices' counts join real rows). Made once under var/bench.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from app.lake.parquet import COLUMNS, TIMES
from app.lake.sql import run_report, with_lake
from app.lake.storage import Lake
from app.logic.lake.reports import REPORTS

BENCH_DIR = Path(__file__).resolve().parent.parent / "var" / "bench"
DAYS = 30
T0 = 1_704_067_200  # 2024-01-01T00:00:00Z


def synth_lake(probes: int, devices: int) -> Path:
    root = BENCH_DIR / f"lake-{probes}-{devices}"
    done = root / ".made"
    if done.exists():
        _synth_joins(root, devices)
        return root
    per_day = probes // DAYS
    con = duckdb.connect()
    for day in range(DAYS):
        folder = root / "enriched" / "probes" / f"day={_day(day)}"
        folder.mkdir(parents=True, exist_ok=True)
        first = day * per_day
        con.execute(
            f"""
            COPY (
              SELECT ts, mac, ssid, NULL::VARCHAR AS ssid_hex, rssi_dbm, 2412 AS freq_mhz, seq,
                randomized, sensor, NULL::VARCHAR AS ie_fingerprint, 'Apple, Inc.' AS vendor,
                NULL::VARCHAR AS name, origin, 0 AS idx,
                make_timestamp(CAST(ts * 1000000 AS BIGINT)) AS time
              FROM (
                SELECT
                  {T0 + day * 86_400}.0 + (i % {per_day}) * (86_400.0 / {per_day}) AS ts,
                  printf('f0:18:98:%02x:%02x:%02x', (d >> 16) & 255, (d >> 8) & 255, d & 255)
                    AS mac,
                  CASE WHEN i % 3 = 0 THEN 'net-' || (d % 500) ELSE '' END AS ssid,
                  CAST(-40 - (i % 50) AS SMALLINT) AS rssi_dbm,
                  CAST(i % 4096 AS INTEGER) AS seq,
                  d % 5 = 0 AS randomized,
                  'sensor-' || (i % 3) AS sensor,
                  CASE WHEN i % 20 = 0 THEN 'pcap:0:' || i || '/x' ELSE 'probes:0:' || i END
                    AS origin
                FROM (SELECT i, (i * 7919) % {devices} AS d
                      FROM range({first}, {first + per_day}) t(i))
              )
            ) TO '{folder}/compacted-bench.parquet' (FORMAT parquet, COMPRESSION zstd)
            """
        )
    _synth_joins(root, devices)
    done.touch()
    return root


def _synth_joins(root: Path, devices: int) -> None:
    """Every device's join to its probable device, on the first day: the MACs grouped four by
    four, one group in 97 begun in doubt (so the reports' probable devices join real rows)."""
    folder = root / "enriched" / "group_joins" / f"day={_day(0)}"
    if folder.exists():
        return
    folder.mkdir(parents=True)
    mac = "printf('f0:18:98:%02x:%02x:%02x', ({d} >> 16) & 255, ({d} >> 8) & 255, {d} & 255)"
    duckdb.execute(
        f"""
        COPY (
          SELECT {T0}.0 + d AS decided_ts, {mac.format(d="d")} AS mac,
            {mac.format(d="(d - d % 4)")} AS group_id, (d // 4) % 97 = 0 AS in_doubt,
            CASE WHEN d % 4 = 0 THEN NULL ELSE 'burst' END AS link_kind,
            CASE WHEN d % 4 = 0 THEN NULL ELSE 'medium' END AS link_strength,
            d % 5 = 0 AS randomized, NULL::VARCHAR AS fingerprint,
            'group-members:0:' || d AS origin, 0 AS idx,
            make_timestamp(CAST(({T0}.0 + d) * 1000000 AS BIGINT)) AS time
          FROM range({devices}) t(d)
        ) TO '{folder}/compacted-bench.parquet' (FORMAT parquet, COMPRESSION zstd)
        """
    )


def _day(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(T0 + day * 86_400))


def lake_reports(probes: int = 10_000_000, devices: int = 50_000) -> None:
    started = time.perf_counter()
    root = synth_lake(probes, devices)
    made = time.perf_counter() - started
    size_mb = sum(p.stat().st_size for p in root.rglob("*.parquet")) / 1e6
    print(
        f"lake reports: {probes:,} probes over {DAYS} days from {devices:,} devices, "
        f"{size_mb:,.0f} MB of Parquet (made in {made:.1f} s, or found made)"
    )
    lake = Lake(str(root))
    files = f"{root}/enriched/probes/*/*.parquet"
    described = duckdb.sql(
        f"DESCRIBE SELECT * FROM read_parquet('{files}', hive_partitioning = false)"
    )
    wanted = [*COLUMNS["probes"], TIMES["probes"][1]]
    assert [row[0] for row in described.fetchall()] == wanted, "the enriched zone's columns"
    timed = [("count(*) from probes", None)] + [
        (name, {"mac": "f0:18:98:00:01:00"} if "mac" in report.extra else {})
        for name, report in REPORTS.items()
        if name.startswith(("probes", "new", "top", "presence"))
    ]
    for name, given in timed:
        started = time.perf_counter()
        if given is None:
            rows = with_lake(lake, lambda con: con.sql("select count(*) from probes").fetchall())
        else:
            rows = with_lake(lake, lambda con, n=name, g=given: run_report(con, n, g).fetchall())
        elapsed = time.perf_counter() - started
        print(f"lake report {name}: {elapsed:.2f} s ({len(rows):,} rows)")
