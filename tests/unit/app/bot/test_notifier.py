"""The alert sender against the fake Bot API: who gets an alert, and who does not."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import SendMessage

from app.bot.notifier import AlertSender, Delivery
from app.models import Alert, Subscriber
from app.settings import Settings
from tests.fake_telegram import FakeBotApi
from tests.unit.app.bot.conftest import BOT_ID, CHAT, TOKEN

EXTRA = "654321:OTHER-token_xyz"
EXTRA_ID = 654321
FRIEND, BLOCKED, REMOVED = 1002, 1003, 1004
ALERT = Alert(
    1795277343.0, "f0:18:98:11:22:33", "Free WiFi", "bait", None, "Apple, Inc.", -60, "s1"
)


@pytest.fixture()
async def telegram() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi([TOKEN, EXTRA]) as fake:
        yield fake


@pytest.fixture()
async def sender(tmp_path: Path, telegram: FakeBotApi) -> AsyncIterator[AlertSender]:
    settings = Settings(
        data_dir=tmp_path,
        telegram_token=TOKEN,  # type: ignore[arg-type]
        telegram_extra_tokens=EXTRA,  # type: ignore[arg-type]
        telegram_api_base=telegram.base_url,
        telegram_webhook_secret="s3cret",  # type: ignore[arg-type]
        telegram_allowed_chats=f"{CHAT},{FRIEND},{BLOCKED}",
        timezone="Europe/London",
    )
    sender = AlertSender(settings)
    await sender.start()
    await sender.wait_ready()
    yield sender
    await sender.stop()


async def test_every_allowed_subscriber_gets_one_message_through_its_bot(
    sender: AlertSender, telegram: FakeBotApi
) -> None:
    delivery = await sender.send(
        ALERT, [Subscriber(CHAT, BOT_ID), Subscriber(FRIEND, EXTRA_ID), Subscriber(REMOVED, BOT_ID)]
    )
    assert delivery == Delivery(sent=2, failed=0, not_allowed=1)
    [mine] = telegram.messages(CHAT)
    assert mine.bot_id == BOT_ID and mine.parse_mode == "HTML"
    assert mine.text.startswith("🚨 <b>Watched SSID probed:</b> <code>Free WiFi</code>")
    assert "Time: 2026-11-21 16:09:03 GMT" in mine.text
    [friends] = telegram.messages(FRIEND)
    assert friends.bot_id == EXTRA_ID and friends.text == mine.text
    assert telegram.messages(REMOVED) == []


async def test_a_subscription_without_a_bot_goes_through_the_first_bot(
    sender: AlertSender, telegram: FakeBotApi
) -> None:
    assert (await sender.send(ALERT, [Subscriber(CHAT, None)])).sent == 1
    assert telegram.messages(CHAT)[0].bot_id == BOT_ID


async def test_a_failing_chat_does_not_stop_the_others(
    sender: AlertSender, telegram: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    telegram.blocked_chats.add(BLOCKED)
    subscribers = [Subscriber(BLOCKED, BOT_ID), Subscriber(FRIEND, 999), Subscriber(CHAT, BOT_ID)]
    with caplog.at_level(logging.WARNING):
        delivery = await sender.send(ALERT, subscribers)
    assert delivery == Delivery(sent=1, failed=2, not_allowed=0)
    assert len(telegram.messages(CHAT)) == 1
    assert "alert not sent to chat 1003: TelegramForbiddenError" in caplog.text
    assert "bot was blocked by the user" in caplog.text
    assert "it subscribed through bot 999, which this deployment no longer serves" in caplog.text
    for secret in (TOKEN.split(":")[1], EXTRA.split(":")[1]):
        assert secret not in caplog.text


async def test_a_short_flood_wait_is_waited_out_once(
    sender: AlertSender, telegram: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = sender.bots[BOT_ID]
    real_send = bot.send_message
    waits: list[int] = []

    async def flooded(chat_id: int, text: str, **kwargs: object) -> object:
        if len(waits) < 3:
            waits.append(1)
            method = SendMessage(chat_id=chat_id, text=text)
            raise TelegramRetryAfter(method, "Too Many Requests", retry_after=0)
        return await real_send(chat_id, text, **kwargs)

    monkeypatch.setattr(bot, "send_message", flooded)
    assert await sender.send(ALERT, [Subscriber(CHAT, BOT_ID)]) == Delivery(failed=1)
    assert await sender.send(ALERT, [Subscriber(CHAT, BOT_ID)]) == Delivery(sent=1)
    assert len(waits) == 3 and len(telegram.messages(CHAT)) == 1
