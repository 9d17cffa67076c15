"""`probewatch worker` refuses bad settings before faust starts: one line naming it, exit 2.

Every setting a worker could crash on later is tried with a bad value here. faust itself is
never started: `run_faust` is replaced by a stub that records that it was reached.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import app.cli.main
from app.cli.main import main
from app.cli.preflight import EXIT_BAD_SETTING
from app.settings import get_settings, use_settings
from tests.fake_telegram import FakeBotApiThread
from tests.harness import free_port

TOKEN = "123456:TEST-token_abc"
SECRET = "s3cret_-token"
BOT = {
    "PROBEWATCH_TELEGRAM_TOKEN": TOKEN,
    "PROBEWATCH_TELEGRAM_WEBHOOK_SECRET": SECRET,
    # Nothing listens there: the check before start skips getMe, as when Telegram is away.
    "PROBEWATCH_TELEGRAM_API_BASE": f"http://127.0.0.1:{free_port()}",
}


class Started(Exception):
    """faust would have started."""


@pytest.fixture()
def started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[list[str]]]:
    """A clean environment (no PROBEWATCH_*, no .env), and the faust runs main() reached."""
    for name in list(os.environ):
        if name.startswith("PROBEWATCH_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROBEWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PROBEWATCH_WEB_PORT", str(free_port()))
    runs: list[list[str]] = []

    def run_faust(args: list[str], settings: Any) -> None:
        runs.append(args)
        raise Started

    monkeypatch.setattr(app.cli.main, "run_faust", run_faust)
    use_settings(None)
    yield runs
    use_settings(None)


def refused(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    args: tuple[str, ...] = ("worker",),
) -> str:
    """The one line `probewatch ARGS` printed on refusing to start; asserts the exit status."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    use_settings(None)
    with pytest.raises(SystemExit) as exit:
        main(list(args))
    assert exit.value.code == EXIT_BAD_SETTING == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert captured.out == ""
    return lines[0]


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"PROBEWATCH_WEB_PORT": "abc"},
            "PROBEWATCH_WEB_PORT: Input should be a valid integer, unable to parse string as an "
            "integer (got 'abc')",
        ),
        (
            {"PROBEWATCH_WEB_PORT": "70000"},
            "PROBEWATCH_WEB_PORT: Input should be less than or equal to 65535 (got '70000')",
        ),
        (
            {"PROBEWATCH_TELEGRAM_MODE": "pull"},
            "PROBEWATCH_TELEGRAM_MODE: Input should be 'webhook' or 'polling' (got 'pull')",
        ),
        (
            {"PROBEWATCH_LOG_LEVEL": "verbose"},
            "PROBEWATCH_LOG_LEVEL: 'verbose' is not a log level: use one of critical, crit, "
            "error, warning, warn, info, debug",
        ),
        (
            {"PROBEWATCH_KAFKA_BOOTSTRAP_SERVERS": "localhost:90x"},
            "PROBEWATCH_KAFKA_BOOTSTRAP_SERVERS: 'localhost:90x' is not host:port (bad port '90x')",
        ),
        (
            {"PROBEWATCH_KAFKA_BOOTSTRAP_SERVERS": "kafka://localhost:9092"},
            "PROBEWATCH_KAFKA_BOOTSTRAP_SERVERS: 'kafka://localhost:9092': write host:port, "
            "without a scheme",
        ),
        (
            {"PROBEWATCH_KAFKA_BOOTSTRAP_SERVERS": "a:1, b c:2"},
            "PROBEWATCH_KAFKA_BOOTSTRAP_SERVERS: 'b c:2' is not host:port (bad host 'b c')",
        ),
        (
            {"PROBEWATCH_KAFKA_BOOTSTRAP_SERVERS": " , "},
            "PROBEWATCH_KAFKA_BOOTSTRAP_SERVERS: is empty: give host:port[,host:port...] "
            "(e.g. localhost:9092)",
        ),
        (
            {"PROBEWATCH_KAFKA_BOOTSTRAP_SERVERS": "fe80::1:9092"},
            "PROBEWATCH_KAFKA_BOOTSTRAP_SERVERS: 'fe80::1:9092': put an IPv6 address in "
            "brackets, [::1]:9092",
        ),
        (
            {"PROBEWATCH_TOPIC_PREFIX": "site 1/"},
            "PROBEWATCH_TOPIC_PREFIX: 'site 1/' must be at most 100 of A-Z, a-z, 0-9, '.', '_' "
            "and '-' (it starts every topic name)",
        ),
        (
            {"PROBEWATCH_STORE": "redis://"},
            "PROBEWATCH_STORE: 'redis://' is not a table store: use memory://, rocksdb://, "
            "aerospike://",
        ),
        (
            {"PROBEWATCH_WEB_BIND": "every interface"},
            "PROBEWATCH_WEB_BIND: 'every interface' is not a host name or IP address",
        ),
        (
            {"PROBEWATCH_WEB_HOST": "http://me"},
            "PROBEWATCH_WEB_HOST: 'http://me' is not a host name or IP address",
        ),
        (
            {"PROBEWATCH_CANONICAL_URL": "localhost:6066"},
            "PROBEWATCH_CANONICAL_URL: 'localhost:6066' is not an http:// or https:// URL with "
            "a host",
        ),
        (
            {"PROBEWATCH_API_BASE_URL": "http://localhost:port"},
            "PROBEWATCH_API_BASE_URL: 'http://localhost:port' has an invalid port",
        ),
        (
            {"PROBEWATCH_SESSION_TIMEOUT_S": "120"},
            "PROBEWATCH_SESSION_TIMEOUT_S: 120 is more than 90, faust's broker request timeout, "
            "which it must not exceed",
        ),
        (
            {"PROBEWATCH_SESSION_TIMEOUT_S": "3"},
            "PROBEWATCH_SESSION_TIMEOUT_S: Input should be greater than or equal to 6 (got '3')",
        ),
        (
            {"PROBEWATCH_SHUTDOWN_TIMEOUT_S": "0"},
            "PROBEWATCH_SHUTDOWN_TIMEOUT_S: Input should be greater than 0 (got '0')",
        ),
        (
            {"PROBEWATCH_PARTITIONS": "0"},
            "PROBEWATCH_PARTITIONS: Input should be greater than or equal to 1 (got '0')",
        ),
        (
            {"PROBEWATCH_STREAM_QUEUE_SIZE": "many"},
            "PROBEWATCH_STREAM_QUEUE_SIZE: Input should be a valid integer, unable to parse "
            "string as an integer (got 'many')",
        ),
        (
            {"PROBEWATCH_TIMEZONE": "Mars/Olympus"},
            "PROBEWATCH_TIMEZONE: 'Mars/Olympus' is not a known time zone (e.g. UTC, "
            "Europe/London)",
        ),
    ],
)
def test_a_bad_worker_setting_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    started: list[list[str]],
    env: dict[str, str],
    line: str,
) -> None:
    assert refused(monkeypatch, capsys, env) == f"probewatch: error: {line}"
    assert started == []


