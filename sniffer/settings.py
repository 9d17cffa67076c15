"""The sniffer's own settings, from PROBEWATCH_* environment variables or a `.env` file.

A sensor host runs only the sniffer, so this must not import app's settings; the variable names
and defaults are the shared ones from DESIGN.md (Configuration).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "PROBEWATCH_"
PARTITIONS_RANGE = (1, 10_000)
#: Probes per packed record; the worker accepts up to 10,000 in one.
BATCH_RANGE = (1, 10_000)
# librdkafka's message.timeout.ms is a positive 32-bit number of milliseconds (0 means forever).
DELIVERY_TIMEOUT_RANGE = (0.001, 2_147_483.0)


@dataclass(frozen=True, slots=True)
class SnifferSettings:
    """Where and how the sniffer produces; every field has a default that works with `make run`."""

    kafka_bootstrap_servers: str = "localhost:9092"
    topic_prefix: str = ""
    partitions: int = 8
    sensor: str = field(default_factory=socket.gethostname)
    delivery_timeout_s: float = 300.0
    #: Probes of one partition packed into one record (1: a record per probe, keyed by MAC).
    batch: int = 500

    @property
    def probes_topic(self) -> str:
        """`{prefix}probes`: the prefix is prepended as is (DESIGN.md)."""
        return f"{self.topic_prefix}probes"

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        env_file: str | os.PathLike[str] | None = ".env",
    ) -> SnifferSettings:
        """Read PROBEWATCH_* variables; the process environment wins over the `.env` file.

        Raises ValueError naming the variable when a value cannot be used.
        """
        values = read_env_file(env_file) if env_file is not None else {}
        values.update(os.environ if environ is None else environ)

        def get(name: str, default: str) -> str:
            return values.get(PREFIX + name, default)

        sensor = get("SENSOR", "").strip() or socket.gethostname()
        return cls(
            kafka_bootstrap_servers=get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092").strip()
            or "localhost:9092",
            topic_prefix=get("TOPIC_PREFIX", ""),
            partitions=_bounded_int("PARTITIONS", get("PARTITIONS", "8"), *PARTITIONS_RANGE),
            sensor=sensor,
            delivery_timeout_s=_bounded_float(
                "SNIFFER_DELIVERY_TIMEOUT_S",
                get("SNIFFER_DELIVERY_TIMEOUT_S", "300"),
                *DELIVERY_TIMEOUT_RANGE,
            ),
            batch=_bounded_int("SNIFFER_BATCH", get("SNIFFER_BATCH", "500"), *BATCH_RANGE),
        )


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """KEY=VALUE lines of a dotenv file (comments, blank lines, `export ` and quotes allowed)."""
    file = Path(path)
    if not file.is_file():
        return {}
    values: dict[str, str] = {}
    for raw in file.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _bounded_int(name: str, text: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{PREFIX}{name} must be a whole number, got {text!r}") from None
    if value < low:
        raise ValueError(f"{PREFIX}{name} must be at least {low}, got {value}")
    if value > high:
        raise ValueError(f"{PREFIX}{name} must be at most {high}, got {value}")
    return value


def _bounded_float(name: str, text: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{PREFIX}{name} must be a number, got {text!r}") from None
    if not low <= value <= high:  # also refuses nan and inf
        raise ValueError(f"{PREFIX}{name} must be between {low:g} and {high:g}, got {text!r}")
    return value
