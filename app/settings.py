"""Every knob of a probewatch worker, read once from `PROBEWATCH_*` variables or a `.env` file.

Only this module reads the environment; everything else is handed a `Settings`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    partitions: int = Field(default=8, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    standby_replicas: int = Field(default=1, ge=0)
    #: How long a silent worker keeps its partitions before the others take them over.
    session_timeout_s: float = Field(default=10.0, ge=6.0)
    #: How often a worker commits the input offsets it processed (faust's default). A crash
    #: re-delivers at most this much; rows and once-only effects skip what they already hold.
    commit_interval_s: float = Field(default=2.8, gt=0, le=3600)
    max_ssids_per_device: int = Field(default=1000, ge=1)
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
    #: Source networks allowed to post to the webhook; empty = any (the secret is always checked).
    telegram_allowed_networks: str = ""
    #: Reverse proxies (networks) whose X-Forwarded-For names the real client; empty = trust none.
    telegram_trusted_proxies: str = ""
    telegram_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    #: Where this worker's bot asks device queries; any worker routes them to the owner.
    api_base_url: str | None = None

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
