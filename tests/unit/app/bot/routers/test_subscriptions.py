"""`/subscribe` and `/unsubscribe` through a real Dispatcher: idempotent and friendly."""

from __future__ import annotations

from tests.unit.app.bot.conftest import BOT_ID, CHAT, STRANGER, Chat, FakeApi


async def test_subscribe_twice_then_unsubscribe_twice(chat: Chat, fake_api: FakeApi) -> None:
    [first] = await chat.say("/subscribe")
    assert first.text.startswith("🔔 Subscribed: this chat gets a message")
    assert fake_api.requests[-1] == ("PUT", f"/subscriptions/{CHAT}", {"bot": BOT_ID})
    assert fake_api.subscriptions == {CHAT: BOT_ID}
    [again] = await chat.say("/subscribe")
    assert again.text.startswith("🔔 This chat is already subscribed")
    [stop] = await chat.say("/unsubscribe")
    assert stop.text.startswith("🔕 Unsubscribed: this chat gets no more alerts")
    assert fake_api.subscriptions == {}
    [stop_again] = await chat.say("/unsubscribe")
    assert stop_again.text.startswith("🔕 This chat was not subscribed")


async def test_a_failing_api_is_reported(chat: Chat, fake_api: FakeApi) -> None:
    chat.dispatcher["api"].base_url = "http://127.0.0.1:9"
    [reply] = await chat.say("/subscribe")
    assert reply.text.startswith("⚠️ That did not work: cannot reach the API")


async def test_strangers_cannot_subscribe(chat: Chat, fake_api: FakeApi) -> None:
    [reply] = await chat.say("/subscribe", chat_id=STRANGER)
    assert reply.text.startswith("Sorry, this bot is private")
    assert fake_api.requests == [] and fake_api.subscriptions == {}
