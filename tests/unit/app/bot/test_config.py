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
    with pytest.raises(BotConfigError) as error:
        load_telegram_config(settings(tmp_path, telegram_token=None, timezone="Mars/Olympus"))
    assert error.value.setting == "PROBEWATCH_TIMEZONE"
    assert error.value.line() == (
        "probewatch: error: PROBEWATCH_TIMEZONE: 'Mars/Olympus' is not a known time zone "
        "(e.g. UTC, Europe/London)"
    )


def test_further_bots_need_the_first(tmp_path: Path) -> None:
    with pytest.raises(BotConfigError, match="EXTRA_TOKENS is set but PROBEWATCH_TELEGRAM_TOKEN"):
        load_telegram_config(settings(tmp_path, telegram_token=None, telegram_extra_tokens=TOKEN))
    off = settings(tmp_path, telegram_token=None, telegram_extra_tokens=" ")
    assert load_telegram_config(off) is None  # empty, as `VAR=` in a compose file, is unset


def test_webhook_mode_needs_a_secret(tmp_path: Path) -> None:
    with pytest.raises(BotConfigError, match="PROBEWATCH_TELEGRAM_WEBHOOK_SECRET is required"):
        load_telegram_config(settings(tmp_path, telegram_webhook_secret=None))
    polling = load_telegram_config(
        settings(tmp_path, telegram_webhook_secret=None, telegram_mode="polling")
    )
    assert polling is not None and polling.webhook_secret is None


@pytest.mark.parametrize(
    ("values", "variable", "why"),
    [
        ({"telegram_token": "not-a-token"}, "TOKEN", "does not look like a bot token"),
        ({"telegram_token": "12:has space"}, "TOKEN", "does not look like a bot token"),
        ({"telegram_extra_tokens": "1:a, nope"}, "EXTRA_TOKENS", "does not look like a bot"),
        ({"telegram_extra_tokens": TOKEN}, "EXTRA_TOKENS", "names bot 123456 again"),
        ({"telegram_webhook_secret": "has space"}, "WEBHOOK_SECRET", "must be 1-256 of"),
        ({"telegram_webhook_secret": "x" * 257}, "WEBHOOK_SECRET", "must be 1-256 of"),
        ({"telegram_webhook_secret": None}, "WEBHOOK_SECRET", "is required in webhook mode"),
        ({"telegram_webhook_path": "short"}, "WEBHOOK_PATH", "must be 16-128 of"),
        ({"telegram_webhook_path": "a/b" * 8}, "WEBHOOK_PATH", "must be 16-128 of"),
        ({"telegram_allowed_chats": "12, x"}, "ALLOWED_CHATS", "has 'x', which is not a chat id"),
        ({"telegram_stats_chats": "-100 12"}, "STATS_CHATS", "has '-100 12', which is not a"),
        ({"telegram_allowed_networks": "10.0.0.0/33"}, "ALLOWED_NETWORKS", "'10.0.0.0/33', wh"),
        ({"telegram_trusted_proxies": "proxy"}, "TRUSTED_PROXIES", "has 'proxy', which is not"),
        ({"telegram_public_url": "http://x.example"}, "PUBLIC_URL", "must be an https:// URL"),
    ],
)
def test_bad_values_name_the_variable_but_not_the_secret(
    tmp_path: Path, values: dict[str, Any], variable: str, why: str
) -> None:
    with pytest.raises(BotConfigError) as error:
        load_telegram_config(settings(tmp_path, **values))
    assert error.value.setting == f"PROBEWATCH_TELEGRAM_{variable}"
    assert error.value.line().startswith(f"probewatch: error: PROBEWATCH_TELEGRAM_{variable}: ")
    assert why in error.value.why
    for secret in ("TEST-token", "has space", "xxxxxxxx"):
        assert secret not in str(error.value)


def test_a_local_bot_api_may_post_webhooks_over_http(tmp_path: Path) -> None:
    config = load_telegram_config(
        settings(
            tmp_path,
            telegram_api_base="http://127.0.0.1:8081/",
            telegram_public_url="http://10.0.0.5:8443",
        )
    )
    assert config is not None and config.api_base == "http://127.0.0.1:8081"


def test_a_data_dir_where_the_path_cannot_be_kept_is_named(tmp_path: Path) -> None:
    (tmp_path / "cfg.probewatch").write_text("a file where a folder should be")
    with pytest.raises(BotConfigError) as error:
        load_telegram_config(settings(tmp_path))
    assert error.value.setting == "PROBEWATCH_DATA_DIR"
    assert "cannot keep the generated webhook path" in error.value.why


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
    with pytest.raises(BotConfigError, match="delete the file") as error:
        load_or_create_path(tmp_path / "p")
    assert error.value.setting == "PROBEWATCH_TELEGRAM_WEBHOOK_PATH"


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
            telegram_stats_chats=" -100200300 ",
            telegram_allowed_networks="149.154.160.0/20, 91.108.4.0/22",
            timezone="Europe/London",
        )
    )
    assert config is not None
    assert config.allowed_chats == {1001, -100200300}
    assert config.stats_chats == {-100200300}
    assert config.allowed_networks == (
        ipaddress.ip_network("149.154.160.0/20"),
        ipaddress.ip_network("91.108.4.0/22"),
    )
    assert config.timezone.key == "Europe/London"


def test_no_chat_may_see_reports_unless_named(tmp_path: Path) -> None:
    config = load_telegram_config(settings(tmp_path, telegram_allowed_chats="1001"))
    assert config is not None and config.stats_chats == frozenset()
