"""Groups: the bot reads everything but answers only its commands, mentions and replies to it."""

from __future__ import annotations

from typing import Any

from tests.unit.app.bot.conftest import (
    BOT_ID,
    BOT_USERNAME,
    CHAT,
    GROUP,
    MAC,
    STRANGERS,
    Chat,
    FakeApi,
)

BOT = {"id": BOT_ID, "is_bot": True, "first_name": "Probewatch", "username": BOT_USERNAME}
BORIS = {"id": 4343, "is_bot": False, "first_name": "Boris"}


def mention(offset: int, length: int = len(BOT_USERNAME) + 1) -> list[dict[str, Any]]:
    return [{"type": "mention", "offset": offset, "length": length}]


async def test_group_chatter_gets_no_reply_and_asks_nothing(chat: Chat, fake_api: FakeApi) -> None:
    for text in ("morning all", MAC, "Alice phone", "/frobnicate", f"/device@other_bot {MAC}"):
        assert await chat.say_in_group(text) == []
    assert fake_api.requests == []


async def test_a_command_in_a_group_is_answered(chat: Chat) -> None:
    [reply] = await chat.say_in_group(f"/device {MAC}")
    assert "Probes: 42" in reply.text
    [reply] = await chat.say_in_group(f"/device@{BOT_USERNAME} {MAC}")
    assert "Probes: 42" in reply.text
    [unknown] = await chat.say_in_group(f"/frobnicate@{BOT_USERNAME}")
    assert "I don't know that command" in unknown.text


async def test_a_mention_is_answered_as_a_query_without_the_mention(
    chat: Chat, fake_api: FakeApi
) -> None:
    fake_api.devices[MAC]["name"] = "Alice phone"
    [reply] = await chat.say_in_group(f"@{BOT_USERNAME} {MAC}", entities=mention(0))
    assert "Probes: 42" in reply.text
    text = f"where is alice phone, @{BOT_USERNAME.upper()}?"
    [reply] = await chat.say_in_group(text, entities=mention(text.index("@")))
    assert reply.text.startswith("No device is named <b>where is alice phone, ?</b>")
    [by_name] = await chat.say_in_group(f"Alice phone @{BOT_USERNAME}", entities=mention(12))
    assert "Name: <b>Alice phone</b>" in by_name.text
    [hint] = await chat.say_in_group(f"@{BOT_USERNAME}", entities=mention(0))
    assert f"<code>@{BOT_USERNAME} aa:bb:cc:dd:ee:ff</code>" in hint.text


async def test_a_text_mention_of_the_bot_is_answered(chat: Chat) -> None:
    entities = [{"type": "text_mention", "offset": 0, "length": 10, "user": BOT}]
    [reply] = await chat.say_in_group(f"Probewatch {MAC}", entities=entities)
    assert "Probes: 42" in reply.text


async def test_a_reply_to_the_bot_is_answered_and_a_reply_to_someone_else_is_not(
    chat: Chat,
) -> None:
    [reply] = await chat.say_in_group(MAC, reply_to=BOT)
    assert "Probes: 42" in reply.text
    assert await chat.say_in_group(MAC, reply_to=BORIS) == []


async def test_a_group_not_allowed_is_refused_only_when_it_speaks_to_the_bot(chat: Chat) -> None:
    assert await chat.say_in_group("morning all", chat_id=STRANGERS) == []
    [refusal] = await chat.say_in_group(f"/device {MAC}", chat_id=STRANGERS)
    assert refusal.text.startswith("Sorry, this bot is private")
    assert f"<code>{STRANGERS}</code>" in refusal.text


async def test_a_private_chat_is_answered_as_before(chat: Chat) -> None:
    [reply] = await chat.say(MAC)
    assert "Probes: 42" in reply.text
    [reply] = await chat.say("morning all")
    assert reply.text.startswith("No device is named <b>morning all</b>")
    [reply] = await chat.say("/frobnicate")
    assert "I don't know that command" in reply.text


async def test_channel_posts_are_never_answered(chat: Chat, fake_api: FakeApi) -> None:
    channel = {"id": GROUP, "type": "channel", "title": "News"}
    for kind in ("channel_post", "edited_channel_post"):
        post = {"message_id": 3, "date": 0, "chat": channel, "text": f"/device {MAC}"}
        post["entities"] = [{"type": "bot_command", "offset": 0, "length": 7}]
        if kind == "edited_channel_post":
            post["edit_date"] = 1
        assert await chat.feed({"update_id": 9, kind: post}, GROUP) == []
    assert fake_api.requests == [] and chat.telegram.messages(CHAT) == []
