"""The bot's configuration, checked once: tokens, webhook paths, secret, allow-lists, time zone.

Settings hold plain strings; this module turns them into values the bot can rely on and fails
with a message naming the variable to fix. Tokens, the webhook secret and the webhook paths are
secrets: they never appear in a repr, an error message or a log line (see `redact`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import os
import re
import secrets
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr

from app.settings import SettingError, Settings

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: A bot token as BotFather issues it: the bot's numeric id, a colon, the secret part.
_TOKEN = re.compile(r"(\d{1,20}):([A-Za-z0-9_-]{1,200})")
#: Telegram's rule for setWebhook's `secret_token` (1-256 of A-Z, a-z, 0-9, _ and -).
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
#: A webhook path segment: URL-safe and long enough not to be guessed.
_PATH = re.compile(r"[A-Za-z0-9_-]{16,128}")

#: Where the webhook views are mounted; each bot's secret path follows.
WEBHOOK_PREFIX = "/telegram/"
#: The file, in the deployment's data folder, that keeps a generated webhook path.
PATH_FILE = "telegram-webhook-path"


#: The official Bot API server: it posts webhooks only to HTTPS URLs.
OFFICIAL_API_BASE = "https://api.telegram.org"
TOKEN_VARIABLE = "PROBEWATCH_TELEGRAM_TOKEN"
EXTRA_TOKENS_VARIABLE = "PROBEWATCH_TELEGRAM_EXTRA_TOKENS"


class BotConfigError(SettingError):
    """A setting the bot cannot start with: `setting` names the variable, nothing names a secret."""


@dataclass(frozen=True)
class BotIdentity:
    """One bot served by this deployment: its public id, its token and its secret webhook path."""

    bot_id: int
    token: SecretStr = field(repr=False)
    path: str = field(repr=False)
    #: The variable the token came from (PROBEWATCH_TELEGRAM_TOKEN or _EXTRA_TOKENS).
    variable: str = TOKEN_VARIABLE


@dataclass(frozen=True)
class TelegramConfig:
    """Everything the bot needs, validated. `bots[0]` is PROBEWATCH_TELEGRAM_TOKEN's bot."""

    bots: tuple[BotIdentity, ...]
    mode: Literal["webhook", "polling"]
    api_base: str
    api_url: str
    webhook_secret: SecretStr | None = field(repr=False)
    public_url: str | None
    allowed_chats: frozenset[int]
    #: Chats that may ask for reports over the lake (`/stats`); any other chat is refused.
    stats_chats: frozenset[int]
    #: Chats that may erase devices (`/erase`); any other chat is refused.
    admin_chats: frozenset[int]
    allowed_networks: tuple[Network, ...]
    trusted_proxies: tuple[Network, ...]
    max_body_bytes: int
    timezone: ZoneInfo
    path_file: Path | None

    def bot_for_path(self, path: str) -> BotIdentity | None:
        """The bot whose webhook path this is, compared in constant time."""
        found = None
        for bot in self.bots:
            if hmac.compare_digest(bot.path.encode(), path.encode()):
                found = bot
        return found

    def bot_by_id(self, bot_id: int) -> BotIdentity | None:
        """The bot a Kafka record is labelled with (its `bot` header)."""
        return next((bot for bot in self.bots if bot.bot_id == bot_id), None)

    def webhook_url(self, bot: BotIdentity) -> str:
        """The public URL Telegram must post this bot's updates to."""
        if not self.public_url:
            raise BotConfigError(
                "PROBEWATCH_TELEGRAM_PUBLIC_URL",
                "is not set: give the public HTTPS base URL that reaches this server "
                "(e.g. a tunnel's https://….example)",
            )
        return f"{self.public_url.rstrip('/')}{WEBHOOK_PREFIX}{bot.path}"

    def redact(self, text: str) -> str:
        """`text` with every token, the secret and the webhook paths masked, for logs."""
        hidden = [bot.token.get_secret_value() for bot in self.bots]
        hidden += [bot.path for bot in self.bots]
        if self.webhook_secret is not None:
            hidden.append(self.webhook_secret.get_secret_value())
        for value in sorted(hidden, key=len, reverse=True):
            text = text.replace(value, "***")
        return text


