"""`probewatch sql "SELECT …"` and `probewatch report NAME`: DuckDB over the lake.

Both read the lake (`PROBEWATCH_LAKE`) directly, with no worker running, and print a table, or
CSV, JSON lines or Parquet with `--format` (to `--output FILE`, or standard output). Exit status:
0 done, 1 the query failed (DuckDB's message), 2 a bad argument or setting (a lake that cannot
be used: no such bucket, access denied, the store unreachable).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import duckdb
import orjson

from app.lake.sql import run_report, with_lake
from app.lake.storage import Lake, LakeUnavailable
from app.logic.lake.reports import REPORTS, BadReport
from app.settings import Settings

FORMATS = ("table", "csv", "json", "parquet")
EXIT_QUERY_FAILED = 1
EXIT_BAD_ARGUMENT = 2


def sql_main(argv: list[str], settings: Settings) -> int:
    parser = _parser("sql", "Run SQL over the lake's views: probes, messages, devices_daily, …")
    parser.add_argument("query", help='the SQL, e.g. "select count(*) from probes"')
    args = parser.parse_args(argv)
    return _run(args, settings, lambda con: con.sql(args.query))


def report_main(argv: list[str], settings: Settings) -> int:
    lines = [f"  {name}: {report.about}" for name, report in sorted(REPORTS.items())]
    parser = _parser("report", "Run a ready report over the lake.\n\n" + "\n".join(lines))
    parser.add_argument("name", choices=sorted(REPORTS), metavar="NAME", help="the report")
    parser.add_argument("--since", help="from this UTC time (epoch seconds or ISO-8601)")
    parser.add_argument("--until", help="until this time, not included")
    parser.add_argument("--mac", help="the device (presence)")
    parser.add_argument("--gap-minutes", help="a silence this long ends a visit (presence, 30)")
    parser.add_argument("--top", help="SSIDs per day (top-ssids-per-day, 10)")
    args = parser.parse_args(argv)
    given = {
        key: value
        for key, value in (
            ("since", args.since),
            ("until", args.until),
            ("mac", args.mac),
            ("gap_minutes", args.gap_minutes),
            ("top", args.top),
        )
        if value is not None
    }
    return _run(args, settings, lambda con: run_report(con, args.name, given))


def _parser(command: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"probewatch {command}",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="how to print (table)")
    parser.add_argument("--output", type=Path, help="write here instead of standard output")
    return parser


def _run(args: argparse.Namespace, settings: Settings, query: object) -> int:
    if not settings.lake:
        print("probewatch: error: PROBEWATCH_LAKE is empty: there is no lake", file=sys.stderr)
        return EXIT_BAD_ARGUMENT
    if args.format == "parquet" and args.output is None:
        print("probewatch: error: --format parquet needs --output FILE", file=sys.stderr)
        return EXIT_BAD_ARGUMENT

    def work(con: duckdb.DuckDBPyConnection) -> None:
        relation = query(con)  # type: ignore[operator]
        if relation is not None:
            _print(relation, args.format, args.output)

    try:
        with_lake(Lake(settings.lake), work)
    except BadReport as bad:
        print(f"probewatch: error: {bad}", file=sys.stderr)
        return EXIT_BAD_ARGUMENT
    except LakeUnavailable as err:
        print(f"probewatch: error: the lake cannot be read: {err}", file=sys.stderr)
        return EXIT_BAD_ARGUMENT
    except duckdb.Error as err:
        print(f"probewatch: query failed: {err}", file=sys.stderr)
        return EXIT_QUERY_FAILED
    return 0


def _print(relation: duckdb.DuckDBPyRelation, form: str, output: Path | None) -> None:
    if form == "table":
        text = _table(relation.columns, relation.fetchall())
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text)
        return
    if output is not None:
        _write(relation, form, str(output))
        return
    with tempfile.TemporaryDirectory() as scratch:
        target = f"{scratch}/out"
        _write(relation, form, target)
        sys.stdout.write(Path(target).read_text())


def _write(relation: duckdb.DuckDBPyRelation, form: str, target: str) -> None:
    if form == "csv":
        relation.write_csv(target)
    elif form == "json":
        columns = relation.columns
        with open(target, "wb") as out:
            for row in relation.fetchall():
                out.write(orjson.dumps(dict(zip(columns, row, strict=True)), default=str) + b"\n")
    else:
        relation.write_parquet(target)


def _table(columns: list[str], rows: list[tuple[object, ...]]) -> str:
    """Rows as an aligned text table (numbers right-aligned), with a count under it."""
    cells = [["" if value is None else str(value) for value in row] for row in rows]
    widths = [len(name) for name in columns]
    for row in cells:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] is None for row in rows) and bool(rows)
        for i in range(len(columns))
    ]

    def line(values: list[str]) -> str:
        return "  ".join(
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [line(columns), line(["-" * width for width in widths])]
    out += [line(row) for row in cells]
    out.append(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")
    return "\n".join(out) + "\n"
