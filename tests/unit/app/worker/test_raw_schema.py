"""Records decoded without faust's codec registry (`app.worker.raw_schema`) give the agents the
same events faust's own raw decoding gives, and sending through the topics is unchanged."""

from __future__ import annotations

import faust
import pytest
from faust import App
from faust.types import TP, Message

from app import topics
from app.worker.raw_schema import RawSchema


def _message(key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> Message:
    return Message(
        "probes", 3, 41, 1_700_000_000.0, 0, headers, key, value, None, tp=TP("probes", 3)
    )


@pytest.mark.parametrize(
    ("key", "value", "headers"),
    [
        (b"aa:bb:cc:dd:ee:ff", b'{"mac":"aa:bb:cc:dd:ee:ff"}', []),
        (None, b"[1, 2]", [("probewatch-from", b"probes/0@7")]),
        (b"k", None, []),
        (b"", b"", []),
        (b"\xff\xfe not utf-8", b"\x00\x01 not json", [("h", b"\x00")]),
    ],
)
async def test_a_record_decodes_to_the_event_faust_raw_decoding_gives(
    app: App, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
) -> None:
    stock: faust.Schema[bytes, bytes] = faust.Schema(key_serializer="raw", value_serializer="raw")
    message = _message(key, value, headers)

    ours = await RawSchema().compile(app)(message)
    faust_own = await stock.compile(app)(message)

    assert type(ours) is type(faust_own)
    assert (ours.key, ours.value, ours.headers) == (
        faust_own.key,
        faust_own.value,
        faust_own.headers,
    )
    assert (ours.key, ours.value) == (key, value)
    assert ours.message is message and ours.app is app


def test_every_topic_of_the_app_reads_raw_bytes_and_sends_them_as_given() -> None:
    declared = [value for value in vars(topics).values() if isinstance(value, faust.TopicT)]
    assert len(declared) == len(topics.INPUT_TOPICS)
    for topic in declared:
        assert isinstance(topic.schema, RawSchema), topic
        assert topic.prepare_key(b"\x00key", None)[0] == b"\x00key"
        assert topic.prepare_value(b"\x00value", None)[0] == b"\x00value"
