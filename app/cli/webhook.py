"""Admin commands for the Telegram webhook: `probewatch webhook-set|webhook-info|webhook-delete`.

They act on every configured bot (PROBEWATCH_TELEGRAM_TOKEN and _EXTRA_TOKENS), each with its own
secret path, and talk only to the Bot API (PROBEWATCH_TELEGRAM_API_BASE), never to Kafka.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from faust.cli import AppCommand, option

from app.bot.config import BotConfigError, BotIdentity, TelegramConfig, load_telegram_config
from app.cli.preflight import EXIT_BAD_SETTING, EXIT_FAILURE, EXIT_OK
from app.main import app, settings

if TYPE_CHECKING:
    from aiogram import Bot


class CommandError(Exception):
    """What went wrong, said plainly; the command exits with status 1 (EXIT_FAILURE)."""


class TelegramCommand(AppCommand):
    """Runs on a plain event loop, without a faust worker, and turns errors into one clear line.

    A setting that cannot be used exits with status 2 (`probewatch: error: PROBEWATCH_X: why`),
    as the worker does; a setting the command needs but that is unset, or a refusal by
    Telegram, with status 1.
    """

    abstract: ClassVar[bool] = True

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        try:
            asyncio.run(self.execute(*(self.args + args), **{**self.kwargs, **kwargs}))
        except BotConfigError as err:
            print(err.line(), file=sys.stderr)
            raise SystemExit(EXIT_BAD_SETTING) from None
        except CommandError as err:
            print(f"probewatch: {err}", file=sys.stderr)
            raise SystemExit(EXIT_FAILURE) from None
        raise SystemExit(EXIT_OK)


def _config() -> TelegramConfig:
    config = load_telegram_config(settings)
    if config is None:
        raise CommandError("PROBEWATCH_TELEGRAM_TOKEN is not set: there is no bot to configure")
    return config


@asynccontextmanager
async def _bots(config: TelegramConfig) -> AsyncIterator[list[tuple[BotIdentity, Bot]]]:
    """A Bot per configured token, sessions closed after; Telegram's errors made readable.

    aiogram is imported here, not at the top: it takes seconds, and every `probewatch` command
    (the worker too) imports this module.
    """
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError

    server = TelegramAPIServer.from_base(config.api_base)
    bots = [
        (identity, Bot(identity.token.get_secret_value(), session=AiohttpSession(api=server)))
        for identity in config.bots
    ]
    try:
        yield bots
    except TelegramUnauthorizedError:
        raise CommandError(
            "Telegram refused a bot token (Unauthorized): check PROBEWATCH_TELEGRAM_TOKEN / "
            "PROBEWATCH_TELEGRAM_EXTRA_TOKENS"
        ) from None
    except TelegramAPIError as err:
        raise CommandError(f"the Bot API refused: {config.redact(str(err))}") from None
    finally:
        for _, bot in bots:
            await bot.session.close()


def _update_types(config: TelegramConfig) -> list[str]:
    """The update types the handlers use and the lake keeps, so Telegram sends no others."""
    from app.bot.api import ProbewatchApi
    from app.bot.dispatcher import build_dispatcher, update_types

    dispatcher = build_dispatcher(
        api=ProbewatchApi(config.api_url), allowed_chats=frozenset(), timezone=config.timezone
    )
    return update_types(dispatcher)


@app.command(
    option(
        "--drop-pending-updates",
        is_flag=True,
        default=False,
        help="Forget the updates Telegram holds for the bot instead of delivering them.",
    ),
    base=TelegramCommand,
)
async def webhook_set(self: AppCommand, drop_pending_updates: bool) -> None:
    """Point Telegram at PROBEWATCH_TELEGRAM_PUBLIC_URL + each bot's secret path, with secret."""
    config = _config()
    if config.webhook_secret is None:
        raise CommandError(
            "PROBEWATCH_TELEGRAM_WEBHOOK_SECRET is not set: a webhook without it would accept "
            "updates from anyone who learns its URL"
        )
    try:
        urls = [(identity, config.webhook_url(identity)) for identity in config.bots]
    except BotConfigError as err:  # unset, not wrong: this command needs it
        raise CommandError(str(err)) from None
    update_types = _update_types(config)
    async with _bots(config) as bots:
        for (identity, bot), (_, url) in zip(bots, urls, strict=True):
            await bot.set_webhook(
                url,
                secret_token=config.webhook_secret.get_secret_value(),
                drop_pending_updates=drop_pending_updates,
                allowed_updates=update_types,
            )
            self.say(f"bot {identity.bot_id}: webhook set to {url}")
    if config.mode == "polling":
        self.say("note: PROBEWATCH_TELEGRAM_MODE=polling; workers cannot poll while it is set")


@app.command(base=TelegramCommand)
async def webhook_info(self: AppCommand) -> None:
    """What Telegram knows of each bot's webhook, next to the URL this deployment serves."""
    config = _config()
    if config.path_file is not None:
        self.say(f"webhook path: generated, kept in {config.path_file}")
    async with _bots(config) as bots:
        for identity, bot in bots:
            me = await bot.get_me()
            info = await bot.get_webhook_info()
            expected = config.webhook_url(identity) if config.public_url else None
            self.say(f"bot {identity.bot_id} (@{me.username}):")
            self.say(f"  serves on:       {expected or '(set PROBEWATCH_TELEGRAM_PUBLIC_URL)'}")
            self.say(f"  local path:      /telegram/{identity.path}")
            self.say(f"  Telegram posts:  {info.url or '(no webhook set)'}")
            if expected is not None and info.url and info.url != expected:
                self.say("  MISMATCH: run `probewatch webhook-set`")
            self.say(f"  pending updates: {info.pending_update_count}")
            if info.last_error_message:
                self.say(f"  last error:      {info.last_error_date} {info.last_error_message}")


@app.command(
    option(
        "--drop-pending-updates",
        is_flag=True,
        default=False,
        help="Also forget the updates Telegram holds for the bot.",
    ),
    base=TelegramCommand,
)
async def webhook_delete(self: AppCommand, drop_pending_updates: bool) -> None:
    """Remove each bot's webhook (needed before polling mode can work)."""
    config = _config()
    async with _bots(config) as bots:
        for identity, bot in bots:
            await bot.delete_webhook(drop_pending_updates=drop_pending_updates)
            self.say(f"bot {identity.bot_id}: webhook deleted")
