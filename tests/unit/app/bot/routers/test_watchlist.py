"""`/watch`, `/unwatch` and `/watchlist` through a real Dispatcher, against the stand-in API."""

from __future__ import annotations

from tests.unit.app.bot.conftest import STRANGER, Chat, FakeApi


async def test_watch_a_quoted_ssid_with_a_reason(chat: Chat, fake_api: FakeApi) -> None:
    [reply] = await chat.say('/watch "Free WiFi ☕" phishing <bait>')
    assert reply.text.startswith(
        "👁 Watching <code>Free WiFi ☕</code> (phishing &lt;bait&gt;). Subscribed chats"
    )
    assert "Only the first word" not in reply.text
    assert fake_api.watchlist == {"Free WiFi ☕": "phishing <bait>"}
    method, path, body = fake_api.requests[-1]
    assert (method, path, body) == (
        "PUT",
        "/watchlist/Free%20WiFi%20%E2%98%95",
        {"reason": "phishing <bait>"},
    )


async def test_an_unquoted_ssid_is_the_first_word_and_the_reply_says_so(
    chat: Chat, fake_api: FakeApi
) -> None:
    [reply] = await chat.say("/watch Free WiFi")
    assert reply.text.startswith("👁 Watching <code>Free</code> (WiFi).")
    assert "Only the first word is the SSID" in reply.text
    [plain] = await chat.say("/watch eduroam")
    assert plain.text.startswith("👁 Watching <code>eduroam</code>. Subscribed")
    assert "Only the first word" not in plain.text
    assert fake_api.watchlist == {"Free": "WiFi", "eduroam": ""}


async def test_ssids_with_slashes_and_percent_signs_reach_the_api_intact(
    chat: Chat, fake_api: FakeApi
) -> None:
    ssid = "a/b %41?#&"
    await chat.say(f"/watch '{ssid}' odd")
    assert fake_api.requests[-1][1].startswith("/watchlist/a%2Fb%20%2541%3F%23")
    assert fake_api.watchlist == {ssid: "odd"}
    [reply] = await chat.say(f"/unwatch {ssid}")
    assert reply.text == "Stopped watching <code>a/b %41?#&amp;</code>."
    assert fake_api.watchlist == {}


async def test_bad_watch_input_gets_clear_errors(chat: Chat, fake_api: FakeApi) -> None:
    [usage] = await chat.say("/watch")
    assert usage.text.startswith("Send /watch, an SSID and why you watch it")
    [unbalanced] = await chat.say('/watch "Free WiFi phishing')
    assert unbalanced.text.startswith("Cannot watch that: the quotes in the SSID are not balanced")
    [apostrophe] = await chat.say("/watch Alice's iPhone")
    assert 'double quotes ("Alice\'s iPhone")' in apostrophe.text
    [too_long] = await chat.say("/watch " + "x" * 33)
    assert too_long.text == f"Cannot watch <code>{'x' * 33}</code>: an SSID has at most 32 bytes."
    [empty] = await chat.say('/watch "" reason')
    assert empty.text == "Cannot watch that: the SSID is empty."
    assert fake_api.watchlist == {}


async def test_unwatch(chat: Chat, fake_api: FakeApi) -> None:
    fake_api.watchlist["Free WiFi"] = "bait"
    [reply] = await chat.say('/unwatch "Free WiFi"')
    assert reply.text == "Stopped watching <code>Free WiFi</code>."
    [again] = await chat.say("/unwatch Free WiFi")
    assert again.text == (
        "<code>Free WiFi</code> is not on the watch list; /watchlist shows what is."
    )
    [usage] = await chat.say("/unwatch")
    assert usage.text.startswith("Send /unwatch and the SSID")


async def test_the_watch_list(chat: Chat, fake_api: FakeApi) -> None:
    [empty] = await chat.say("/watchlist")
    assert empty.text.startswith("The watch list is empty.")
    fake_api.watchlist.update({"Free WiFi ☕": "bait", "<b>": ""})
    [listed] = await chat.say("/watchlist")
    assert listed.text == (
        "👁 <b>Watch list</b> (2 SSIDs):\n"
        "• <code>&lt;b&gt;</code>\n"
        "• <code>Free WiFi ☕</code> — bait"
    )


async def test_a_failing_api_is_reported(chat: Chat, fake_api: FakeApi) -> None:
    fake_api.fail_with.extend([503] * 20)
    [reply] = await chat.say("/watchlist")
    assert reply.text.startswith("⚠️ That did not work: the cluster is being rebalanced.")


async def test_strangers_cannot_edit_the_watch_list(chat: Chat, fake_api: FakeApi) -> None:
    for text in ("/watch evil", "/unwatch x", "/watchlist"):
        [reply] = await chat.say(text, chat_id=STRANGER)
        assert reply.text.startswith("Sorry, this bot is private")
    assert fake_api.requests == []
