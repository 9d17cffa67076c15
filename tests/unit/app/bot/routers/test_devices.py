"""Device look-ups through a real Dispatcher, with replies sent to the fake Bot API."""

from __future__ import annotations

import pytest

from app.bot.routers.devices import MacQuery, NameQuery, parse_query
from tests.unit.app.bot.conftest import MAC, STATS, Chat, FakeApi


@pytest.mark.parametrize(
    "spelling",
    [
        "f0:18:98:11:22:33",
        "F0-18-98-11-22-33",
        "f018.9811.2233",
        "F01898112233",
        " f0:18:98:11:22:33 ",
    ],
)
async def test_a_mac_in_any_spelling_gets_its_statistics(chat: Chat, spelling: str) -> None:
    [reply] = await chat.say(spelling)
    assert reply.parse_mode == "HTML"
    assert f"<code>{MAC}</code>" in reply.text
    assert "Probes: 42" in reply.text
    assert "Last probe: 2026-11-21 16:09:03 GMT" in reply.text
    assert "<code>Home &lt;5G&gt;</code>" in reply.text


async def test_the_device_command(chat: Chat) -> None:
    [reply] = await chat.say("/device F0-18-98-11-22-33")
    assert "Probes: 42" in reply.text
    [usage] = await chat.say("/device")
    assert "Send /device followed by a MAC address" in usage.text


async def test_an_unknown_device_has_no_result(chat: Chat) -> None:
    [reply] = await chat.say("00:00:5e:00:53:01")
    assert reply.text == "No result: no probe requests seen from <code>00:00:5e:00:53:01</code>."


async def test_text_that_is_no_mac_nor_name_gets_a_hint(chat: Chat) -> None:
    [reply] = await chat.say("where is <my> phone?")
    assert reply.text.startswith("No device is named <b>where is &lt;my&gt; phone?</b>")
    assert "not a MAC address either" in reply.text and "/name" in reply.text
    [too_long] = await chat.say("x" * 65)
    assert "is not a MAC address" in too_long.text
    [unknown] = await chat.say("/frobnicate")
    assert "/help" in unknown.text


async def test_a_name_is_answered_with_its_device(chat: Chat, fake_api: FakeApi) -> None:
    fake_api.devices[MAC]["name"] = "Alice phone"
    [reply] = await chat.say("  alice   PHONE ")
    assert f"<code>{MAC}</code>" in reply.text and "Name: <b>Alice phone</b>" in reply.text
    assert "Probes: 42" in reply.text
    assert "(7 for any network)" in reply.text and "min -80, max -50, avg -64.5" in reply.text, (
        "answered in full from the device's own row, not from the list item"
    )
    asked = [path for method, path, _ in fake_api.requests if method == "GET"]
    assert asked[-2:] == ["/devices?name=alice+PHONE&limit=100", f"/devices/{MAC}"]
    [by_command] = await chat.say("/device Alice phone")
    assert "Probes: 42" in by_command.text


async def test_several_devices_with_one_name_are_listed_briefly(
    chat: Chat, fake_api: FakeApi
) -> None:
    other = "fc:a1:3e:00:00:b2"
    fake_api.devices[MAC]["name"] = "Kitchen tablet"
    fake_api.devices[other] = {"mac": other, "name": "kitchen TABLET", "probe_count": 0}
    [reply] = await chat.say("Kitchen Tablet")
    assert reply.text.startswith("🔎 <b>2 devices</b> have <b>Kitchen Tablet</b> in their name:")
    assert f"• <code>{MAC}</code>: Apple, Inc., 42 probes, last 2026-11-21 16:09:03 GMT" in (
        reply.text
    )
    assert f"• <code>{other}</code>: no probe requests seen yet" in reply.text


async def test_a_name_matches_part_of_names_and_a_long_list_says_how_many_more(
    chat: Chat, fake_api: FakeApi
) -> None:
    for i in range(150):
        mac = f"f0:18:98:00:00:{i:02x}"
        fake_api.devices[mac] = {**STATS, "mac": mac, "name": f"Lab phone {i}"}
    fake_api.devices[MAC]["name"] = "Lab"
    [reply] = await chat.say("PHONE")
    assert reply.text.startswith("🔎 <b>150 devices</b> have <b>PHONE</b> in their name:")
    shown = reply.text.count("\n• <code>")
    assert 0 < shown <= 100 and f"\n… and {150 - shown} more\n" in reply.text
    assert f"<code>{MAC}</code>" not in reply.text


async def test_a_name_look_up_that_fails_says_so(chat: Chat, fake_api: FakeApi) -> None:
    fake_api.fail_with.extend([503] * 20)
    [reply] = await chat.say("Alice phone")
    assert reply.text.startswith("⚠️ The lookup failed: the cluster is being rebalanced")


async def test_a_failing_api_gives_a_clear_failure_message(chat: Chat, fake_api: FakeApi) -> None:
    fake_api.fail_with.append(500)
    [reply] = await chat.say(MAC)
    assert reply.text.startswith("⚠️ The lookup failed: the API answered HTTP 500")
    fake_api.fail_with.extend([503] * 20)
    [busy] = await chat.say(MAC)
    assert "being rebalanced" in busy.text


async def test_an_unreachable_api_gives_a_clear_failure_message(
    chat: Chat, fake_api: FakeApi
) -> None:
    chat.dispatcher["api"].base_url = "http://127.0.0.1:9"
    [reply] = await chat.say(MAC)
    assert "The lookup failed: cannot reach the API" in reply.text


def test_queries_are_parsed_before_they_are_looked_up() -> None:
    assert parse_query("AA-BB-CC-DD-EE-FF") == MacQuery("aa:bb:cc:dd:ee:ff")
    assert parse_query(" Kitchen   iPad ") == NameQuery("Kitchen iPad")
    assert parse_query("x" * 64) == NameQuery("x" * 64)
    assert parse_query("x" * 65) is None
    assert parse_query("   ") is None
