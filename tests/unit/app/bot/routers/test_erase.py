"""`/erase` through a real Dispatcher, against the stand-in API."""

from __future__ import annotations

from tests.unit.app.bot.conftest import GROUP, MAC, Chat, FakeApi


async def test_an_admin_chat_erases_a_device_and_is_told_where_it_was(
    chat: Chat, fake_api: FakeApi
) -> None:
    ssids = len(fake_api.devices[MAC]["ssids"])
    [reply] = await chat.say("/erase F0-18-98-11-22-33")
    assert fake_api.requests[-1][:2] == ("DELETE", f"/devices/{MAC}")
    assert reply.text == (
        f"🧹 <code>{MAC}</code> is erased: its statistics, its history, the index of {ssids} "
        "SSIDs, the history lake (after its next flush)."
    )
    [gone] = await chat.say(f"/device {MAC}")
    assert gone.text == f"No result: no probe requests seen from <code>{MAC}</code>."
    fake_api.lake = False
    [nothing] = await chat.say(f"/erase {MAC}")
    assert (
        nothing.text == f"🧹 Nothing was kept about <code>{MAC}</code>; it is erased all the same."
    )


async def test_bad_input_and_other_chats_are_refused(chat: Chat, fake_api: FakeApi) -> None:
    [usage] = await chat.say("/erase")
    assert usage.text.startswith("Send /erase and a MAC address")
    [not_mac] = await chat.say("/erase kitchen")
    assert "<code>kitchen</code> is not a MAC address" in not_mac.text
    requests = len(fake_api.requests)
    [refused] = await chat.say_in_group(f"/erase {MAC}")  # allowed to talk, not to erase
    assert "not open to this chat" in refused.text and str(GROUP) in refused.text
    assert len(fake_api.requests) == requests and MAC in fake_api.devices
