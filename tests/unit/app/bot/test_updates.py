"""Raw updates on their way into Kafka: what is refused, how they are keyed and labelled."""

from __future__ import annotations

import pytest

from app.bot.updates import (
    InvalidUpdate,
    bot_headers,
    bot_id_from_headers,
    chat_id_of,
    decode_update,
    kafka_key,
)
from tests.fake_telegram import text_update


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not_json"),
        (b"\xff\xfe", "not_json"),
        (b"[1, 2]", "not_an_object"),
        (b"{}", "no_update_id"),
        (b'{"update_id": "x"}', "no_update_id"),
        (b'{"update_id": true}', "no_update_id"),
    ],
)
def test_what_is_not_an_update(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidUpdate) as bad:
        decode_update(body)
    assert bad.value.reason == reason


def test_an_update_is_keyed_by_its_chat() -> None:
    update = decode_update(b'{"update_id": 5, "message": {"chat": {"id": -100123}}}')
    assert kafka_key(update) == b"-100123"
    assert kafka_key(text_update(6, 1001, "hi")) == b"1001"


@pytest.mark.parametrize(
    ("update", "chat_id"),
    [
        (
            {"update_id": 1, "callback_query": {"from": {"id": 7}, "message": {"chat": {"id": 8}}}},
            8,
        ),
        ({"update_id": 1, "inline_query": {"from": {"id": 7}, "query": "x"}}, 7),
        ({"update_id": 1, "my_chat_member": {"chat": {"id": 9}, "from": {"id": 7}}}, 9),
        ({"update_id": 1, "poll": {"id": "p"}}, None),
        ({"update_id": 1, "message": {"chat": {"id": "nope"}}}, None),
    ],
)
def test_the_chat_of_other_update_kinds(update: dict[str, object], chat_id: int | None) -> None:
    assert chat_id_of(update) == chat_id
    assert kafka_key(update) == str(chat_id or 0).encode()


def test_the_bot_label() -> None:
    assert dict(bot_headers(123456)) == {"bot": b"123456"}
    assert bot_id_from_headers({"bot": b"123456"}) == 123456
    assert bot_id_from_headers({}) is None
    assert bot_id_from_headers({"bot": b"x"}) is None
