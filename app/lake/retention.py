"""The lake's retention, by day: a zone's day folders older than its setting are deleted.

Raw folders go by the day their records were received (`context_date`), enriched ones by the
day of their events (`day`). Each day is deleted by the worker that compacts it (the owner of the
`probes` partition its name hashes to, `app.lake.compactor.owner_partition`), in the same round,
between the archiver's polls. Deleting is idempotent, so a rebalance in between costs nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from app.lake.compactor import owner_partition
from app.lake.storage import Lake
from app.logic.lake.layout import TABLES, ZONES
from app.worker.counters import counters

logger = logging.getLogger(__name__)


def cutoff_day(days: float, now: datetime | None = None) -> str:
    """The first day kept: folders of earlier days are expired."""
    moment = (now or datetime.now(UTC)) - timedelta(days=days)
    return moment.strftime("%Y-%m-%d")


class LakeRetention:
    def __init__(
        self, lake: Lake, partitions: int, raw_days: float | None, enriched_days: float | None
    ) -> None:
        self.lake = lake
        self.partitions = partitions
        self.raw_days = raw_days
        self.enriched_days = enriched_days

    def expire(self, owned: set[int], now: datetime | None = None) -> int:
        """Delete the expired day folders this worker owns; how many."""
        folders = []
        if self.raw_days is not None:
            first = cutoff_day(self.raw_days, now)
            for zone in ZONES.values():
                folders += self._expired(f"raw/{zone}/context_date=*", first, owned)
        if self.enriched_days is not None:
            first = cutoff_day(self.enriched_days, now)
            for table in TABLES:
                folders += self._expired(f"enriched/{table}/day=*", first, owned)
        for folder in folders:
            self.lake.fs.rm(self.lake.full(folder), recursive=True)
        if folders:
            counters.incr("lake.expired_days", len(folders))
            logger.info("lake: deleted %d day folders past their retention", len(folders))
        return len(folders)

    def _expired(self, pattern: str, first: str, owned: set[int]) -> list[str]:
        expired = []
        for folder in self.lake.glob(pattern):
            day = folder.rsplit("=", 1)[-1]
            if day < first and owner_partition(day, self.partitions) in owned:
                expired.append(folder)
        return expired
