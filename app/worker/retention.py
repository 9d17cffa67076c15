"""Retention: every worker forgets the devices of its partitions unheard for too long.

Every PROBEWATCH_RETENTION_SWEEP_S, the listing index (`app.worker.device_index`, which holds
this worker's devices in last-seen order) gives the devices last heard (capture time) before
`now - PROBEWATCH_RETENTION_DAYS`; each gets an erasure record (`app.logic.erasure`) with that
cutoff, which the fold applies like any erasure — unless the device was heard since. A device's
row, history, name and SSID-index shares go, in every changelog; the lake keeps its own
retention, by day (`app.lake.retention`).
"""

from __future__ import annotations

import asyncio
import logging
import time

from app.logic.erasure import erasure_record
from app.logic.listing import ListingError, parse_query
from app.main import app, settings
from app.tables.listing import device_index, owned_devices_partitions
from app.topics import probes_topic
from app.web.routing import recovering
from app.worker.counters import counters
from app.worker.device_index import NotReady

logger = logging.getLogger(__name__)

#: Devices erased per page of the index, and the pause between pages (the fold must keep up).
PAGE = 500
PAUSE_S = 0.05


async def sweep(days: float, now: float | None = None) -> int:
    """Send an erasure for each owned device unheard for `days`; how many were sent."""
    cutoff = (time.time() if now is None else now) - days * 86_400
    if recovering(app):
        return 0
    owned = owned_devices_partitions()
    params = {"sort": "last_seen", "order": "asc", "until": str(cutoff), "limit": str(PAGE)}
    sent = 0
    while True:
        try:
            page = device_index.query(parse_query(params), owned)
        except (NotReady, ListingError) as why:
            logger.info("retention sweep postponed: %s", why)
            return sent
        for item in page.items:
            key, value = erasure_record(item["mac"], "retention", unseen_since=cutoff)
            await probes_topic.send(key=key, value=value)
            sent += 1
        if page.next_cursor is None:
            break
        params["cursor"] = page.next_cursor
        await asyncio.sleep(PAUSE_S)
    if sent:
        counters.incr("retention.erasures_sent", sent)
        logger.info("retention: %d devices unheard for %g days are being erased", sent, days)
    return sent


if settings.retention_days is not None:
    days = settings.retention_days

    @app.timer(interval=settings.retention_sweep_s)  # type: ignore[untyped-decorator]
    async def forget_unheard_devices() -> None:
        """The sweep, on every worker, for the partitions it owns."""
        await sweep(days)
