"""`/stats` replies as text: the report list, aligned tables cut to one message, refusals."""

from __future__ import annotations

from app.bot.api import ReportInfo, ReportRefused, ReportRows
from app.bot.format import MAX_MESSAGE, telegram_length
from app.bot.report_format import format_report, format_reports, report_refused


def test_the_reports_are_listed_with_what_they_take() -> None:
    text = format_reports(
        [
            ReportInfo("messages-per-day", "Messages per day.", ("since", "until")),
            ReportInfo(
                "presence",
                "A device's visits (`gap_minutes`).",
                ("since", "until", "mac", "gap_minutes"),
            ),
        ]
    )
    assert "• <code>messages-per-day</code>: Messages per day.\n" in text
    assert (
        "• <code>presence</code>: A device's visits (<code>gap_minutes</code>). (mac=, gap=)"
        in (text)
    )
    assert "<code>/stats messages-per-day 7d</code>" in text


def test_a_report_is_an_aligned_table() -> None:
    rows = ReportRows(
        "messages-per-user-per-day",
        ("day", "user_id", "user_first_name", "messages"),
        (
            {"day": "2026-11-18", "user_id": 11, "user_first_name": "Ann", "messages": 3},
            {"day": "2026-11-18", "user_id": 12, "user_first_name": "<b>oris", "messages": 12},
            {"day": "2026-11-19", "user_id": 7, "user_first_name": None, "messages": 1},
        ),
    )
    text = format_report(rows, {"since": "1795000000", "until": "2026-11-20"})
    assert text == (
        "📊 <b>messages-per-user-per-day</b> (since 2026-11-18 11:06, until 2026-11-20), "
        "3 rows, times in UTC:\n"
        "<pre>day         user_id  user_first_name  messages\n"
        "2026-11-18       11  Ann                     3\n"
        "2026-11-18       12  &lt;b&gt;oris                12\n"
        "2026-11-19        7  -                       1</pre>"
    )


def test_times_are_shortened_alike_down_a_column() -> None:
    def table(*times: str) -> list[str]:
        rows = tuple({"hour": t, "probes": 1} for t in times)
        text = format_report(ReportRows("probes-per-hour", ("hour", "probes"), rows), {})
        return [line.split("  ")[0] for line in text.split("<pre>")[1].split("\n")[1:]]

    assert table("2026-11-18T00:00:00", "2026-11-19T00:00:00") == ["2026-11-18", "2026-11-19"]
    assert table("2026-11-18T00:00:00", "2026-11-18T13:00:00") == [
        "2026-11-18 00:00",
        "2026-11-18 13:00",
    ]
    assert table("2026-11-18T10:13:20.250000", "2026-11-18T11:00:00") == [
        "2026-11-18 10:13:20",
        "2026-11-18 11:00:00",
    ]


def test_a_long_report_is_cut_to_one_message_with_a_count_of_the_rest() -> None:
    rows = tuple(
        {"day": f"2026-{1 + i // 28:02}-{1 + i % 28:02}", "ssid": "x" * 40, "devices": i}
        for i in range(300)
    )
    text = format_report(ReportRows("top-ssids-per-day", ("day", "ssid", "devices"), rows), {})
    assert telegram_length(text) <= MAX_MESSAGE
    shown = text.split("<pre>")[1].split("</pre>")[0].split("\n")[1:]
    assert 50 < len(shown) < 300
    assert text.endswith(f"</pre>\n… and {300 - len(shown)} more")
    assert shown[0] == "2026-01-01  " + "x" * 23 + "…        0", "long cells are clipped"


def test_an_empty_report_says_so() -> None:
    text = format_report(ReportRows("messages-per-day", ("day", "messages"), ()), {"since": "7d"})
    assert text == (
        "📊 <b>messages-per-day</b> (since 7d): no rows; the history has nothing there."
    )


def test_refusals_name_what_to_change_as_stats_spells_it() -> None:
    bad = ReportRefused(400, "gap_minutes: must be a whole number from 1 to 10080", "gap_minutes")
    assert report_refused("presence", bad).startswith(
        "That report was refused: gap: must be a whole number from 1 to 10080.\n"
    )
    unknown = ReportRefused(400, "report: no report 'x<y>' (see GET /analytics)", "report")
    assert report_refused("x<y>", unknown) == (
        "There is no report <code>x&lt;y&gt;</code>. /stats lists them."
    )
    no_lake = ReportRefused(404, "there is no lake (PROBEWATCH_LAKE is empty)", None)
    assert report_refused("messages-per-day", no_lake) == (
        "There is no history to report on: there is no lake (PROBEWATCH_LAKE is empty)."
    )
