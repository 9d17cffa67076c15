"""Device look-ups through a real Dispatcher, with replies sent to the fake Bot API."""

from __future__ import annotations

import pytest

from app.bot.routers.devices import MacQuery, parse_query
from tests.unit.app.bot.conftest import MAC, Chat, DevicesApi


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


async def test_text_that_is_no_mac_gets_a_hint(chat: Chat) -> None:
    [reply] = await chat.say("where is <my> phone?")
    assert "<code>where is &lt;my&gt; phone?</code> is not a MAC address" in reply.text
    [unknown] = await chat.say("/frobnicate")
    assert "/help" in unknown.text


async def test_a_failing_api_gives_a_clear_failure_message(
    chat: Chat, devices_api: DevicesApi
) -> None:
    devices_api.fail_with.append(500)
    [reply] = await chat.say(MAC)
    assert reply.text.startswith("⚠️ The lookup failed: the API answered HTTP 500")
    devices_api.fail_with.extend([503] * 20)
    [busy] = await chat.say(MAC)
    assert "being rebalanced" in busy.text


async def test_an_unreachable_api_gives_a_clear_failure_message(
    chat: Chat, devices_api: DevicesApi
) -> None:
    chat.dispatcher["api"].base_url = "http://127.0.0.1:9"
    [reply] = await chat.say(MAC)
    assert "The lookup failed: cannot reach the API" in reply.text


def test_queries_are_parsed_before_they_are_looked_up() -> None:
    assert parse_query("AA-BB-CC-DD-EE-FF") == MacQuery("aa:bb:cc:dd:ee:ff")
    assert parse_query("Kitchen iPad") is None
