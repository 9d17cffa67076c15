"""`GET /analytics` (the ready reports) and `GET /analytics/{report}`: reports over the lake.

Any worker answers: it reads the lake itself (a shared folder, or object storage), with DuckDB
in a thread so the event loop keeps serving. `?format=csv` downloads the rows as CSV. A lake
that cannot be read (no such bucket, access denied, unreachable) is a 503 that says why.
"""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import duckdb
from aiohttp import web as aiohttp_web
from faust import web

from app.lake.sql import run_report, with_lake
from app.lake.storage import Lake, LakeUnavailable
from app.logic.lake.reports import REPORTS, BadReport
from app.main import settings

blueprint = web.Blueprint("analytics")

#: Parameters every report takes, and the ones a report may take besides.
COMMON = ("since", "until", "format")
EXTRA = ("mac", "gap_minutes", "top")


@blueprint.route("/analytics", name="analytics")
class AnalyticsView(web.View):
    async def get(self, request: web.Request) -> web.Response:
        reports = [
            {"name": name, "about": report.about, "parameters": [*COMMON[:2], *report.extra]}
            for name, report in sorted(REPORTS.items())
        ]
        return self.json({"reports": reports})


@blueprint.route("/analytics/{report}", name="analytics-report")
class ReportView(web.View):
    async def get(self, request: web.Request, report: str) -> web.Response | aiohttp_web.Response:
        if not settings.lake:
            return self.json({"error": "there is no lake (PROBEWATCH_LAKE is empty)"}, status=404)
        given = dict(request.query)
        known = REPORTS.get(report)
        unknown = sorted(set(given) - set(COMMON) - set(known.extra if known else EXTRA))
        form = given.pop("format", "json")
        try:
            if known is None:
                raise BadReport("report", f"no report {report!r} (see GET /analytics)")
            if unknown:
                raise BadReport(unknown[0], "is not a parameter of this report")
            if form not in ("json", "csv"):
                raise BadReport("format", "must be json or csv")
            columns, rows = await asyncio.to_thread(_rows, report, given)
        except BadReport as bad:
            return self.json({"error": str(bad), "parameter": bad.parameter}, status=400)
        except LakeUnavailable as err:
            return self.json({"error": f"the lake cannot be read: {err}"}, status=503)
        if form == "csv":
            return _csv(report, columns, rows)
        return self.json(
            {
                "report": report,
                "columns": columns,
                "rows": [dict(zip(columns, row, strict=True)) for row in rows],
            }
        )


def _rows(report: str, given: dict[str, str]) -> tuple[list[str], list[tuple[Any, ...]]]:
    def work(con: duckdb.DuckDBPyConnection) -> tuple[list[str], list[tuple[Any, ...]]]:
        relation = run_report(con, report, given)
        return relation.columns, [tuple(_plain(v) for v in row) for row in relation.fetchall()]

    return with_lake(Lake(settings.lake), work)


def _plain(value: Any) -> Any:
    """A DuckDB value as JSON has it: times as ISO-8601 text."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _csv(report: str, columns: list[str], rows: list[tuple[Any, ...]]) -> aiohttp_web.Response:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(columns)
    writer.writerows(rows)
    return aiohttp_web.Response(
        text=text.getvalue(),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{report}.csv"'},
    )
