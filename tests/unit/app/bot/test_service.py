"""The bots' Service: getMe at start (a refused token is fatal), the menu, polling when asked."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from app.bot.config import BotIdentity
from app.bot.service import BotService, BotStartupError
from app.settings import Settings
from tests.fake_telegram import FakeBotApi, text_update
from tests.unit.app.bot.conftest import BOT_ID, CHAT, TOKEN
from tests.unit.app.bot.test_polling import until


def settings(tmp_path: Path, telegram: FakeBotApi, **values: Any) -> Settings:
    base: dict[str, Any] = {
        "data_dir": tmp_path,
        "telegram_token": TOKEN,
        "telegram_api_base": telegram.base_url,
        "telegram_webhook_secret": "s3cret",
        "telegram_allowed_chats": str(CHAT),
    }
    return Settings(**(base | values))  # type: ignore[arg-type]


async def nothing(bot: BotIdentity, update: dict[str, Any], body: bytes) -> None:
    raise AssertionError("nothing is published in webhook mode")


async def test_start_checks_the_bot_and_sets_its_menu(tmp_path: Path, telegram: FakeBotApi) -> None:
    service = BotService(settings(tmp_path, telegram), publish=nothing, is_leader=lambda: True)
    await service.start()
    try:
        await service.wait_ready()
        assert telegram.methods() == ["getme", "setmycommands"]
        assert [c["command"] for c in telegram.commands[BOT_ID]] == [
            "device",
            "name",
            "unname",
            "watch",
            "unwatch",
            "watchlist",
            "subscribe",
            "unsubscribe",
            "stats",
            "erase",
            "help",
            "start",
        ]
        assert service.bot(BOT_ID) is not None and service.dispatcher is not None
    finally:
        await service.stop()


async def test_a_refused_token_stops_the_start_with_a_clear_error(
    tmp_path: Path, telegram: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    bad = "999:refused-token"
    service = BotService(
        settings(tmp_path, telegram, telegram_token=bad), publish=nothing, is_leader=lambda: True
    )
    with pytest.raises(BotStartupError, match=r"refused the token of bot 999 \(Unauthorized\)"):
        await service.start()
    await service.stop()
    assert "refused-token" not in caplog.text


async def test_a_bad_setting_stops_the_start(tmp_path: Path, telegram: FakeBotApi) -> None:
    config = settings(tmp_path, telegram, telegram_webhook_secret=None)
    service = BotService(config, publish=nothing, is_leader=lambda: True)
    with pytest.raises(BotStartupError, match="PROBEWATCH_TELEGRAM_WEBHOOK_SECRET is required"):
        await service.start()
    await service.stop()


async def test_without_a_token_nothing_happens(
    tmp_path: Path, telegram: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    config = settings(tmp_path, telegram, telegram_token=None)
    service = BotService(config, publish=nothing, is_leader=lambda: True)
    with caplog.at_level(logging.INFO):
        await service.start()
    await service.stop()
    assert telegram.methods() == [] and service.bots == {}
    assert "Telegram bot off" in caplog.text


async def test_polling_mode_publishes_what_the_leader_polls(
    tmp_path: Path, telegram: FakeBotApi
) -> None:
    published: list[tuple[int, int]] = []

    async def publish(bot: BotIdentity, update: dict[str, Any], body: bytes) -> None:
        published.append((bot.bot_id, update["update_id"]))

    config = settings(tmp_path, telegram, telegram_mode="polling", telegram_webhook_secret=None)
    service = BotService(config, publish=publish, is_leader=lambda: True, poll_timeout=1)
    await service.start()
    try:
        telegram.push_update(TOKEN, text_update(40, CHAT, "hello"))
        await until(lambda: published == [(BOT_ID, 40)])
    finally:
        await service.stop()
    calls = [params for _, method, params in telegram.calls if method == "getupdates"]
    assert calls[0]["allowed_updates"] == (
        '["channel_post", "edited_channel_post", "edited_message", "message"]'
    )
