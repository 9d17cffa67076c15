"""The lake archiver of this worker (`app.lake.archiver`), started and stopped with it, unless
`PROBEWATCH_LAKE` is empty; with grouping on it keeps `group-members` too (the MACs' joins).
Probes are flattened with the name each device has when they are archived (from a mirror of
`device-names`) and kept in the partition the fold counts them in (`app.lake.zones`); the
flattening and writing happen in a process of its own (`app.lake.writer`), off the worker's
GIL."""

from __future__ import annotations

from typing import Any

from mode import Service

from app.lake.archiver import Archiver
from app.lake.compactor import Compactor
from app.lake.retention import LakeRetention
from app.lake.storage import Lake
from app.lake.writer import ProcessWriter, WriterSpec
from app.lake.zones import lake_zones
from app.logic.mac import normalize_mac
from app.logic.names import decode_name_value
from app.main import app, settings
from app.worker.topic_mirror import TopicMirror

#: MAC → name, every device's (names are few; every worker's archiver may need any of them).
names = TopicMirror[str](
    "lake-names", settings.topic("device-names"), decode_name_value, normalize_mac
)


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
    writer_spec = WriterSpec(
        settings.lake,
        settings.topic("probes"),
        settings.topic("telegram-updates"),
        settings.partitions,
        members_topic=settings.topic("group-members") if settings.grouping else None,
        crash_after_enriched=settings.test_crash_at == "lake-enriched-written",
    )
    archiver = Archiver(
        lake,
        lake_zones(
            writer_spec.probes_topic,
            writer_spec.updates_topic,
            writer_spec.partitions,
            names.get,
            writer_spec.members_topic,
        ),
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
        writer=ProcessWriter(writer_spec, lambda: dict(names.items())),
    )
    lake_service = LakeService(archiver)

    @app.task  # type: ignore[untyped-decorator]
    async def start_lake() -> None:
        """Archive with the worker (and stop with it)."""
        await app.add_runtime_dependency(lake_service)
