"""Raw records into enriched rows (`app.logic.lake.flatten`): probes kept where the fold counts
them, with origins that make a forwarded copy the same row; messages flattened."""

from __future__ import annotations

import orjson

from app.logic.lake.flatten import message_rows, probe_rows
from app.logic.lake.raw import RawRecord

A, B = "f0:18:98:00:00:01", "f0:18:98:00:00:02"
HOME = {A: 3, B: 5}


def _probe(mac: str, ts: float = 1704067200.0, **more: object) -> dict[str, object]:
    return {"ts": ts, "mac": mac, "ssid": "", "randomized": False, **more}


def _rows(record: RawRecord, partition: int = 3) -> list[dict[str, object]] | None:
    return probe_rows(record, "probes", partition, HOME.__getitem__, {A: "Alice"}.get)


def test_a_packed_record_keeps_the_probes_whose_rows_live_in_its_partition() -> None:
    value = orjson.dumps([_probe(A), _probe(B), _probe(A, ssid="home")])
    rows = _rows(RawRecord(10, 0, None, value))
    assert rows is not None
    assert [(r["mac"], r["idx"], r["origin"]) for r in rows] == [
        (A, 0, "probes:3:10"),
        (A, 2, "probes:3:10"),
    ]
    assert rows[0]["name"] == "Alice" and rows[0]["vendor"] == "Apple, Inc."
    assert rows[0]["day"] == "2024-01-01"


def test_a_forwarded_copy_names_its_source_so_a_second_copy_is_the_same_row() -> None:
    headers = (("probewatch-source", b"probes:3:10"),)
    value = orjson.dumps([_probe(B)])
    first = _rows(RawRecord(50, 0, B.encode(), value, headers), partition=5)
    again = _rows(RawRecord(51, 0, B.encode(), value, headers), partition=5)
    assert first is not None and again is not None
    assert [(r["origin"], r["idx"]) for r in first] == [("probes:3:10/" + B, 0)]
    assert [(r["origin"], r["idx"]) for r in again] == [(r["origin"], r["idx"]) for r in first]


def test_a_single_probe_counts_where_its_key_is_its_mac() -> None:
    value = orjson.dumps(_probe(A))
    assert len(_rows(RawRecord(1, 0, A.encode(), value)) or []) == 1
    assert _rows(RawRecord(2, 0, b"someone-else", value)) == []


def test_what_the_fold_rejects_whole_is_none_and_a_bad_probe_is_left_out() -> None:
    assert _rows(RawRecord(1, 0, None, b"not json")) is None
    bad_header = (("probewatch-source", b"nonsense"),)
    assert _rows(RawRecord(1, 0, None, orjson.dumps([_probe(A)]), bad_header)) is None
    mixed = orjson.dumps([_probe(A), {"mac": "nope"}, _probe(A, rssi_dbm=-40)])
    rows = _rows(RawRecord(1, 0, None, mixed))
    assert rows is not None and [r["idx"] for r in rows] == [0, 2]


def test_every_message_like_payload_is_a_row() -> None:
    update = {
        "update_id": 9,
        "edited_message": {
            "message_id": 4,
            "date": 1704067200,
            "edit_date": 1704067260,
            "from": {"id": 7, "is_bot": False, "first_name": "Мария", "username": "m"},
            "chat": {"id": -100123, "type": "supergroup", "title": "Lab"},
            "caption": "фото 📷",
            "photo": [],
        },
    }
    [row] = message_rows(RawRecord(0, 0, b"-100123", orjson.dumps(update), (("bot", b"42"),))) or []
    assert row["kind"] == "edited_message" and row["bot_id"] == 42 and row["update_id"] == 9
    assert row["user_first_name"] == "Мария" and row["chat_type"] == "supergroup"
    assert row["content"] == "photo" and row["text"] == "фото 📷" and row["text_length"] == 6
    assert row["edit_date"] == 1704067260 and row["day"] == "2024-01-01"
    sticker = {"update_id": 10, "message": {"message_id": 5, "date": 1704067200, "sticker": {}}}
    [row] = message_rows(RawRecord(1, 0, None, orjson.dumps(sticker))) or []
    assert row["content"] == "sticker" and row["text"] is None and row["text_length"] == 0
    assert message_rows(RawRecord(2, 0, None, b'{"no_update_id": 1}')) is None
    assert message_rows(RawRecord(3, 0, None, orjson.dumps({"update_id": 11, "poll": {}}))) == []
