"""The lake archiver of this worker (`app.lake.archiver`), started and stopped with it, unless
`PROBEWATCH_LAKE` is empty. Probes are flattened with the name each device has when they are
archived (from a mirror of `device-names`) and kept in the partition the fold counts them in."""

from __future__ import annotations

from typing import Any

from aiokafka.partitioner import murmur2
from mode import Service

from app.lake.archiver import Archiver, Zone
from app.lake.compactor import Compactor
from app.lake.retention import LakeRetention
from app.lake.storage import Lake
from app.logic.erasure import (
    InvalidErasure,
    decode_erasure,
    decode_user_erasure,
    looks_like_erasure,
    looks_like_user_erasure,
)
from app.logic.lake.flatten import message_rows, probe_rows
from app.logic.lake.raw import RawRecord
from app.logic.mac import normalize_mac
from app.logic.names import decode_name_value
from app.main import app, settings
from app.worker.topic_mirror import TopicMirror

#: MAC → name, every device's (names are few; every worker's archiver may need any of them).
names = TopicMirror[str](
    "lake-names", settings.topic("device-names"), decode_name_value, normalize_mac
)
_homes: dict[str, int] = {}


def home_of(mac: str) -> int:
    """The partition of `probes` a MAC's rows live in: Kafka's default partitioner's."""
    home = _homes.get(mac)
    if home is None:
        if len(_homes) > 1_000_000:
            _homes.clear()
        home = _homes[mac] = (murmur2(mac.encode()) & 0x7FFFFFFF) % settings.partitions
    return home


def flatten_probes(partition: int, record: RawRecord) -> dict[str, list[dict[str, Any]]] | None:
    rows = probe_rows(record, "probes", partition, home_of, names.get)
    return None if rows is None else {"probes": rows}


def erased_mac(record: RawRecord) -> str | None:
    """The MAC an erasure record on `probes` names (None for a probe, or a bad erasure)."""
    if not looks_like_erasure(record.value):
        return None
    try:
        erasure = decode_erasure(record.value)
    except InvalidErasure:
        return None
    # Retention's erasures leave the lake to its own retention, by day (`app.lake.retention`).
    return erasure.mac if erasure.unseen_since is None else None


def erased_user(record: RawRecord) -> str | None:
    """The Telegram user a user erasure on `telegram-updates` names (None for an update)."""
    if not looks_like_user_erasure(record.value):
        return None
    try:
        return str(decode_user_erasure(record.value))
    except InvalidErasure:
        return None


def flatten_updates(partition: int, record: RawRecord) -> dict[str, list[dict[str, Any]]] | None:
    rows = message_rows(record)
    return None if rows is None else {"messages": rows}


class LakeService(Service):
    """Runs the archiver for as long as the worker runs; a stop writes what it buffered."""

    def __init__(self, archiver: Archiver, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.archiver = archiver

    async def on_start(self) -> None:
        await names.start(settings.kafka_bootstrap_servers)
        await names.wait_ready(timeout=30)
        await self.archiver.start()

    async def on_stop(self) -> None:
        await self.archiver.stop()
        await names.stop()


if settings.lake:
    lake = Lake(settings.lake)
    archiver = Archiver(
        lake,
        [
            Zone(settings.topic("probes"), "probes", flatten_probes, erased_mac),
            Zone(settings.topic("telegram-updates"), "telegram", flatten_updates, erased_user),
        ],
        settings.kafka_bootstrap_servers,
        group_id=f"{settings.app_id}-lake",
        flush_s=settings.lake_flush_s,
        compactor=Compactor(lake, settings.partitions, settings.lake_compact_min_age_s),
        compact_s=settings.lake_compact_s,
        retention=LakeRetention(
            lake,
            settings.partitions,
            settings.lake_raw_retention_days or settings.retention_days,
            settings.lake_enriched_retention_days or settings.retention_days,
        ),
        crash_after_enriched=settings.test_crash_at == "lake-enriched-written",
    )
    lake_service = LakeService(archiver)

    @app.task  # type: ignore[untyped-decorator]
    async def start_lake() -> None:
        """Archive with the worker (and stop with it)."""
        await app.add_runtime_dependency(lake_service)
