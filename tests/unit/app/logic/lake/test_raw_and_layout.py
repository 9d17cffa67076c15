"""The raw zone's lines and the lake's names (`app.logic.lake.raw`, `.layout`)."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.logic.lake.layout import Piece, day_of, raw_path, resume_after
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
