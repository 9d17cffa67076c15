"""Every knob of a probewatch worker, read once from `PROBEWATCH_*` variables or a `.env` file.

Only this module reads the environment; everything else is handed a `Settings`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

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
    max_ssids_per_device: int = Field(default=1000, ge=1)
    timezone: str = "UTC"
    log_level: str = "info"
    telegram_token: SecretStr | None = None

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

    def topic(self, name: str) -> str:
        """A topic name with this deployment's prefix."""
        return f"{self.topic_prefix}{name}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