def test_several_bad_settings_are_counted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], started: list[list[str]]
) -> None:
    env = {"PROBEWATCH_PARTITIONS": "x", "PROBEWATCH_STORE": "y", "PROBEWATCH_WEB_BIND": "?"}
    assert refused(monkeypatch, capsys, env).endswith("(and 2 more bad settings)")


def test_the_web_port_option_is_checked_as_the_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], started: list[list[str]]
) -> None:
    line = refused(monkeypatch, capsys, {}, ("worker", "--web-port", "0"))
    assert line.startswith("probewatch: error: PROBEWATCH_WEB_PORT: Input should be greater")


@pytest.mark.parametrize(
    ("env", "setting", "why"),
    [
        ({"PROBEWATCH_TELEGRAM_TOKEN": "not-a-token"}, "TOKEN", "does not look like a bot token"),
        ({"PROBEWATCH_TELEGRAM_EXTRA_TOKENS": "1:a, nope"}, "EXTRA_TOKENS", "does not look"),
        ({"PROBEWATCH_TELEGRAM_EXTRA_TOKENS": TOKEN}, "EXTRA_TOKENS", "names bot 123456 again"),
        (
            {"PROBEWATCH_TELEGRAM_MODE": "webhook", "PROBEWATCH_TELEGRAM_WEBHOOK_SECRET": ""},
            "WEBHOOK_SECRET",
            "must be 1-256",
        ),
        ({"PROBEWATCH_TELEGRAM_WEBHOOK_SECRET": "has space"}, "WEBHOOK_SECRET", "must be 1-256"),
        ({"PROBEWATCH_TELEGRAM_WEBHOOK_PATH": "short"}, "WEBHOOK_PATH", "must be 16-128"),
        ({"PROBEWATCH_TELEGRAM_ALLOWED_CHATS": "1001,me"}, "ALLOWED_CHATS", "has 'me', which"),
        ({"PROBEWATCH_TELEGRAM_ALLOWED_NETWORKS": "10.0.0.0/8,x"}, "ALLOWED_NETWORKS", "'x'"),
        ({"PROBEWATCH_TELEGRAM_TRUSTED_PROXIES": "10.0.0.0/40"}, "TRUSTED_PROXIES", "not a net"),
        ({"PROBEWATCH_TELEGRAM_API_BASE": "api.telegram.org"}, "API_BASE", "is not an http://"),
        ({"PROBEWATCH_TELEGRAM_PUBLIC_URL": "https://"}, "PUBLIC_URL", "is not an http://"),
        ({"PROBEWATCH_TELEGRAM_MAX_BODY_BYTES": "100"}, "MAX_BODY_BYTES", "greater than or eq"),
        ({"PROBEWATCH_TELEGRAM_MODE": "Polling"}, "MODE", "Input should be 'webhook' or"),
    ],
)
def test_a_bad_bot_setting_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    started: list[list[str]],
    env: dict[str, str],
    setting: str,
    why: str,
) -> None:
    line = refused(monkeypatch, capsys, BOT | env)
    prefix = f"probewatch: error: PROBEWATCH_TELEGRAM_{setting}: "
    assert line.startswith(prefix) and why in line, line
    assert "TEST-token" not in line and SECRET not in line and "has space" not in line
    assert started == []


