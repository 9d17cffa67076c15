"""Packs halved until each record fits: every item kept, in order, each part within the limit."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from app.logic.packing import MAX_RECORD_BYTES, bounded


def _encode(items: list[str]) -> bytes:
    return orjson.dumps(items)


@given(st.lists(st.text(max_size=300), max_size=200), st.integers(min_value=50, max_value=5_000))
def test_every_item_is_kept_in_order_and_each_part_fits_unless_one_item_alone_is_too_large(
    items: list[str], limit: int
) -> None:
    parts = bounded(items, _encode, limit)
    assert [item for part, _ in parts for item in part] == items
    for part, value in parts:
        assert value == _encode(part)
        assert len(value) <= limit or len(part) == 1


def test_a_pack_within_the_limit_is_one_record() -> None:
    items = ["a" * 100] * 10
    assert bounded(items, _encode) == [(items, _encode(items))]


def test_two_thousand_long_items_become_records_the_producer_accepts() -> None:
    items = ["x" * 1_000] * 2_000  # ~2 MB packed: faust's producer refuses over 1,000,000 bytes
    parts = bounded(items, _encode)
    assert len(parts) == 4
    assert all(len(value) <= MAX_RECORD_BYTES < 1_000_000 for _, value in parts)
