"""The ready reports over the lake: what each answers, its SQL over the lake's views
(`app.lake.sql`) and its parameters. Every report takes a time range, [since, until)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: The range a report covers when none is given: all of it.
EARLIEST = datetime(1970, 1, 1)
LATEST = datetime(2200, 1, 1)
MAX_GAP_MINUTES = 7 * 24 * 60
MAX_TOP = 100


class BadReport(ValueError):
    """A report or parameter that cannot be used; `parameter` names it."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"{parameter}: {reason}")
        self.parameter = parameter


@dataclass(frozen=True)
class Report:
    name: str
    about: str
    sql: str
    #: Parameters beyond since/until it needs (`mac`) or takes (`gap_minutes`, `top`).
    extra: tuple[str, ...] = ()


_MESSAGES = "FROM messages WHERE kind = 'message' AND time >= $since AND time < $until"
_PROBES = "FROM probes WHERE time >= $since AND time < $until"
_GROUPED = "FROM grouped_probes WHERE time >= $since AND time < $until"
#: Probable devices: the groups of the probes' MACs, those begun in doubt left out (as
#: `GET /activity` counts them); a MAC whose join the lake does not hold yet counts in none.
_PROBABLE = "count(DISTINCT group_id) FILTER (WHERE NOT group_in_doubt)"

REPORTS = {
    report.name: report
    for report in (
        Report(
            "messages-per-day",
            "Messages per day (edits not counted).",
            f"SELECT day, count(*) AS messages {_MESSAGES} GROUP BY day ORDER BY day",
        ),
        Report(
            "messages-per-user-per-day",
            "Messages per user per day.",
            "SELECT day, user_id, any_value(user_first_name) AS user_first_name, "
            f"count(*) AS messages {_MESSAGES} GROUP BY day, user_id ORDER BY day, messages DESC, "
            "user_id",
        ),
        Report(
            "average-length-per-user-per-day",
            "Average text length (characters) of each user's text messages per day.",
            "SELECT day, user_id, any_value(user_first_name) AS user_first_name, "
            "round(avg(text_length), 2) AS average_length, count(*) AS messages "
            f"{_MESSAGES} AND content = 'text' GROUP BY day, user_id ORDER BY day, user_id",
        ),
        Report(
            "messages-by-hour-and-weekday",
            "Messages by UTC hour of day and ISO weekday (1 = Monday).",
            "SELECT isodow(time) AS weekday, hour(time) AS hour, count(*) AS messages "
            f"{_MESSAGES} GROUP BY weekday, hour ORDER BY weekday, hour",
        ),
        Report(
            "probes-per-hour",
            "Probes, distinct devices (MACs) and distinct probable devices (MACs grouped) per "
            "UTC hour.",
            "SELECT date_trunc('hour', time) AS hour, count(*) AS probes, "
            f"count(DISTINCT mac) AS devices, {_PROBABLE} AS probable_devices "
            f"{_GROUPED} GROUP BY hour ORDER BY hour",
        ),
        Report(
            "new-and-returning-devices-per-day",
            "Devices (MACs) and probable devices (MACs grouped) seen each day: new (their "
            "first day in the lake) and returning.",
            "WITH marked AS (SELECT day, mac, group_id, group_in_doubt, "
            "bool_or(time >= $since AND time < $until) AS in_range FROM grouped_probes "
            "GROUP BY day, mac, group_id, group_in_doubt), "
            "first_days AS (SELECT mac, min(day) AS first_day FROM marked GROUP BY mac), "
            "first_group_days AS (SELECT group_id, min(day) AS first_group_day FROM marked "
            "WHERE NOT group_in_doubt GROUP BY group_id), "
            "macs AS (SELECT day, count(*) FILTER (WHERE first_day = day) AS new_devices, "
            "count(*) FILTER (WHERE first_day < day) AS returning_devices FROM "
            "(SELECT DISTINCT day, mac FROM marked WHERE in_range) JOIN first_days USING (mac) "
            "GROUP BY day), "
            "probable AS (SELECT day, count(*) FILTER (WHERE first_group_day = day) AS "
            "new_probable_devices, count(*) FILTER (WHERE first_group_day < day) AS "
            "returning_probable_devices FROM (SELECT DISTINCT day, group_id FROM marked "
            "WHERE in_range AND NOT group_in_doubt) JOIN first_group_days USING (group_id) "
            "GROUP BY day) "
            "SELECT day, new_devices, returning_devices, "
            "coalesce(new_probable_devices, 0) AS new_probable_devices, "
            "coalesce(returning_probable_devices, 0) AS returning_probable_devices "
            "FROM macs LEFT JOIN probable USING (day) ORDER BY day",
        ),
        Report(
            "top-ssids-per-day",
            "Each day's SSIDs probed for by the most devices (MACs; `top` per day, 10 by "
            "default), and by how many probable devices.",
            "SELECT day, ssid, count(DISTINCT mac) AS devices, "
            f"{_PROBABLE} AS probable_devices, count(*) AS probes "
            f"{_GROUPED} AND ssid <> '' GROUP BY day, ssid "
            "QUALIFY row_number() OVER (PARTITION BY day ORDER BY devices DESC, ssid) <= $top "
            "ORDER BY day, devices DESC, ssid",
            ("top",),
        ),
        Report(
            "presence",
            "A device's visits: the first and last probe of each, a silence of `gap_minutes` "
            "(30 by default) ending one. Needs `mac`.",
            f"WITH heard AS (SELECT time {_PROBES} AND mac = $mac), "
            "marked AS (SELECT time, CASE WHEN lag(time) OVER (ORDER BY time) IS NULL "
            "OR time - lag(time) OVER (ORDER BY time) > to_minutes($gap_minutes) "
            "THEN 1 ELSE 0 END AS starts FROM heard), "
            "numbered AS (SELECT time, sum(starts) OVER (ORDER BY time ROWS UNBOUNDED PRECEDING) "
            "AS visit FROM marked) "
            "SELECT visit, min(time) AS first_probe, max(time) AS last_probe, count(*) AS probes, "
            "round(epoch(max(time) - min(time)) / 60, 1) AS minutes FROM numbered "
            "GROUP BY visit ORDER BY visit",
            ("mac", "gap_minutes"),
        ),
    )
}


