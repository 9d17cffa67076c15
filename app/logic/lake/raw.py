"""The raw zone keeps every Kafka record as it came: one JSON line per record.

    {"offset": 41, "timestamp": 1704067200123, "key": "…", "headers": [["bot", "…"]], "value": …}

`value` is the record's value itself, byte for byte, when it is one line of JSON (what every
producer of ours writes); any other value (not JSON, not UTF-8, spread over lines) is kept
exactly too, as `value_text` (UTF-8 text) or `value_base64`, so a malformed record reaches the
raw zone as it came. Keys and header values are text, or `key_base64` / `{"base64": …}` when
they are not UTF-8; headers stay a list, in order, repeats kept.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.logic.lake.layout import Piece, day_of


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One Kafka record, as the archiver read it."""

    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = field(default=())

    @property
    def day(self) -> str:
        """The UTC day it was received (its Kafka timestamp)."""
        return day_of(self.timestamp_ms / 1000)


def envelope(record: RawRecord) -> bytes:
    """The record as one line of the raw zone, newline included."""
    head: dict[str, Any] = {"offset": record.offset, "timestamp": record.timestamp_ms}
    head.update(_bytes_field("key", record.key))
    if record.headers:
        head["headers"] = [[name, _header_value(raw)] for name, raw in record.headers]
    value = record.value
    if value is not None and _is_one_json_line(value):
        return orjson.dumps(head)[:-1] + b',"value":' + value.strip() + b"}\n"
    head.update(_bytes_field("value", value))
    return orjson.dumps(head) + b"\n"


def _header_value(raw: bytes) -> str | dict[str, str]:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(raw).decode("ascii")}


def _is_one_json_line(value: bytes) -> bool:
    if b"\n" in value or b"\r" in value or not value.strip():
        return False
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError:
        return False
    return True


def _bytes_field(name: str, raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        return {name: None}
    try:
        return {f"{name}_text" if name == "value" else name: raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{name}_base64": base64.b64encode(raw).decode("ascii")}


def parse_line(line: bytes) -> RawRecord:
    """A raw zone line back as the record it keeps (ValueError for a line that is none)."""
    try:
        held = orjson.loads(line)
    except orjson.JSONDecodeError as bad:
        raise ValueError(f"not a raw zone line: {bad}") from None
    if not isinstance(held, dict) or not isinstance(held.get("offset"), int):
        raise ValueError("not a raw zone line: no offset")
    headers = [
        (name, base64.b64decode(raw["base64"]) if isinstance(raw, dict) else str(raw).encode())
        for name, raw in held.get("headers") or ()
    ]
    return RawRecord(
        held["offset"],
        int(held.get("timestamp") or 0),
        _back(held, "key", "key", "key_base64"),
        _back(held, "value", "value_text", "value_base64"),
        tuple(headers),
    )


def _back(held: dict[str, Any], json_name: str, text_name: str, b64_name: str) -> bytes | None:
    if b64_name in held:
        return base64.b64decode(held[b64_name])
    if text_name in held and text_name != json_name:
        return str(held[text_name]).encode()
    value = held.get(json_name)
    if value is None:
        return None
    if json_name == "key":
        return str(value).encode()
    return orjson.dumps(value)


def pieces(
    zone: str, partition: int, records: Iterable[RawRecord]
) -> Iterator[tuple[Piece, str, list[RawRecord]]]:
    """Consecutive records cut into pieces: a new piece wherever the day they were received
    changes (so a piece sits in one day's folder). Each with its day."""
    run: list[RawRecord] = []
    day = ""
    for record in records:
        if run and record.day != day:
            yield Piece(zone, partition, run[0].offset, run[-1].offset), day, run
            run = []
        day = record.day
        run.append(record)
    if run:
        yield Piece(zone, partition, run[0].offset, run[-1].offset), day, run
