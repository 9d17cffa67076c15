"""`/name` and `/unname` through a real Dispatcher, against the stand-in API."""

from __future__ import annotations

from tests.unit.app.bot.conftest import MAC, STRANGER, Chat, FakeApi


async def test_a_device_is_named_and_found_by_its_name(chat: Chat, fake_api: FakeApi) -> None:
    [reply] = await chat.say("/name F0-18-98-11-22-33  Alice's   <phone>")
    assert reply.text == f"✏️ <code>{MAC}</code> is now named <b>Alice's &lt;phone&gt;</b>."
    method, path, body = fake_api.requests[-1]
    assert (method, path, body) == (
        "PUT",
        f"/devices/{MAC}/name?source=bot",
        {"name": "Alice's   <phone>"},
    )
    [found] = await chat.say("alice's <PHONE>")
    assert "Name: <b>Alice's &lt;phone&gt;</b>" in found.text and "Probes: 42" in found.text


async def test_a_quoted_name_loses_its_quotes(chat: Chat, fake_api: FakeApi) -> None:
    await chat.say(f'/name {MAC} "Kitchen iPad"')
    assert fake_api.devices[MAC]["name"] == "Kitchen iPad"


async def test_bad_input_gets_clear_errors(chat: Chat, fake_api: FakeApi) -> None:
    [usage] = await chat.say("/name")
    assert usage.text.startswith("Send /name, a MAC address and the name")
    [no_name] = await chat.say(f"/name {MAC}")
    assert no_name.text.startswith("Send /name, a MAC address and the name")
    [not_mac] = await chat.say("/name kitchen iPad")
    assert "<code>kitchen</code> is not a MAC address" in not_mac.text
    [unseen] = await chat.say("/name 00:00:5e:00:53:01 Ghost")
    assert unseen.text == (
        "✏️ <code>00:00:5e:00:53:01</code> is now named <b>Ghost</b>. No probes seen from it "
        "yet: the name is ready for when it shows up."
    )
    assert fake_api.named_unseen == {"00:00:5e:00:53:01": "Ghost"}
    [too_long] = await chat.say(f"/name {MAC} {'x' * 65}")
    assert too_long.text == f"Could not name <code>{MAC}</code>: a name has at most 64 characters."
    assert fake_api.devices[MAC].get("name") is None


async def test_a_failing_api_is_reported(chat: Chat, fake_api: FakeApi) -> None:
    fake_api.fail_with.append(500)
    [reply] = await chat.say(f"/name {MAC} Alice")
    assert reply.text.startswith("⚠️ That did not work: the API answered HTTP 500.")
    fake_api.fail_with.append(202)
    [pending] = await chat.say(f"/name {MAC} Alice")
    assert pending.text == f"✏️ Saved: <code>{MAC}</code> will be named <b>Alice</b> in a moment."


async def test_unname(chat: Chat, fake_api: FakeApi) -> None:
    fake_api.devices[MAC]["name"] = "Alice"
    [reply] = await chat.say("/unname F01898112233")
    assert reply.text == f"✏️ <code>{MAC}</code> has no name any more."
    assert fake_api.requests[-1][:2] == ("DELETE", f"/devices/{MAC}/name")
    [again] = await chat.say(f"/unname {MAC}")
    assert again.text == f"<code>{MAC}</code> has no name; nothing to forget."
    [usage] = await chat.say("/unname")
    assert usage.text.startswith("Send /unname and a MAC address")
    [bad] = await chat.say("/unname kitchen")
    assert "is not a MAC address" in bad.text


async def test_strangers_cannot_name_devices(chat: Chat, fake_api: FakeApi) -> None:
    [reply] = await chat.say(f"/name {MAC} Mine", chat_id=STRANGER)
    assert reply.text.startswith("Sorry, this bot is private")
    assert fake_api.requests == []