def load_timezone(name: str) -> ZoneInfo:
    """PROBEWATCH_TIMEZONE as a zone, or a clear error for a name the tz database lacks."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BotConfigError(
            "PROBEWATCH_TIMEZONE",
            f"{name[:60]!r} is not a known time zone (e.g. UTC, Europe/London)",
        ) from None


def bot_id_of(token: str, variable: str = TOKEN_VARIABLE) -> int:
    """The numeric bot id a token starts with; the token itself is never echoed."""
    match = _TOKEN.fullmatch(token.strip())
    if match is None:
        raise BotConfigError(
            variable, "does not look like a bot token (expected <digits>:<secret> from BotFather)"
        )
    return int(match.group(1))


def derive_path(base_path: str, bot_id: int) -> str:
    """A further bot's webhook path: HMAC-SHA256 of its id keyed with the base path, base64url.

    Deterministic, so every worker (and `probewatch webhook-info`) computes the same path, and not
    guessable without the base path.
    """
    digest = hmac.new(base_path.encode(), f"bot{bot_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def load_or_create_path(path_file: Path) -> str:
    """The webhook path kept in `path_file`; made at random (and kept) when there is none yet.

    Workers of one deployment on one host share the file. It is created atomically (written
    aside, then hard-linked into place), so two workers starting at once agree on one path.
    """
    try:
        value = _read_or_create(path_file)
    except OSError as err:
        raise BotConfigError(
            "PROBEWATCH_DATA_DIR",
            f"cannot keep the generated webhook path in {path_file}: {err.strerror or err} "
            "(or set PROBEWATCH_TELEGRAM_WEBHOOK_PATH)",
        ) from None
    if not _PATH.fullmatch(value):
        raise BotConfigError(
            "PROBEWATCH_TELEGRAM_WEBHOOK_PATH",
            f"is unset and {path_file} does not hold a valid generated path: delete the file to "
            "have a new one made",
        )
    return value


def _read_or_create(path_file: Path) -> str:
    if not path_file.exists():
        path_file.parent.mkdir(parents=True, exist_ok=True)
        aside = path_file.with_name(f".{path_file.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(24) + "\n")
        try:
            os.link(aside, path_file)
            logger.info(
                "generated a secret Telegram webhook path, kept in %s "
                "(`probewatch webhook-info` shows the URL)",
                path_file,
            )
        except FileExistsError:
            pass
        finally:
            aside.unlink()
    return path_file.read_text().strip()


def parse_chats(text: str, variable: str = "PROBEWATCH_TELEGRAM_ALLOWED_CHATS") -> frozenset[int]:
    """Comma-separated chat ids (groups are negative): PROBEWATCH_TELEGRAM_ALLOWED_CHATS, or
    the `variable` named in an error."""
    chats = set()
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            chats.add(int(item))
        except ValueError:
            raise BotConfigError(variable, f"has {item[:30]!r}, which is not a chat id") from None
    return frozenset(chats)


def parse_networks(text: str, variable: str) -> tuple[Network, ...]:
    """Comma-separated networks such as `149.154.160.0/20, 91.108.4.0/22`."""
    networks = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise BotConfigError(
                variable, f"has {item[:50]!r}, which is not a network (e.g. 149.154.160.0/20)"
            ) from None
    return tuple(networks)


def load_telegram_config(settings: Settings) -> TelegramConfig | None:
    """The validated configuration, or None when PROBEWATCH_TELEGRAM_TOKEN is unset (bot off)."""
    timezone = load_timezone(settings.timezone)
    if settings.telegram_token is None:
        further = settings.telegram_extra_tokens
        if further is not None and further.get_secret_value().strip():
            raise BotConfigError(
                EXTRA_TOKENS_VARIABLE,
                f"is set but {TOKEN_VARIABLE} is not: the further bots need the first one",
            )
        return None
    tokens = [(TOKEN_VARIABLE, settings.telegram_token.get_secret_value())]
    if settings.telegram_extra_tokens is not None:
        extra = settings.telegram_extra_tokens.get_secret_value().split(",")
        tokens += [(EXTRA_TOKENS_VARIABLE, t.strip()) for t in extra if t.strip()]
    ids = [bot_id_of(token, variable) for variable, token in tokens]
    for index, bot_id in enumerate(ids):
        if bot_id in ids[:index]:
            raise BotConfigError(
                EXTRA_TOKENS_VARIABLE, f"names bot {bot_id} again: the same bot is configured twice"
            )

    secret = settings.telegram_webhook_secret
    if secret is not None and not _SECRET.fullmatch(secret.get_secret_value()):
        raise BotConfigError(
            "PROBEWATCH_TELEGRAM_WEBHOOK_SECRET",
            "must be 1-256 of A-Z, a-z, 0-9, _ and - (Telegram's rule for the secret token)",
        )
    if settings.telegram_mode == "webhook" and secret is None:
        raise BotConfigError(
            "PROBEWATCH_TELEGRAM_WEBHOOK_SECRET",
            "is required in webhook mode: Telegram sends it with every update, and updates "
            "without it are refused (e.g. `openssl rand -hex 32`)",
        )
    api_base = settings.telegram_api_base.rstrip("/")
    public_url = settings.telegram_public_url
    if public_url and api_base == OFFICIAL_API_BASE and not public_url.startswith("https://"):
        raise BotConfigError(
            "PROBEWATCH_TELEGRAM_PUBLIC_URL",
            "must be an https:// URL: Telegram posts webhooks over HTTPS only",
        )

    path_file: Path | None = None
    if settings.telegram_webhook_path:
        base_path = settings.telegram_webhook_path.strip().strip("/")
        if not _PATH.fullmatch(base_path):
            raise BotConfigError(
                "PROBEWATCH_TELEGRAM_WEBHOOK_PATH", "must be 16-128 of A-Z, a-z, 0-9, _ and -"
            )
    else:
        path_file = settings.data_dir / settings.app_id / PATH_FILE
        base_path = load_or_create_path(path_file)

    bots = tuple(
        BotIdentity(
            bot_id=bot_id,
            token=SecretStr(token.strip()),
            path=base_path if index == 0 else derive_path(base_path, bot_id),
            variable=variable,
        )
        for index, (bot_id, (variable, token)) in enumerate(zip(ids, tokens, strict=True))
    )
    return TelegramConfig(
        bots=bots,
        mode=settings.telegram_mode,
        api_base=api_base,
        api_url=settings.local_api_url,
        webhook_secret=secret,
        public_url=public_url,
        allowed_chats=parse_chats(settings.telegram_allowed_chats),
        stats_chats=parse_chats(settings.telegram_stats_chats, "PROBEWATCH_TELEGRAM_STATS_CHATS"),
        admin_chats=parse_chats(settings.telegram_admin_chats, "PROBEWATCH_TELEGRAM_ADMIN_CHATS"),
        allowed_networks=parse_networks(
            settings.telegram_allowed_networks, "PROBEWATCH_TELEGRAM_ALLOWED_NETWORKS"
        ),
        trusted_proxies=parse_networks(
            settings.telegram_trusted_proxies, "PROBEWATCH_TELEGRAM_TRUSTED_PROXIES"
        ),
        max_body_bytes=settings.telegram_max_body_bytes,
        timezone=timezone,
        path_file=path_file,
    )


@cache
def telegram_config(settings: Settings) -> TelegramConfig | None:
    """`load_telegram_config`, once per process: the views, the agent and the service share it."""
    return load_telegram_config(settings)
