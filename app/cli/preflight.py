"""Everything a worker needs from its settings, checked before faust starts.

A worker that starts with a setting it cannot use says "Ready" and then crashes, or crashes in a
loop; `probewatch worker` runs these checks first and, on the first problem, prints one line
naming the variable (`probewatch: error: PROBEWATCH_X: why`) and exits with EXIT_BAD_SETTING.
This module imports neither faust nor aiogram, so that answer takes well under a second.
"""

from __future__ import annotations

import contextlib
import errno
import json
import socket
import tempfile
import urllib.error
import urllib.request
from typing import Any

from pydantic import ValidationError

from app.bot.config import BotIdentity, TelegramConfig, load_telegram_config
from app.settings import SettingError, Settings, env_name, use_settings

#: Exit statuses of `probewatch` (README, "Command line").
EXIT_OK = 0
#: A failure while running: Kafka did not answer, the worker crashed, Telegram refused a command.
EXIT_FAILURE = 1
#: A setting (or argument) cannot be used; nothing was started.
EXIT_BAD_SETTING = 2
#: After SIGTERM/SIGINT the worker did not stop within PROBEWATCH_SHUTDOWN_TIMEOUT_S.
EXIT_SHUTDOWN_TIMEOUT = 3

#: Fields whose values never appear in an error message.
_SECRET_FIELDS = {"telegram_token", "telegram_extra_tokens", "telegram_webhook_secret"}
#: How long getMe may take at start before the check is left to the bot service (which waits).
GETME_TIMEOUT_S = 10.0


def load_settings(**options: Any) -> Settings:
    """The process's settings, from the environment with the command line's `options` applied,
    made the process's own (`use_settings`); a SettingError names the first bad variable."""
    try:
        settings = Settings(**options)
    except ValidationError as err:
        raise setting_error(err) from None
    use_settings(settings)
    return settings


def setting_error(err: ValidationError) -> SettingError:
    """pydantic's report as one SettingError: the first problem, and how many more there are."""
    problems = err.errors(include_url=False)
    first = problems[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    if first["type"] == "value_error" and "error" in first.get("ctx", {}):
        why = str(first["ctx"]["error"])
    else:
        why = first["msg"]
        if field not in _SECRET_FIELDS and isinstance(first.get("input"), str | int | float):
            why += f" (got {str(first['input'])[:60]!r})"
    if len(problems) > 1:
        why += f" (and {len(problems) - 1} more bad setting{'s' if len(problems) > 2 else ''})"
    return SettingError(env_name(field) if field else "PROBEWATCH_*", why)


def check_worker(settings: Settings, *, web: bool = True) -> TelegramConfig | None:
    """Every check a worker needs; the bot's configuration when it is on."""
    check_data_dir(settings)
    if web:
        check_web_port(settings)
    config = load_telegram_config(settings)
    if config is not None:
        check_tokens(config)
    return config


def check_data_dir(settings: Settings) -> None:
    """This worker's data folder exists (it is made if not) and a file can be written in it."""
    folder = settings.worker_data_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)  # made by an earlier version, or by hand: owner only from now on
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise SettingError(
            "PROBEWATCH_DATA_DIR", f"cannot write in {folder}: {err.strerror or err}"
        ) from None


def check_web_port(settings: Settings) -> None:
    """The HTTP server will be able to listen on PROBEWATCH_WEB_BIND:PROBEWATCH_WEB_PORT, and
    the webhook's own listener on PROBEWATCH_WEBHOOK_BIND:PROBEWATCH_WEBHOOK_PORT if set."""
    check_listen(settings.web_bind, settings.web_port, "WEB")
    if settings.webhook_port is not None:
        if settings.webhook_port == settings.web_port:
            raise SettingError(
                "PROBEWATCH_WEBHOOK_PORT",
                "must differ from PROBEWATCH_WEB_PORT (a listener of its own)",
            )
        check_listen(settings.webhook_bind, settings.webhook_port, "WEBHOOK")


def check_listen(bind: str, port: int, which: str) -> None:
    """A server will be able to listen on bind:port (PROBEWATCH_<which>_BIND/_PORT)."""
    where = f"{bind}:{port}"
    try:
        addresses = socket.getaddrinfo(bind.strip("[]"), port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise SettingError(
            f"PROBEWATCH_{which}_BIND", f"{bind!r} is not an address: {err.strerror}"
        ) from None
    family, kind, proto, _, address = addresses[0]
    with socket.socket(family, kind, proto) as sock:
        # As the server will (asyncio's default on POSIX), so a port in TIME_WAIT is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise SettingError(
                    f"PROBEWATCH_{which}_PORT",
                    f"{where} is in use (another worker on this port? use --web-port)",
                ) from None
            if err.errno in (errno.EACCES, errno.EPERM):
                raise SettingError(
                    f"PROBEWATCH_{which}_PORT", f"{where} needs privileges this process lacks"
                ) from None
            raise SettingError(
                f"PROBEWATCH_{which}_BIND", f"cannot listen on {where}: {err.strerror or err}"
            ) from None


def check_tokens(config: TelegramConfig, timeout: float = GETME_TIMEOUT_S) -> None:
    """Ask the Bot API who each bot is: a token it refuses, or a server that is not a Bot API,
    is a bad setting. An API that does not answer is not: the bot service waits for it."""
    for bot in config.bots:
        status, body = _get_me(config.api_base, bot, timeout)
        if status == 401:
            raise SettingError(
                bot.variable, f"Telegram refused the token of bot {bot.bot_id} (Unauthorized)"
            )
        if status == 404 or (status == 200 and not _is_bot_api_answer(body)):
            raise SettingError(
                "PROBEWATCH_TELEGRAM_API_BASE",
                f"{config.api_base} is not a Bot API server (getMe answered {status})",
            )


def _get_me(api_base: str, bot: BotIdentity, timeout: float) -> tuple[int | None, Any]:
    """Status and JSON body of getMe; (None, None) when there was no answer. Never raises, and
    never puts the URL (it holds the token) into a message."""
    url = f"{api_base}/bot{bot.token.get_secret_value()}/getMe"
    # aiogram's session ignores *_proxy variables; so does this check.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, data=b"{}", method="POST")
    request.add_header("Content-Type", "application/json")
    try:
        with opener.open(request, timeout=timeout) as response:
            return int(response.status), _json(response.read())
    except urllib.error.HTTPError as err:
        with contextlib.closing(err):
            return int(err.code), _json(err.read())
    except (OSError, ValueError):
        return None, None


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def _is_bot_api_answer(body: Any) -> bool:
    return isinstance(body, dict) and body.get("ok") is True and "result" in body