def test_webhook_mode_needs_the_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], started: list[list[str]]
) -> None:
    monkeypatch.delitem(os.environ, "PROBEWATCH_TELEGRAM_WEBHOOK_SECRET", raising=False)
    env = {k: v for k, v in BOT.items() if k != "PROBEWATCH_TELEGRAM_WEBHOOK_SECRET"}
    line = refused(monkeypatch, capsys, env)
    assert line.startswith(
        "probewatch: error: PROBEWATCH_TELEGRAM_WEBHOOK_SECRET: is required in webhook mode"
    )


def test_a_data_dir_that_cannot_be_written_is_named(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    started: list[list[str]],
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    line = refused(monkeypatch, capsys, {"PROBEWATCH_DATA_DIR": str(blocker)})
    assert line.startswith(f"probewatch: error: PROBEWATCH_DATA_DIR: cannot write in {blocker}/")


def test_a_web_port_in_use_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], started: list[list[str]]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = refused(monkeypatch, capsys, {"PROBEWATCH_WEB_PORT": str(port)})
    assert line == (
        f"probewatch: error: PROBEWATCH_WEB_PORT: 127.0.0.1:{port} is in use (another worker on "
        "this port? use --web-port)"
    )


def test_a_web_bind_address_this_host_lacks_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], started: list[list[str]]
) -> None:
    line = refused(monkeypatch, capsys, {"PROBEWATCH_WEB_BIND": "192.0.2.1"})
    assert line.startswith("probewatch: error: PROBEWATCH_WEB_BIND: cannot listen on 192.0.2.1:")


