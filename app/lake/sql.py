"""SQL over the lake: a DuckDB connection with its views, and the ready reports.

    probes_files, messages_files   every row of the enriched files, as written
    probes                         one row per probe: a probe forwarded twice is kept once
    messages                       one row per (bot, update, kind): a re-delivered update once
    devices_daily                  per day and MAC: probes, first and last probe, SSIDs, vendor
    group_joins_files              each MAC that took a probable device, as written
    group_joins                    one row per MAC and group it took: a join sent twice once
    group_spans                    per MAC and group it took, when: [since_ts, until_ts)
    grouped_probes                 `probes` with each probe's group (`group_id`, null until the
                                   lake holds the MAC's join) and whether it began in doubt

A probe's group is the one its MAC took last at or before the probe (the MAC's first, for the
probes heard before its first decision): a MAC takes one group for as long as its device row
lives, and a new one only after retention or an erasure forgot it. So a MAC's spans follow one
another, the first from the beginning of time, the last to its end; a plain join on the MAC with
the span's bounds costs half what DuckDB's ASOF join did over 10 million probes. A group any of
whose joins was in doubt is in doubt, as `GET /activity` leaves it out of the probable devices.

Times are UTC (`time`, a TIMESTAMP; `day`, the folder's DATE). Object storage is read through
the lake's own fsspec file system, registered with DuckDB (no DuckDB extension to download), so
DuckDB reaches it with the same endpoint and credentials as the archiver. A lake whose bucket is
missing is an error (LakeUnavailable), not an empty lake.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import duckdb

from app.lake.parquet import COLUMNS, empty_select
from app.lake.storage import Lake
from app.logic.lake.layout import table_glob
from app.logic.lake.reports import REPORTS, BadReport, report_parameters

T = TypeVar("T")

VIEWS = {
    "probes": (
        "SELECT * EXCLUDE (origin, idx) FROM probes_files WHERE NOT contains(origin, '/') "
        "UNION ALL BY NAME "
        "SELECT * EXCLUDE (origin, idx) FROM probes_files WHERE contains(origin, '/') "
        "QUALIFY row_number() OVER (PARTITION BY origin, idx ORDER BY day) = 1"
    ),
    "messages": (
        "SELECT * FROM messages_files "
        "QUALIFY row_number() OVER (PARTITION BY bot_id, update_id, kind ORDER BY day) = 1"
    ),
    "devices_daily": (
        "SELECT day, mac, any_value(vendor) AS vendor, bool_or(randomized) AS randomized, "
        "count(*) AS probes, min(time) AS first_probe, max(time) AS last_probe, "
        "count(DISTINCT ssid) FILTER (WHERE ssid <> '') AS ssids FROM probes GROUP BY day, mac"
    ),
    "group_joins": (
        "SELECT * FROM group_joins_files QUALIFY row_number() "
        "OVER (PARTITION BY mac, group_id ORDER BY decided_ts, origin, idx) = 1"
    ),
    "group_spans": (
        "SELECT mac, group_id, decided_ts, "
        "CASE WHEN row_number() OVER w = 1 THEN '-infinity'::DOUBLE ELSE decided_ts END "
        "AS since_ts, coalesce(lead(decided_ts) OVER w, 'infinity'::DOUBLE) AS until_ts, "
        "group_id IN (SELECT group_id FROM group_joins WHERE in_doubt) AS group_in_doubt "
        "FROM group_joins WINDOW w AS (PARTITION BY mac ORDER BY decided_ts, group_id)"
    ),
    "grouped_probes": (
        "SELECT p.*, g.group_id, g.group_in_doubt FROM probes p LEFT JOIN group_spans g "
        "ON p.mac = g.mac AND p.ts >= g.since_ts AND p.ts < g.until_ts"
    ),
}


def connect(lake: Lake) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake's views (made over the files there now); LakeUnavailable
    when the lake's object store cannot be used."""
    lake.check()
    con = duckdb.connect()
    if not lake.local:
        con.register_filesystem(lake.fs)
    for table in COLUMNS:
        pattern = table_glob(table)
        if lake.glob(pattern):
            source = (
                f"SELECT * FROM read_parquet('{_quoted(lake.uri(pattern))}', "
                "hive_partitioning = true, hive_types = {'day': DATE}, union_by_name = true)"
            )
        else:
            source = empty_select(table)
        con.execute(f"CREATE VIEW {table}_files AS {source}")
    for name, select in VIEWS.items():
        con.execute(f"CREATE VIEW {name} AS {select}")
    return con


#: How often a query is tried again when a file it was to read was compacted away meanwhile.
RETRIES = 3


def with_lake(lake: Lake, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """`work(con)` on a fresh connection; again (up to RETRIES times) when a file listed as it
    started was deleted before it was read: a compacted file that replaced it is there by then
    (compaction writes it before deleting what it merged), and a table left without files is
    read as empty."""
    for attempt in range(RETRIES):
        try:
            # The views read the files' schemas as they are made: a file can vanish then too.
            with connect(lake) as con:
                return work(con)
        except duckdb.IOException as err:
            if attempt == RETRIES - 1 or not _vanished(err):
                raise
    raise AssertionError("unreachable")


def _vanished(err: duckdb.Error) -> bool:
    """A file listed when the views were made is gone: one of them, or every one of a table
    (deleted meanwhile by a compaction, a worker clearing a crashed piece's files, retention)."""
    text = str(err).lower()
    return "no such file" in text or "not found" in text or "no files found" in text


def run_report(
    con: duckdb.DuckDBPyConnection, name: str, given: Mapping[str, str]
) -> duckdb.DuckDBPyRelation:
    """A ready report's rows; BadReport for an unknown report or a bad parameter."""
    report = REPORTS.get(name)
    if report is None:
        raise BadReport("report", f"no report {name!r} (known: {', '.join(sorted(REPORTS))})")
    params: dict[str, Any] = report_parameters(report, given)
    return con.sql(report.sql, params=params)


def _quoted(text: str) -> str:
    return text.replace("'", "''")
