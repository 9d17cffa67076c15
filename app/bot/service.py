"""The bots' lifetime in a worker: a mode Service owning the Bot objects and their HTTP sessions.

At start it checks the configuration and asks Telegram who each bot is (getMe): a token Telegram
refuses stops the worker with a clear error rather than leaving a bot that silently never
answers. `probewatch worker` makes the same checks before faust starts (app/cli/preflight.py); these
catch what that could not (Telegram unreachable then), and stop the worker the same way: one
line naming the setting, exit status 2 (through `on_unusable`, which the worker gives it). It
sets the command menu
(setMyCommands) and, in polling mode, runs a `Poller` per bot. With PROBEWATCH_TELEGRAM_TOKEN
unset it does nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError
from mode import Service

from app.bot.api import ProbewatchApi
from app.bot.config import BotIdentity, TelegramConfig, telegram_config
from app.bot.dispatcher import BOT_COMMANDS, build_dispatcher, update_types
from app.bot.polling import Poller, Publish
from app.settings import SettingError, Settings

logger = logging.getLogger(__name__)

MAX_CONNECT_BACKOFF_S = 30.0


def new_bot(identity: BotIdentity, config: TelegramConfig) -> Bot:
    """A Bot with its own HTTP session to the configured Bot API server, replying in HTML."""
    return Bot(
        identity.token.get_secret_value(),
        session=AiohttpSession(api=TelegramAPIServer.from_base(config.api_base)),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


class BotStartupError(RuntimeError):
    """The bot cannot run with this configuration; the message says what to fix."""


class BotService(Service):
    """Bots, dispatcher and API client of this worker; `wait_ready` before feeding updates."""

    def __init__(
        self,
        settings: Settings,
        *,
        publish: Publish,
        is_leader: Callable[[], bool],
        on_unusable: Callable[[SettingError], bool] = lambda _err: False,
        credential: Callable[[], Mapping[str, str]] = dict,
        poll_timeout: int = 10,
        **kwargs: Any,
    ) -> None:
        """`on_unusable(err)` stops the worker for a setting found unusable at start (True), or
        says there is no worker to stop (False: the service raises BotStartupError);
        `credential()` gives the headers that let the bot into the API."""
        super().__init__(**kwargs)
        self.settings = settings
        self.publish = publish
        self.is_leader = is_leader
        self.on_unusable = on_unusable
        self.credential = credential
        self.poll_timeout = poll_timeout
        self.config: TelegramConfig | None = None
        self.bots: dict[int, Bot] = {}
        self.dispatcher: Dispatcher | None = None
        self.api: ProbewatchApi | None = None
        self._ready = asyncio.Event()

    async def on_start(self) -> None:
        """Check the settings and every token, set the menus, then poll if asked to.

        A setting the bot cannot run with stops the worker (exit status 2) with one line naming
        it; outside a worker (tests) it raises BotStartupError.
        """
        try:
            config = await self._start_bots()
        except SettingError as err:
            if self.on_unusable(err):  # the worker logs it and stops
                return
            logger.critical("Telegram bot: %s", err)
            raise BotStartupError(str(err)) from None
        if config is None:
            return
        if not config.allowed_chats:
            logger.warning(
                "PROBEWATCH_TELEGRAM_ALLOWED_CHATS is empty: every chat is refused (the refusal "
                "tells each chat its id to add)"
            )
        if config.stats_chats - config.allowed_chats:
            logger.warning(
                "PROBEWATCH_TELEGRAM_STATS_CHATS has chats not on "
                "PROBEWATCH_TELEGRAM_ALLOWED_CHATS (%s): the bot refuses them before /stats",
                ", ".join(str(c) for c in sorted(config.stats_chats - config.allowed_chats)),
            )
        self._ready.set()
        if config.mode == "polling":
            self._start_polling(config)

    async def _start_bots(self) -> TelegramConfig | None:
        """The configuration, with a Bot per token that Telegram has confirmed (getMe)."""
        config = self.config = telegram_config(self.settings)
        if config is None:
            logger.info("Telegram bot off: PROBEWATCH_TELEGRAM_TOKEN is not set")
            return None
        self.api = ProbewatchApi(config.api_url, credential=self.credential)
        self.dispatcher = build_dispatcher(
            api=self.api,
            allowed_chats=config.allowed_chats,
            timezone=config.timezone,
            stats_chats=config.stats_chats,
            admin_chats=config.admin_chats,
        )
        for identity in config.bots:
            self.bots[identity.bot_id] = new_bot(identity, config)
        for identity in config.bots:
            await self._introduce(identity, self.bots[identity.bot_id], config)
        return config

    def _start_polling(self, config: TelegramConfig) -> None:
        """A `Poller` per bot (only the leader's fetch updates)."""
        assert self.dispatcher is not None
        allowed_updates = update_types(self.dispatcher)
        for identity in config.bots:
            poller = Poller(
                self.bots[identity.bot_id],
                identity,
                publish=self.publish,
                is_leader=self.is_leader,
                stopped=lambda: self.should_stop,
                sleep=self.sleep,
                allowed_updates=allowed_updates,
                timeout=self.poll_timeout,
            )
            self.add_future(poller.run())

    async def _introduce(self, identity: BotIdentity, bot: Bot, config: TelegramConfig) -> None:
        """getMe (a refused token is fatal, an unreachable Telegram is waited for), then menu."""
        backoff = 1.0
        while True:
            try:
                me = await bot.me()  # kept: group messages are checked for mentions of it
                break
            except TelegramUnauthorizedError:
                raise SettingError(
                    identity.variable,
                    f"Telegram refused the token of bot {identity.bot_id} (Unauthorized)",
                ) from None
            except TelegramAPIError as err:
                if self.should_stop:
                    return
                logger.warning(
                    "bot %d: getMe failed (%s), retrying in %.0f s",
                    identity.bot_id,
                    config.redact(str(err)),
                    backoff,
                )
                await self.sleep(backoff)
                backoff = min(backoff * 2, MAX_CONNECT_BACKOFF_S)
        logger.info("Telegram bot @%s (id %d) ready, %s mode", me.username, me.id, config.mode)
        try:
            await bot.set_my_commands(list(BOT_COMMANDS))
        except TelegramAPIError as err:
            logger.warning("bot %d: setMyCommands failed: %s", me.id, config.redact(str(err)))

    async def wait_ready(self) -> None:
        """Until every bot has passed getMe."""
        await self._ready.wait()

    def bot(self, bot_id: int) -> Bot | None:
        """The Bot to answer an update labelled with `bot_id`, if this worker serves it."""
        return self.bots.get(bot_id)

    async def on_stop(self) -> None:
        if self.api is not None:
            await self.api.close()
        for bot in self.bots.values():
            await bot.session.close()