@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeBotApiThread]:
    with FakeBotApiThread([TOKEN]) as fake:
        yield fake


def test_a_token_telegram_refuses_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    started: list[list[str]],
    telegram: FakeBotApiThread,
) -> None:
    env = BOT | {"PROBEWATCH_TELEGRAM_API_BASE": telegram.base_url}
    refused_token = "444444:refused-token-part"
    line = refused(monkeypatch, capsys, env | {"PROBEWATCH_TELEGRAM_TOKEN": refused_token})
    assert line == (
        "probewatch: error: PROBEWATCH_TELEGRAM_TOKEN: Telegram refused the token of bot 444444 "
        "(Unauthorized)"
    )
    extra = {"PROBEWATCH_TELEGRAM_TOKEN": TOKEN, "PROBEWATCH_TELEGRAM_EXTRA_TOKENS": refused_token}
    line = refused(monkeypatch, capsys, env | extra)
    assert line.startswith("probewatch: error: PROBEWATCH_TELEGRAM_EXTRA_TOKENS: Telegram refused")
    assert started == []


def test_an_api_base_that_is_no_bot_api_is_named(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    started: list[list[str]],
    telegram: FakeBotApiThread,
) -> None:
    base = f"{telegram.base_url}/elsewhere"
    line = refused(monkeypatch, capsys, BOT | {"PROBEWATCH_TELEGRAM_API_BASE": base})
    assert line == (
        f"probewatch: error: PROBEWATCH_TELEGRAM_API_BASE: {base} is not a Bot API server "
        "(getMe answered 404)"
    )


def test_good_settings_reach_faust_with_its_log_level(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    started: list[list[str]],
    telegram: FakeBotApiThread,
) -> None:
    monkeypatch.setenv("PROBEWATCH_LOG_LEVEL", "WARNING")
    for name, value in (BOT | {"PROBEWATCH_TELEGRAM_API_BASE": telegram.base_url}).items():
        monkeypatch.setenv(name, value)
    with pytest.raises(Started):
        main(["worker"])
    assert started == [["worker", "--loglevel", "warn"]]
    assert capsys.readouterr().err == ""
    assert "getme" in telegram.methods()


def test_an_unreachable_telegram_is_left_to_the_worker(
    monkeypatch: pytest.MonkeyPatch, started: list[list[str]]
) -> None:
    for name, value in BOT.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(Started):
        main(["worker"])


def test_other_commands_refuse_bad_settings_the_same_way(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], started: list[list[str]]
) -> None:
    env = {"PROBEWATCH_PARTITIONS": "-1"}
    for args in (("names-import", "x.csv"), ("webhook-info",)):
        line = refused(monkeypatch, capsys, env, args)
        assert line.startswith("probewatch: error: PROBEWATCH_PARTITIONS: ")


def test_the_web_port_option_reaches_the_settings_not_faust(started: list[list[str]]) -> None:
    """faust's own --web-port would rebuild the canonical URL and drop PROBEWATCH_CANONICAL_URL."""
    port = free_port()
    with pytest.raises(Started):
        main(["worker", "--web-port", str(port), "--without-web"])
    assert started == [["worker", "--without-web", "--loglevel", "info"]]
    assert get_settings().web_port == port
    with pytest.raises(Started):
        main(["worker", f"--web-port={port}", "--without-web"])
    assert started[-1] == ["worker", "--without-web", "--loglevel", "info"]


def test_the_command_line_chooses_the_settings_before_the_app_is_built() -> None:
    """The App takes its port and URL from the settings when it is built: importing the command
    line must not build it (it did, through the topic specs, and every worker took port 6066)."""
    code = "import sys, app.cli.main; sys.exit('app.main' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
