"""The bot's configuration: off without a token, clear errors, secret paths made and kept."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path
from typing import Any

import pytest

from app.bot.config import (
    PATH_FILE,
    BotConfigError,
    derive_path,
    load_or_create_path,
    load_telegram_config,
)
from app.settings import Settings

TOKEN = "123456:TEST-token_abc"
SECRET = "s3cret_-token"


def settings(tmp_path: Path, **values: Any) -> Settings:
    base: dict[str, Any] = {
        "data_dir": tmp_path,
        "topic_prefix": "cfg.",
        "telegram_token": TOKEN,
        "telegram_webhook_secret": SECRET,
    }
    return Settings(**(base | values))  # type: ignore[arg-type]


def test_the_bot_is_off_without_a_token(tmp_path: Path) -> None:
    assert load_telegram_config(settings(tmp_path, telegram_token=None)) is None
    assert not list(tmp_path.iterdir())


def test_an_unknown_time_zone_is_an_error_even_with_the_bot_off(tmp_path: Path) -> None:
    with pytest.raises(BotConfigError, match="PROBEWATCH_TIMEZONE='Mars/Olympus'"):
        load_telegram_config(settings(tmp_path, telegram_token=None, timezone="Mars/Olympus"))


def test_webhook_mode_needs_a_secret(tmp_path: Path) -> None:
    with pytest.raises(BotConfigError, match="PROBEWATCH_TELEGRAM_WEBHOOK_SECRET is required"):
        load_telegram_config(settings(tmp_path, telegram_webhook_secret=None))
    polling = load_telegram_config(
        settings(tmp_path, telegram_webhook_secret=None, telegram_mode="polling")
    )
    assert polling is not None and polling.webhook_secret is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"telegram_token": "not-a-token"}, "PROBEWATCH_TELEGRAM_TOKEN does not look like"),
        ({"telegram_extra_tokens": "1:a, nope"}, "PROBEWATCH_TELEGRAM_EXTRA_TOKENS does not"),
        ({"telegram_extra_tokens": TOKEN}, "the same bot is configured twice"),
        ({"telegram_webhook_secret": "has space"}, "must be 1-256 of"),
        ({"telegram_webhook_path": "short"}, "PROBEWATCH_TELEGRAM_WEBHOOK_PATH must be"),
        ({"telegram_allowed_chats": "12, x"}, "'x' is not a chat id"),
        ({"telegram_allowed_networks": "10.0.0.0/33"}, "ALLOWED_NETWORKS: '10.0.0.0/33'"),
    ],
)
def test_bad_values_name_the_variable_but_not_the_secret(
    tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(BotConfigError, match=message) as error:
        load_telegram_config(settings(tmp_path, **values))
    assert "TEST-token" not in str(error.value) and "has space" not in str(error.value)


def test_a_random_path_is_made_once_and_kept(tmp_path: Path) -> None:
    first = load_telegram_config(settings(tmp_path))
    again = load_telegram_config(settings(tmp_path))
    assert first is not None and again is not None
    path_file = tmp_path / "cfg.probewatch" / PATH_FILE
    assert first.path_file == path_file
    assert first.bots[0].path == again.bots[0].path == path_file.read_text().strip()
    assert len(first.bots[0].path) >= 32
    assert stat.S_IMODE(path_file.stat().st_mode) == 0o600
    other = load_telegram_config(settings(tmp_path / "elsewhere"))
    assert other is not None and other.bots[0].path != first.bots[0].path


def test_a_path_file_with_garbage_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "p").write_text("../../etc\n")
    with pytest.raises(BotConfigError, match="delete it"):
        load_or_create_path(tmp_path / "p")


def test_a_given_path_is_used_and_no_file_is_made(tmp_path: Path) -> None:
    config = load_telegram_config(settings(tmp_path, telegram_webhook_path="/my-secret-path-0123/"))
    assert config is not None and config.bots[0].path == "my-secret-path-0123"
    assert config.path_file is None and not list(tmp_path.iterdir())


def test_many_bots_get_paths_of_their_own(tmp_path: Path) -> None:
    base = "my-secret-path-0123"
    config = load_telegram_config(
        settings(
            tmp_path, telegram_webhook_path=base, telegram_extra_tokens=" 777:other , 888:third"
        )
    )
    assert config is not None
    assert [bot.bot_id for bot in config.bots] == [123456, 777, 888]
    paths = [bot.path for bot in config.bots]
    assert paths == [base, derive_path(base, 777), derive_path(base, 888)]
    assert len(set(paths)) == 3 and derive_path("another-base-path", 777) != paths[1]
    assert config.bot_for_path(paths[2]) == config.bots[2]
    assert config.bot_for_path("nope") is None
    assert config.bot_by_id(777) == config.bots[1]


def test_secrets_stay_out_of_reprs_and_logs(tmp_path: Path) -> None:
    config = load_telegram_config(
        settings(
            tmp_path,
            telegram_webhook_path="my-secret-path-0123",
            telegram_public_url="https://x.example/",
        )
    )
    assert config is not None
    assert "TEST-token" not in repr(config) and "my-secret-path" not in repr(config)
    assert SECRET not in repr(config)
    line = f"POST {config.webhook_url(config.bots[0])} with {SECRET} as bot{TOKEN}"
    assert config.redact(line) == "POST https://x.example/telegram/*** with *** as bot***"


def test_the_public_url_is_needed_for_a_webhook_url(tmp_path: Path) -> None:
    config = load_telegram_config(settings(tmp_path))
    assert config is not None
    with pytest.raises(BotConfigError, match="PROBEWATCH_TELEGRAM_PUBLIC_URL is not set"):
        config.webhook_url(config.bots[0])


def test_allow_lists(tmp_path: Path) -> None:
    config = load_telegram_config(
        settings(
            tmp_path,
            telegram_allowed_chats="1001, -100200300,",
            telegram_allowed_networks="149.154.160.0/20, 91.108.4.0/22",
            timezone="Europe/London",
        )
    )
    assert config is not None
    assert config.allowed_chats == {1001, -100200300}
    assert config.allowed_networks == (
        ipaddress.ip_network("149.154.160.0/20"),
        ipaddress.ip_network("91.108.4.0/22"),
    )
    assert config.timezone.key == "Europe/London"
