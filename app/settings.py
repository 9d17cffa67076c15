"""Every knob of a probewatch worker, read once from `PROBEWATCH_*` variables or a `.env` file.

Only this module reads the environment; everything else is handed a `Settings`.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: PROBEWATCH_LOG_LEVEL's accepted spellings, and how faust's `--loglevel` spells each.
LOG_LEVELS = {
    "critical": "crit",
    "crit": "crit",
    "error": "error",
    "warning": "warn",
    "warn": "warn",
    "info": "info",
    "debug": "debug",
}
#: The table stores faust 0.15 knows (faust.stores.STORES).
STORES = ("memory", "rocksdb", "aerospike")
#: faust's `broker_request_timeout` (90 s): a longer session timeout is refused when it starts.
MAX_SESSION_TIMEOUT_S = 90.0
#: A host name (RFC 1123, plus the `_` container names use) or an IPv4 address.
_HOST = re.compile(
    r"(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
    r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?"
)
#: What Kafka allows in a topic name (the prefix becomes part of every one).
_TOPIC_CHARS = re.compile(r"[A-Za-z0-9._-]{0,100}")


def _is_host(text: str) -> bool:
    """A host name, an IPv4 address, or an IPv6 address (bare or in brackets)."""
    if _HOST.fullmatch(text):
        return True
    try:
        ipaddress.IPv6Address(text[1:-1] if text.startswith("[") and text.endswith("]") else text)
    except ValueError:
        return False
    return True


def _host_port(item: str) -> tuple[str, str | None]:
    """`host:port`, `host` or `[v6]:port` split in two; the port is None when absent."""
    if item.startswith("["):
        host, bracket, rest = item.partition("]")
        if not rest:
            return host + bracket, None
        return host + bracket, rest[1:] if rest.startswith(":") else rest
    if item.count(":") > 1:
        raise ValueError(f"{item!r}: put an IPv6 address in brackets, [::1]:9092")
    host, colon, port = item.partition(":")
    return host, port if colon else None


def _check_http_url(value: str | None) -> str | None:
    """An absolute http(s) URL with a host (and a valid port, if any)."""
    if value is None:
        return None
    if not value.strip() or any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not a URL (e.g. https://host.example)")
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 -- raises on a port that is not a number in range
    except ValueError:
        raise ValueError(f"{value!r} has an invalid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// URL with a host")
    return value


class Settings(BaseSettings):
    """Worker settings; each has a default that works with `make run`."""

    model_config = SettingsConfigDict(
        env_prefix="PROBEWATCH_", env_file=".env", extra="ignore", frozen=True
    )

    kafka_bootstrap_servers: str = "localhost:9092"
    topic_prefix: str = ""
    data_dir: Path = Path("var/data")
    store: str = "rocksdb://"
    web_port: int = Field(default=6066, ge=1, le=65535)
    web_bind: str = "127.0.0.1"
    web_host: str = "localhost"
    canonical_url: str | None = None
    #: Who may use the HTTP API (`app.web.access`): `auto` asks for a token once any exists
    #: (open until then, saying so), `required` always, `localhost-open` always except from
    #: this host's loopback addresses (development only).
    api_auth: Literal["auto", "required", "localhost-open"] = "auto"
    #: A second listener that answers Telegram's webhook and nothing else (the one to expose).
    webhook_port: int | None = Field(default=None, ge=1, le=65535)
    webhook_bind: str = "127.0.0.1"
    partitions: int = Field(default=8, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    standby_replicas: int = Field(default=1, ge=0)
    #: How long a silent worker keeps its partitions before the others take them over.
    session_timeout_s: float = Field(default=10.0, ge=6.0)
    #: How often a worker commits the input offsets it processed (faust's default). A crash
    #: re-delivers at most this much; rows and once-only effects skip what they already hold.
    commit_interval_s: float = Field(default=2.8, gt=0, le=3600)
    #: After SIGTERM/SIGINT, how long the worker may take to stop before it exits anyway (status 3).
    shutdown_timeout_s: float = Field(default=30.0, gt=0)
    #: How often each worker looks for assigned input partitions that are never fetched
    #: (`app.worker.watchdog`); one is sought again on the second look that finds it stuck.
    stall_check_s: float = Field(default=5.0, gt=0, le=300)
    #: The HTTP server's deadlines (`app.web.server`): for a request's headers (and an idle
    #: keep-alive connection), for a body a view reads, and for draining an unread body.
    http_header_timeout_s: float = Field(default=20.0, gt=0, le=3600)
    http_body_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    http_linger_s: float = Field(default=5.0, ge=0, le=3600)
    max_ssids_per_device: int = Field(default=1000, ge=1)
    #: How often folded rows are written to the changelog and the local store (write-behind);
    #: a crash re-reads at most this much, which the folds skip where they already applied it.
    flush_interval_s: float = Field(default=1.0, gt=0, le=60)
    #: Rows staged in memory that make a fold flush at once instead of waiting for the interval.
    flush_max_rows: int = Field(default=20_000, ge=1)
    #: Keep history (`GET /activity`, `GET /devices/{mac}/activity`). Off, the fold skips it
    #: (what `make bench` compares ingest with) and those routes answer as if nothing was seen.
    history: bool = True
    #: Devices unseen (by capture time) for longer than this many days are erased from every
    #: table; the raw topics keep their records as long (`retention.ms`). None: kept for ever.
    retention_days: float | None = Field(default=None, gt=0, le=36_500)
    #: How often each worker looks for devices to forget, among the partitions it owns.
    retention_sweep_s: float = Field(default=600.0, gt=0, le=86_400)
    #: The lake's zones, in days of their folders (`context_date`, `day`); None: as
    #: `retention_days` (kept for ever when that is None too).
    lake_raw_retention_days: float | None = Field(default=None, gt=0, le=36_500)
    lake_enriched_retention_days: float | None = Field(default=None, gt=0, le=36_500)
    #: Group randomized MACs into probable devices (`app.agents.groups`). Off, the probes fold
    #: re-keys nothing (what `make bench` compares ingest with) and devices have no group.
    grouping: bool = True
    #: The history lake (`app.lake`): a folder or an fsspec URL (`s3://bucket/prefix`); empty
    #: turns the archiver off.
    lake: str = "var/lake"
    #: How often the archiver writes what it read to the lake: what a query of today lags by.
    lake_flush_s: float = Field(default=30.0, gt=0, le=3600)
    #: How often each worker compacts the finished days it owns (the daily "D-1" job).
    lake_compact_s: float = Field(default=3600.0, gt=0, le=86_400)
    #: Files younger than this are left for the next compaction (a piece may be half-written).
    lake_compact_min_age_s: float = Field(default=600.0, ge=0, le=86_400)
    #: Tests only: the point of a write-behind flush at which the worker kills itself (SIGKILL),
    #: to check that no crash between the changelog and the local store loses or doubles a count.
    test_crash_at: (
        Literal["flush-half-produced", "flush-produced", "flush-stored", "lake-enriched-written"]
        | None
    ) = None
    timezone: str = "UTC"
    #: Repeats of the same device + watched SSID within this many seconds make one alert.
    alert_window_s: float = Field(default=300.0, ge=0)
    #: Events a slow live-stream client may fall behind before it is dropped.
    stream_queue_size: int = Field(default=1000, ge=10)
    log_level: str = "info"
    telegram_token: SecretStr | None = None
    #: Further bots served by the same webhook server, comma-separated tokens
    #: ("many bots, one server").
    telegram_extra_tokens: SecretStr | None = None
    telegram_mode: Literal["webhook", "polling"] = "webhook"
    telegram_api_base: str = "https://api.telegram.org"
    telegram_webhook_path: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    #: The public HTTPS base URL Telegram posts to (e.g. a tunnel), for `probewatch webhook-set`.
    telegram_public_url: str | None = None
    telegram_allowed_chats: str = ""
    #: Chats that may ask `/stats` (reports over the lake); empty = none. Comma-separated ids.
    telegram_stats_chats: str = ""
    #: Chats that may erase devices (`/erase`); empty = none. Comma-separated ids.
    telegram_admin_chats: str = ""
    #: Source networks allowed to post to the webhook; empty = any (the secret is always checked).
    telegram_allowed_networks: str = ""
    #: Reverse proxies (networks) whose X-Forwarded-For names the real client; empty = trust none.
    telegram_trusted_proxies: str = ""
    telegram_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    #: Where this worker's bot asks device queries; any worker routes them to the owner.
    api_base_url: str | None = None

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap_servers(cls, value: str) -> str:
        hosts = [h.strip() for h in value.split(",") if h.strip()]
        if not hosts:
            raise ValueError("is empty: give host:port[,host:port...] (e.g. localhost:9092)")
        for item in hosts:
            if "://" in item:
                raise ValueError(f"{item!r}: write host:port, without a scheme")
            host, port = _host_port(item)
            if not _is_host(host):
                raise ValueError(f"{item!r} is not host:port (bad host {host!r})")
            if port is not None and not (port.isdigit() and 1 <= int(port) <= 65535):
                raise ValueError(f"{item!r} is not host:port (bad port {port!r})")
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _topic_prefix(cls, value: str) -> str:
        if not _TOPIC_CHARS.fullmatch(value):
            raise ValueError(
                f"{value[:120]!r} must be at most 100 of A-Z, a-z, 0-9, '.', '_' and '-' "
                "(it starts every topic name)"
            )
        return value

    @field_validator("store")
    @classmethod
    def _store(cls, value: str) -> str:
        scheme, sep, _ = value.partition("://")
        if not sep or scheme not in STORES:
            raise ValueError(
                f"{value!r} is not a table store: use " + ", ".join(f"{s}://" for s in STORES)
            )
        return value

    @field_validator("web_bind", "web_host", "webhook_bind")
    @classmethod
    def _host(cls, value: str) -> str:
        if not _is_host(value):
            raise ValueError(f"{value!r} is not a host name or IP address")
        return value

    @field_validator("canonical_url", "telegram_api_base", "telegram_public_url", "api_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return _check_http_url(value)

    @field_validator("session_timeout_s")
    @classmethod
    def _session_timeout(cls, value: float) -> float:
        if value > MAX_SESSION_TIMEOUT_S:
            raise ValueError(
                f"{value:g} is more than {MAX_SESSION_TIMEOUT_S:g}, faust's broker request "
                "timeout, which it must not exceed"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.strip().lower() not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not a log level: use one of {', '.join(LOG_LEVELS)}")
        return value

    @property
    def faust_log_level(self) -> str:
        """PROBEWATCH_LOG_LEVEL as faust's `--loglevel` spells it."""
        return LOG_LEVELS[self.log_level.strip().lower()]

    @property
    def bootstrap_urls(self) -> list[str]:
        """The bootstrap servers as the `kafka://` URLs faust wants."""
        hosts = [h.strip() for h in self.kafka_bootstrap_servers.split(",") if h.strip()]
        return [h if "://" in h else f"kafka://{h}" for h in hosts]

    @property
    def app_id(self) -> str:
        """The faust app id: consumer group and changelog topic prefix."""
        return f"{self.topic_prefix}probewatch"

    @property
    def worker_data_dir(self) -> Path:
        """This worker's own state folder, per deployment and per worker.

        RocksDB refuses two workers on one folder (faust#98), and a store left by another topic
        prefix would not match its changelogs.
        """
        return self.data_dir / self.app_id / f"worker-{self.web_port}"

    @property
    def worker_url(self) -> str:
        """Where other workers reach this one when they route a query to it."""
        return self.canonical_url or f"http://{self.web_host}:{self.web_port}"

    @property
    def local_api_url(self) -> str:
        """The HTTP API the bot calls: this worker's own, which routes to the key's owner."""
        return self.api_base_url or f"http://127.0.0.1:{self.web_port}"

    def topic(self, name: str) -> str:
        """A topic name with this deployment's prefix."""
        return f"{self.topic_prefix}{name}"


