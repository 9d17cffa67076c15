"""The sniffer's own settings, from PROBEWATCH_* environment variables or a `.env` file.

A sensor host runs only the sniffer, so this must not import app's settings; the variable names
and defaults are the shared ones from DESIGN.md (Configuration).
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sniffer.pseudonym import Pseudonymizer, PseudonymKey, key_from_bytes, key_from_hex

PREFIX = "PROBEWATCH_"
PARTITIONS_RANGE = (1, 10_000)
#: Probes per packed record; the worker accepts up to 10,000 in one.
BATCH_RANGE = (1, 10_000)
# librdkafka's message.timeout.ms is a positive 32-bit number of milliseconds (0 means forever).
DELIVERY_TIMEOUT_RANGE = (0.001, 2_147_483.0)
PSEUDONYMIZE_CHOICES = ("off", "hmac")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})
#: A key file (or a `.env` holding the key) with any of these permission bits is refused.
_OTHERS_MAY = stat.S_IRWXG | stat.S_IRWXO
_KEY_FILE_MAX = 4096


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
    #: `off`, or `hmac`: MACs, fingerprints (and SSIDs) replaced by keyed pseudonyms.
    pseudonymize: str = "off"
    #: The secret of the pseudonyms, when one is configured (never shown: see PseudonymKey).
    pseudonym_key: PseudonymKey | None = field(default=None, repr=False)
    #: Globally administered MACs keep their vendor's OUI (first three octets).
    pseudonym_keep_oui: bool = False
    #: SSIDs are replaced by pseudonyms too.
    pseudonym_ssids: bool = False

    def pseudonymizer(self) -> Pseudonymizer | None:
        """What each probe goes through before it leaves the sensor; None when off."""
        if self.pseudonymize != "hmac" or self.pseudonym_key is None:
            return None
        return self.key_pseudonymizer()

    def key_pseudonymizer(self) -> Pseudonymizer:
        """The pseudonyms the configured key gives, whether or not the sniffer uses them.

        Raises ValueError when no key is configured.
        """
        if self.pseudonym_key is None:
            raise ValueError(
                f"no pseudonym key: set {PREFIX}PSEUDONYM_KEY_FILE (make a key with "
                "`probewatch-sniffer pseudonym-key FILE`)"
            )
        return Pseudonymizer(
            self.pseudonym_key, keep_oui=self.pseudonym_keep_oui, ssids=self.pseudonym_ssids
        )

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
        from_file = dict(values)
        values.update(os.environ if environ is None else environ)

        def get(name: str, default: str) -> str:
            return values.get(PREFIX + name, default)

        sensor = get("SENSOR", "").strip() or socket.gethostname()
        pseudonymize = get("PSEUDONYMIZE", "off").strip().lower() or "off"
        if pseudonymize not in PSEUDONYMIZE_CHOICES:
            raise ValueError(
                f"{PREFIX}PSEUDONYMIZE must be one of {', '.join(PSEUDONYMIZE_CHOICES)}, "
                f"got {pseudonymize[:40]!r}"
            )
        key_file = get("PSEUDONYM_KEY_FILE", "").strip()
        key_text = get("PSEUDONYM_KEY", "")
        if key_file and key_text.strip():
            raise ValueError(
                f"{PREFIX}PSEUDONYM_KEY_FILE and {PREFIX}PSEUDONYM_KEY are both set: set one"
            )
        key: PseudonymKey | None = None
        if key_file:
            key = read_key_file(key_file)
        elif key_text.strip():
            name = PREFIX + "PSEUDONYM_KEY"
            if env_file is not None and from_file.get(name) == key_text:
                _owner_only(Path(env_file), f"{name} is read from {env_file}, so the file")
            try:
                key = key_from_hex(key_text)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        if pseudonymize == "hmac" and key is None:
            raise ValueError(
                f"{PREFIX}PSEUDONYMIZE=hmac needs a key: set {PREFIX}PSEUDONYM_KEY_FILE (make "
                "one with `probewatch-sniffer pseudonym-key FILE`)"
            )
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
            pseudonymize=pseudonymize,
            pseudonym_key=key,
            pseudonym_keep_oui=_bool("PSEUDONYM_KEEP_OUI", get("PSEUDONYM_KEEP_OUI", "false")),
            pseudonym_ssids=_bool("PSEUDONYM_SSIDS", get("PSEUDONYM_SSIDS", "false")),
        )


def read_key_file(path: str | os.PathLike[str]) -> PseudonymKey:
    """The pseudonym key stored in `path`, which only its owner may read.

    Raises ValueError naming the setting and the file (never the key) when the file is missing,
    others may read or write it, or the key in it is too short.
    """
    name = f"{PREFIX}PSEUDONYM_KEY_FILE"
    file = Path(path)
    _owner_only(file, f"{name}: {file}")
    try:
        with file.open("rb") as stream:
            stored = stream.read(_KEY_FILE_MAX + 1)
    except OSError as exc:
        raise ValueError(f"{name}: {file}: cannot read it ({exc.strerror or exc})") from None
    if len(stored) > _KEY_FILE_MAX:
        raise ValueError(f"{name}: {file} is not a key file: over {_KEY_FILE_MAX} bytes")
    try:
        return key_from_bytes(stored)
    except ValueError as exc:
        raise ValueError(
            f"{name}: {file}: {exc} (make a new one with `probewatch-sniffer pseudonym-key FILE`)"
        ) from None


def _owner_only(file: Path, what: str) -> None:
    """ValueError unless `file` is a regular file no one but its owner may read or write."""
    try:
        info = file.stat()
    except FileNotFoundError:
        raise ValueError(f"{what}: no such file") from None
    except OSError as exc:
        raise ValueError(f"{what}: cannot read it ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{what} is not a regular file")
    if info.st_mode & _OTHERS_MAY:
        mode = stat.S_IMODE(info.st_mode)
        raise ValueError(
            f"{what} may be read or written by others (mode {mode:04o}): it holds the pseudonym "
            f"key, so only its owner may (chmod 600 {file})"
        )


def _bool(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{PREFIX}{name} must be true or false, got {text[:40]!r}")


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
