"""The raw zone's lines and the lake's names (`app.logic.lake.raw`, `.layout`)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from app.logic.lake.layout import (
    Merge,
    Piece,
    day_of,
    merges,
    raw_day,
    raw_path,
    resume_after,
    superseded,
)
from app.logic.lake.raw import RawRecord, envelope, parse_line, pieces

DAY_MS = 86_400_000
T0_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z


def test_a_json_value_is_kept_byte_for_byte_inside_its_line() -> None:
    value = b'[{"ts":1704067200.5,"mac":"f0:18:98:00:00:01","ssid":"Caf\\u00e9"}]'
    line = envelope(RawRecord(41, T0_MS, None, value, (("probewatch-source", b"pcap:0:7"),)))
    assert line.endswith(b',"value":' + value + b"}\n")
    held = orjson.loads(line)
    assert held["offset"] == 41 and held["headers"] == [["probewatch-source", "pcap:0:7"]]


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (b"not json", "value_text"),
        (b'{"a":\n1}', "value_text"),
        (b"\xff\xfe{}", "value_base64"),
        (b"", "value_text"),
        (None, "value"),
    ],
)
def test_a_malformed_value_is_kept_exactly_too(value: bytes | None, field: str) -> None:
    record = RawRecord(3, T0_MS, b"\xc3\x28", value)
    line = envelope(record)
    assert line.count(b"\n") == 1 and field in orjson.loads(line)
    assert parse_line(line) == record


@given(
    st.binary(max_size=60) | st.none(),
    st.binary(max_size=20) | st.none(),
    st.lists(st.tuples(st.text(min_size=1, max_size=8), st.binary(max_size=8)), max_size=3),
)
def test_any_record_comes_back_from_its_line(
    value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]
) -> None:
    record = RawRecord(7, T0_MS, key, value, tuple(headers))
    back = parse_line(envelope(record))
    assert (back.offset, back.key, back.headers) == (record.offset, key, record.headers)
    if value is not None and back.value != value:  # JSON is kept as JSON: equal as JSON
        assert orjson.loads(back.value or b"") == orjson.loads(value)
    else:
        assert back.value == value


def test_pieces_are_cut_where_the_day_changes() -> None:
    records = [RawRecord(o, T0_MS + d * DAY_MS, None, b"1") for o, d in enumerate([0, 0, 1, 1, 0])]
    cut = [
        (piece, day, [r.offset for r in run]) for piece, day, run in pieces("probes", 3, records)
    ]
    assert cut == [
        (Piece("probes", 3, 0, 1), "2024-01-01", [0, 1]),
        (Piece("probes", 3, 2, 3), "2024-01-02", [2, 3]),
        (Piece("probes", 3, 4, 4), "2024-01-01", [4]),
    ]


def test_a_piece_is_named_and_found_again_from_its_path() -> None:
    piece = Piece("telegram", 12, 5, 1_000_000_000_123)
    path = raw_path(piece, "2024-01-01")
    assert path == (
        "raw/telegram/context_date=2024-01-01/"
        "telegram+0012+00000000000000000005+00000001000000000123.jsonl.gz"
    )
    assert Piece.parse(path) == piece
    assert Piece.parse("enriched/probes/day=2024-01-01/compacted-x.parquet") is None
    assert resume_after([piece, Piece("telegram", 12, 0, 4)]) == 1_000_000_000_123
    assert resume_after([]) == -1
    assert day_of(float("inf")) == "0000-00-00"


def _formatted_day(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
    except (OverflowError, OSError, ValueError):
        return "0000-00-00"


@given(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(min_value=-1e10, max_value=1e10),
        # A microsecond either side of midnights, where datetime's rounding decides the day.
        st.builds(
            lambda day, offset: day * 86_400 + offset,
            st.integers(min_value=-1000, max_value=30_000),
            st.floats(min_value=-2.0, max_value=2.0),
        ),
    )
)
@example(1_704_067_199.9999997)  # rounds up to the microsecond that starts 2024-01-01
def test_the_day_of_a_time_is_the_day_datetime_names_even_at_midnight(ts: float) -> None:
    assert day_of(ts) == _formatted_day(ts)
    assert day_of(ts) == _formatted_day(ts)  # named again, from what is remembered


def test_a_finished_days_pieces_merge_unless_another_days_piece_lies_between() -> None:
    day_1, day_2, today = "2024-01-01", "2024-01-02", "2024-01-03"
    held = [
        (Piece("probes", 3, 0, 9), day_1),
        (Piece("probes", 3, 10, 19), day_1),
        (Piece("probes", 3, 20, 20), day_2),  # a late record: splits day 1's run
        (Piece("probes", 3, 21, 30), day_1),
        (Piece("probes", 3, 31, 40), day_1),
        (Piece("probes", 3, 41, 50), day_2),
        (Piece("probes", 3, 51, 60), today),  # not finished: never merged
        (Piece("probes", 3, 61, 70), today),
    ]
    assert merges(list(reversed(held)), today) == [
        Merge(day_1, Piece("probes", 3, 0, 19), (held[0][0], held[1][0])),
        Merge(day_1, Piece("probes", 3, 21, 40), (held[3][0], held[4][0])),
    ]
    assert merges(held, day_1) == [], "nothing before the first day"
    assert raw_day(raw_path(held[0][0], day_1)) == day_1
    assert raw_day("elsewhere/probes+0003+1+2.jsonl.gz") is None


@given(st.lists(st.tuples(st.integers(1, 5), st.sampled_from("ab")), min_size=1, max_size=30))
def test_merged_pieces_are_disjoint_and_cover_exactly_their_sources(
    runs: list[tuple[int, str]],
) -> None:
    held, first = [], 0
    for length, day in runs:
        held.append((Piece("probes", 0, first, first + length - 1), f"2024-01-0{ord(day) - 96}"))
        first += length
    found = merges(held, "2024-01-09")
    for merge in found:
        days = {day for piece, day in held if piece in merge.sources}
        assert days == {merge.day} and len(merge.sources) >= 2
        assert merge.into.first == merge.sources[0].first
        assert merge.into.last == merge.sources[-1].last
        assert (
            sum(p.last - p.first + 1 for p in merge.sources)
            == merge.into.last - merge.into.first + 1
        )
    merged = [piece for merge in found for piece in merge.sources]
    assert len(merged) == len(set(merged))
    after = [p for p, _ in held if p not in merged] + [merge.into for merge in found]
    assert superseded(after) == [], "a merge leaves no piece inside another"
    assert resume_after(after) == resume_after([p for p, _ in held])


def test_pieces_a_merged_piece_holds_are_superseded() -> None:
    merged = Piece("probes", 0, 0, 19)
    sources = [Piece("probes", 0, 0, 9), Piece("probes", 0, 10, 19)]
    later = Piece("probes", 0, 20, 29)
    assert sorted(superseded([later, *sources, merged])) == sources
    assert superseded([*sources, later]) == []