_chosen: Settings | None = None


def use_settings(settings: Settings | None) -> None:
    """Make `settings` the process's own: the command line does, with its options applied,
    before anything reads them. None forgets the choice (tests)."""
    global _chosen
    _chosen = settings


def get_settings() -> Settings:
    """The process-wide settings: those the command line chose, else read from the environment."""
    global _chosen
    if _chosen is None:
        _chosen = Settings()
    return _chosen


class SettingError(ValueError):
    """A setting a worker cannot run with: which variable, and why, never echoing a secret.

    `why` is either a predicate ("is required in webhook mode") or a clause of its own
    ("'verbose' is not a log level"); `str()` joins it to the name as a sentence, `line()` as the
    one line `probewatch` prints before it exits with EXIT_BAD_SETTING.
    """

    def __init__(self, setting: str, why: str) -> None:
        self.setting = setting
        self.why = why
        joiner = " " if why[:1].islower() else ": "
        super().__init__(f"{setting}{joiner}{why}")

    def line(self) -> str:
        return f"probewatch: error: {self.setting}: {self.why}"


def env_name(field: str) -> str:
    """The environment variable of a Settings field (`web_port` → `PROBEWATCH_WEB_PORT`)."""
    return f"{Settings.model_config.get('env_prefix', '')}{field}".upper()
