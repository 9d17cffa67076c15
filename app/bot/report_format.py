"""What `/stats` says: the reports over the history lake, and one report's rows as a table.

Pure functions, like `app.bot.format`. A table is monospaced (`<pre>`), columns aligned, numbers
on the right, and cut with "… and N more" to fit one message however many rows the lake has.
Cells are what people wrote or phones sent (first names, SSIDs): escaped, and clipped so that
one long value cannot push the other columns out of sight.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from app.bot.api import ReportInfo, ReportRefused, ReportRows
from app.bot.format import MAX_MESSAGE, escape, fit

#: Widest a cell is shown; longer text ends in "…".
MAX_CELL = 24
#: The API's parameter names as `/stats` spells them.
SPELLED = {"gap_minutes": "gap"}
_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}):(\d{2})(\.\d+)?")
_CODE = re.compile(r"`([^`]+)`")
_EPOCH = re.compile(r"[0-9]{1,11}(\.[0-9]{1,9})?")

STATS_USAGE = (
    "<code>/stats &lt;report&gt; [since] [until]</code>, times as <code>2026-11-18</code>, "
    "<code>2026-11-18T10:00</code>, epoch seconds, or <code>7d</code> / <code>12h</code> ago "
    "(UTC); <code>mac=…</code>, <code>gap=</code><i>minutes</i> and <code>top=…</code> for the "
    "reports that take them. E.g. <code>/stats messages-per-day 7d</code>, "
    "<code>/stats presence aa:bb:cc:dd:ee:ff gap=20</code>."
)


def format_reports(reports: Sequence[ReportInfo], limit: int = MAX_MESSAGE) -> str:
    """`/stats` alone: each ready report in a line, then how to ask for one."""
    if not reports:
        return "There are no reports to show."
    head = "📊 <b>Reports</b> over the history (times in UTC):"
    lines = [f"• <code>{escape(r.name)}</code>: {_about(r)}" for r in reports]
    return fit(head, lines, [STATS_USAGE], limit)


def _about(report: ReportInfo) -> str:
    """The API's description, its `names` as code; the parameters beyond the time range."""
    about = _CODE.sub(r"<code>\1</code>", escape(report.about))
    extra = [SPELLED.get(p, p) for p in report.parameters if p not in ("since", "until")]
    return about + (f" ({', '.join(f'{p}=' for p in extra)})" if extra else "")


def format_report(result: ReportRows, params: Mapping[str, str], limit: int = MAX_MESSAGE) -> str:
    """A report's rows as an aligned table under a line naming it and its range."""
    shown = ", ".join(f"{SPELLED.get(k, k)} {escape(_given(k, v))}" for k, v in params.items())
    title = f"📊 <b>{escape(result.report)}</b>" + (f" ({shown})" if shown else "")
    if not result.rows or not result.columns:
        return f"{title}: no rows; the history has nothing there."
    count = len(result.rows)
    cells = [_column(result.rows, column) for column in result.columns]
    numeric = [all(_is_number(r.get(c)) for r in result.rows) for c in result.columns]
    widths = [
        max(len(column), *(len(cell) for cell in cells[i]))
        for i, column in enumerate(result.columns)
    ]

    def line(values: Sequence[str]) -> str:
        padded = (
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        )
        return escape("  ".join(padded).rstrip())

    head = (
        f"{title}, {count} row{'' if count == 1 else 's'}, times in UTC:\n"
        f"<pre>{line(list(result.columns))}"
    )
    lines = [line([column[i] for column in cells]) for i in range(count)]
    return fit(head, lines, [], limit, close="</pre>")


def _given(parameter: str, value: str) -> str:
    """A parameter as the title shows it: epoch seconds (`7d` became them) as a UTC time."""
    if parameter in ("since", "until") and _EPOCH.fullmatch(value):
        try:
            return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M")
        except (OverflowError, OSError, ValueError):
            return value
    return value


def _column(rows: Sequence[Mapping[str, Any]], column: str) -> list[str]:
    """One column's cells as text; times shortened alike down the column (no zero seconds,
    no midnight), so they stay aligned."""
    cells = [_cell(row.get(column)) for row in rows]
    times = [_TIME.fullmatch(cell) for cell in cells]
    if cells and all(times):
        parts = [(m.group(1), m.group(2), m.group(3)) for m in times if m]
        if all(hm == "00:00" and s == "00" for _, hm, s in parts):
            return [day for day, _, _ in parts]
        if all(s == "00" for _, _, s in parts):
            return [f"{day} {hm}" for day, hm, _ in parts]
        return [f"{day} {hm}:{s}" for day, hm, s in parts]
    return [cell if len(cell) <= MAX_CELL else cell[: MAX_CELL - 1] + "…" for cell in cells]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return str(round(value, 2))
    return " ".join(str(value).split())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def report_refused(report: str, refusal: ReportRefused) -> str:
    """The API refused: no such report, a bad value (named as `/stats` spells it), or no lake."""
    if refusal.parameter == "report":
        return f"There is no report <code>{escape(report[:60])}</code>. /stats lists them."
    if refusal.status == 404:
        return f"There is no history to report on: {escape(refusal.error)}."
    error = refusal.error
    if refusal.parameter in SPELLED and error.startswith(f"{refusal.parameter}:"):
        error = SPELLED[refusal.parameter] + error[len(refusal.parameter) :]
    return f"That report was refused: {escape(error)}.\n{STATS_USAGE}"


def bad_stats_arguments(reason: str) -> str:
    """`/stats` arguments that could not be read."""
    return f"I could not read that: {escape(reason)}.\n{STATS_USAGE}"


def stats_refused(chat_id: int) -> str:
    """A chat not on PROBEWATCH_TELEGRAM_STATS_CHATS: why, and the id its owner would add."""
    return (
        "Sorry, reports are not open to this chat: they are made from what people wrote and "
        f"what devices sent. This chat's id is <code>{chat_id}</code>; the bot's owner can add "
        "it to PROBEWATCH_TELEGRAM_STATS_CHATS."
    )
