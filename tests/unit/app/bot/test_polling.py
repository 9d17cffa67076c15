"""Long polling against the fake Bot API: only the leader polls, Kafka first, then confirm."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramConflictError
from pydantic import SecretStr

from app.bot.config import BotIdentity
from app.bot.polling import Poller
from tests.fake_telegram import FakeBotApi, text_update
from tests.unit.app.bot.conftest import BOT_ID, CHAT, TOKEN

IDENTITY = BotIdentity(BOT_ID, SecretStr(TOKEN), "p" * 32)


class Published:
    def __init__(self) -> None:
        self.updates: list[tuple[int, dict[str, Any], bytes]] = []

    async def __call__(self, bot: BotIdentity, update: dict[str, Any], body: bytes) -> None:
        self.updates.append((bot.bot_id, update, body))

    def ids(self) -> list[int]:
        return [update["update_id"] for _, update, _ in self.updates]


async def until(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def poller(bot: Bot, published: Published, **kwargs: Any) -> Poller:
    options: dict[str, Any] = {
        "publish": published,
        "is_leader": lambda: True,
        "stopped": lambda: False,
        "sleep": lambda s: asyncio.sleep(min(s, 0.01)),
        "timeout": 0,
    }
    return Poller(bot, IDENTITY, **(options | kwargs))


async def test_polled_updates_are_published_as_received_then_confirmed(
    telegram: FakeBotApi, bot: Bot
) -> None:
    published = Published()
    first, second = text_update(5, CHAT, "a"), text_update(6, CHAT, "b")
    second["message"]["field_from_a_newer_bot_api"] = {"kept": True}
    telegram.push_update(TOKEN, first)
    telegram.push_update(TOKEN, second)
    polling = poller(bot, published)
    assert await polling.poll_once() == 2
    assert published.ids() == [5, 6] and polling.offset == 7
    bot_id, update, body = published.updates[1]
    assert bot_id == BOT_ID and orjson.loads(body) == second == update
    assert telegram.pending(TOKEN) == [first, second]  # not confirmed until the next call
    assert await polling.poll_once() == 0
    assert telegram.pending(TOKEN) == []


async def test_a_long_poll_returns_when_an_update_arrives(telegram: FakeBotApi, bot: Bot) -> None:
    published = Published()
    polling = poller(bot, published, timeout=10)
    task = asyncio.create_task(polling.poll_once())
    await until(lambda: "getupdates" in telegram.methods())
    telegram.push_update(TOKEN, text_update(9, CHAT, "late"))
    assert await asyncio.wait_for(task, 5) == 1
    assert published.ids() == [9]


async def test_only_the_leader_polls(telegram: FakeBotApi, bot: Bot) -> None:
    published = Published()
    leader = False
    stop = False
    naps = 0

    async def nap(seconds: float) -> None:
        nonlocal naps
        naps += 1
        await asyncio.sleep(0.001)

    polling = poller(bot, published, is_leader=lambda: leader, stopped=lambda: stop, sleep=nap)
    telegram.push_update(TOKEN, text_update(20, CHAT, "one"))
    task = asyncio.create_task(polling.run())
    await until(lambda: naps >= 5)
    assert "getupdates" not in telegram.methods() and published.ids() == []

    leader = True
    await until(lambda: published.ids() == [20])
    leader = False
    await until(lambda: polling.offset is None)
    assert telegram.pending(TOKEN) == []
    telegram.push_update(TOKEN, text_update(21, CHAT, "two"))
    seen = naps
    await until(lambda: naps >= seen + 5)
    assert published.ids() == [20] and len(telegram.pending(TOKEN)) == 1

    leader = True
    await until(lambda: published.ids() == [20, 21])
    stop = True
    await asyncio.wait_for(task, 5)


async def test_a_leader_that_steps_down_confirms_what_it_published(
    telegram: FakeBotApi, bot: Bot
) -> None:
    published = Published()
    leadership = iter([True, False])
    stop = False
    polling = poller(
        bot, published, is_leader=lambda: next(leadership, False), stopped=lambda: stop
    )
    telegram.push_update(TOKEN, text_update(20, CHAT, "one"))
    task = asyncio.create_task(polling.run())
    await until(lambda: published.ids() == [20] and polling.offset is None)
    stop = True
    await asyncio.wait_for(task, 5)
    assert telegram.pending(TOKEN) == []
    calls = [params for _, method, params in telegram.calls if method == "getupdates"]
    assert calls[-1]["offset"] == "21" and calls[-1]["limit"] == "1"


async def test_a_failed_publish_is_retried_from_the_same_update(
    telegram: FakeBotApi, bot: Bot
) -> None:
    published = Published()
    failures = [RuntimeError("kafka down")]

    async def flaky(bot_identity: BotIdentity, update: dict[str, Any], body: bytes) -> None:
        if failures:
            raise failures.pop()
        await published(bot_identity, update, body)

    stop = False
    polling = poller(bot, published, publish=flaky, stopped=lambda: stop)
    telegram.push_update(TOKEN, text_update(30, CHAT, "x"))
    task = asyncio.create_task(polling.run())
    await until(lambda: published.ids() == [30])
    stop = True
    await asyncio.wait_for(task, 5)


async def test_a_webhook_blocks_polling_with_a_clear_log(
    telegram: FakeBotApi, bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.set_webhook("https://x.example/telegram/abc")
    polling = poller(bot, Published())
    with pytest.raises(TelegramConflictError):
        await polling.poll_once()
    stop = False
    polling.stopped = lambda: stop
    with caplog.at_level(logging.ERROR):
        task = asyncio.create_task(polling.run())
        await until(lambda: "probewatch webhook-delete" in caplog.text)
        stop = True
        await asyncio.wait_for(task, 5)
    assert TOKEN not in caplog.text
