"""`/start`, `/help`, and the chat allow-list in front of every handler."""

from __future__ import annotations

from tests.unit.app.bot.conftest import MAC, STRANGER, Chat


async def test_start_greets_and_explains(chat: Chat) -> None:
    [reply] = await chat.say("/start")
    assert reply.text.startswith("Hi! I tell you what Wi-Fi sensors saw")
    assert "/device <code>&lt;mac&gt;</code>" in reply.text


async def test_help(chat: Chat) -> None:
    [reply] = await chat.say("/help")
    assert reply.text.startswith("I tell you what Wi-Fi sensors saw")
    for command in ("/name", "/unname", "/watch", "/unwatch", "/watchlist", "/subscribe", "/stats"):
        assert command in reply.text
    assert '<code>/watch "Free WiFi" phishing bait</code>' in reply.text


async def test_a_chat_not_on_the_allow_list_is_refused_politely(chat: Chat) -> None:
    for text in (MAC, "/start", "/device " + MAC):
        [reply] = await chat.say(text, chat_id=STRANGER)
        assert reply.text.startswith("Sorry, this bot is private")
        assert f"<code>{STRANGER}</code>" in reply.text
        assert "Probes" not in reply.text


async def test_updates_without_a_message_from_a_stranger_get_no_reply(chat: Chat) -> None:
    update = {
        "update_id": 77,
        "my_chat_member": {
            "chat": {"id": STRANGER, "type": "private", "first_name": "Eve"},
            "from": {"id": STRANGER, "is_bot": False, "first_name": "Eve"},
            "date": 1795277343,
            "old_chat_member": {
                "status": "member",
                "user": {"id": 1, "is_bot": True, "first_name": "b"},
            },
            "new_chat_member": {
                "status": "kicked",
                "until_date": 0,
                "user": {"id": 1, "is_bot": True, "first_name": "b"},
            },
        },
    }
    await chat.dispatcher.feed_raw_update(chat.bot, update)
    assert chat.telegram.messages() == []
