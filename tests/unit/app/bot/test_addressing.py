"""Which group messages are meant for the bot: its commands, mentions of it, replies to it."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.types import Message, User

from app.bot.addressing import addressed_text

ME = User(id=777, is_bot=True, first_name="Probewatch", username="Probewatch_Bot")
COMMANDS = {"device", "stats", "help"}
ADA = {"id": 4242, "is_bot": False, "first_name": "Ada"}


def message(
    text: str, chat_type: str = "supergroup", entities: list[dict[str, Any]] | None = None
) -> Message:
    chat: dict[str, Any] = {"id": -100123, "type": chat_type, "title": "Lab"}
    if chat_type == "private":
        chat = {"id": 4242, "type": "private", "first_name": "Ada"}
    body: dict[str, Any] = {"message_id": 5, "date": 0, "chat": chat, "from": ADA, "text": text}
    if entities is not None:
        body["entities"] = entities
    return Message.model_validate(body)


def mention(text: str, what: str) -> dict[str, Any]:
    """A `mention` entity over `what` in `text`, in UTF-16 units as Telegram counts."""
    start = text.index(what)
    units = len(text[:start].encode("utf-16-le")) // 2
    return {"type": "mention", "offset": units, "length": len(what.encode("utf-16-le")) // 2}


def test_a_private_chat_is_always_talking_to_the_bot() -> None:
    assert addressed_text(message("hello there", "private"), ME, COMMANDS) == "hello there"


@pytest.mark.parametrize("chat_type", ["group", "supergroup"])
def test_group_chatter_is_not_for_the_bot(chat_type: str) -> None:
    assert addressed_text(message("see you at 5", chat_type), ME, COMMANDS) is None
    assert addressed_text(message("f0:18:98:11:22:33", chat_type), ME, COMMANDS) is None


@pytest.mark.parametrize(
    ("text", "answered"),
    [
        ("/device f0:18:98:11:22:33", True),
        ("/Device", True),
        ("/device@probewatch_bot x", True),  # the username compared without case
        ("/frobnicate@Probewatch_Bot", True),  # named: told it is unknown
        ("/device@other_bot x", False),  # another bot's command
        ("/frobnicate", False),  # not ours, perhaps another bot's
    ],
)
def test_commands_in_a_group(text: str, answered: bool) -> None:
    got = addressed_text(message(text), ME, COMMANDS)
    assert got == (text if answered else None)


def test_a_mention_is_answered_without_the_mention() -> None:
    text = "@probewatch_bot  Alice phone"
    got = addressed_text(message(text, entities=[mention(text, "@probewatch_bot")]), ME, COMMANDS)
    assert got == "Alice phone"
    text = "👋🏽 hey @Probewatch_Bot, f0:18:98:11:22:33 ?"  # the emoji are 4 UTF-16 units
    got = addressed_text(message(text, entities=[mention(text, "@Probewatch_Bot")]), ME, COMMANDS)
    assert got == "👋🏽 hey , f0:18:98:11:22:33 ?"


def test_a_mention_of_someone_else_is_not_for_the_bot() -> None:
    text = "@ada_l look at this"
    assert addressed_text(message(text, entities=[mention(text, "@ada_l")]), ME, COMMANDS) is None
    text = "@probewatch_bot_fan hi"  # the same start, a different user
    entity = mention(text, "@probewatch_bot_fan")
    assert addressed_text(message(text, entities=[entity]), ME, COMMANDS) is None
    text = "@probewatch_bot hi"  # the name typed, but no entity: Telegram found no such user
    assert addressed_text(message(text, entities=[]), ME, COMMANDS) is None


def test_a_text_mention_of_the_bot_counts_by_its_id() -> None:
    text = "Probewatch what about Alice phone"
    entity = {"type": "text_mention", "offset": 0, "length": 10, "user": ME.model_dump()}
    assert (
        addressed_text(message(text, entities=[entity]), ME, COMMANDS) == "what about Alice phone"
    )
    other = {**entity, "user": ADA}
    assert addressed_text(message(text, entities=[other]), ME, COMMANDS) is None


def test_a_reply_to_the_bot_is_for_the_bot() -> None:
    def reply_to(sender: dict[str, Any]) -> Message:
        base = message("and Alice phone?")
        earlier = {"message_id": 1, "date": 0, "chat": base.chat.model_dump(), "text": "…"}
        earlier["from"] = sender
        return base.model_copy(update={"reply_to_message": Message.model_validate(earlier)})

    assert addressed_text(reply_to(ME.model_dump()), ME, COMMANDS) == "and Alice phone?"
    assert addressed_text(reply_to(ADA), ME, COMMANDS) is None