def report_parameters(report: Report, given: Mapping[str, str]) -> dict[str, Any]:
    """The report's SQL parameters from what the user gave (text); BadReport names a bad one."""
    params: dict[str, Any] = {
        "since": _moment(given.get("since"), "since", EARLIEST),
        "until": _moment(given.get("until"), "until", LATEST),
    }
    if params["until"] <= params["since"]:
        raise BadReport("until", "must be after since")
    if "mac" in report.extra:
        mac = (given.get("mac") or "").strip().lower().replace("-", ":")
        if not re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac):
            raise BadReport("mac", "give the device's MAC, aa:bb:cc:dd:ee:ff")
        params["mac"] = mac
    if "gap_minutes" in report.extra:
        params["gap_minutes"] = _whole(
            given.get("gap_minutes"), "gap_minutes", 1, MAX_GAP_MINUTES, 30
        )
    if "top" in report.extra:
        params["top"] = _whole(given.get("top"), "top", 1, MAX_TOP, 10)
    return params


def _moment(text: str | None, parameter: str, default: datetime) -> datetime:
    """A UTC time as DuckDB's TIMESTAMP: epoch seconds, or ISO-8601 (UTC unless it says)."""
    if text is None or not text.strip():
        return default
    text = text.strip()
    try:
        if re.fullmatch(r"[0-9]{1,11}(\.[0-9]{1,9})?", text):
            moment = datetime.fromtimestamp(float(text), UTC)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        raise BadReport(parameter, "must be epoch seconds or an ISO-8601 time") from None
    return moment.astimezone(UTC).replace(tzinfo=None)


def _whole(text: str | None, parameter: str, low: int, high: int, default: int) -> int:
    if text is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", text.strip()) or not low <= int(text) <= high:
        raise BadReport(parameter, f"must be a whole number from {low} to {high}")
    return int(text)
