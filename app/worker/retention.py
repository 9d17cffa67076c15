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
from typing import Any

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
#: A device whose erasure was sent is not sent again for this long: the fold may not have
#: applied it by the next sweep (it is still listed then), and sending it again is only work.
RESEND_AFTER_S = 300.0
#: MAC → when its erasure was sent.
_sent: dict[str, float] = {}


async def sweep(days: float, now: float | None = None) -> int:
    """Send an erasure for each owned device unheard for `days`; how many were sent."""
    clock = time.monotonic()
    cutoff = (time.time() if now is None else now) - days * 86_400
    if recovering(app):
        return 0
    for mac, at in list(_sent.items()):
        if clock - at > RESEND_AFTER_S:
            del _sent[mac]
    owned = owned_devices_partitions()
    # aiokafka's producer, as the write-behind flush uses it: faust's `Topic.send` costs ~1 ms a
    # record here, which made a sweep of 20,000 devices take 17 s.
    client: Any = app.producer._ensure_producer()  # type: ignore[attr-defined]
    topic = probes_topic.get_topic_name()
    deliveries: list[asyncio.Future[Any]] = []
    params = {"sort": "last_seen", "order": "asc", "until": str(cutoff), "limit": str(PAGE)}
    sent = 0
    while True:
        try:
            page = device_index.query(parse_query(params), owned)
        except (NotReady, ListingError) as why:
            logger.info("retention sweep postponed: %s", why)
            return sent
        for item in page.items:
            if item["mac"] in _sent:
                continue
            key, value = erasure_record(item["mac"], "retention", unseen_since=cutoff)
            deliveries.append(await client.send(topic, value, key=key))
            _sent[item["mac"]] = clock
            sent += 1
        if page.next_cursor is None:
            break
        params["cursor"] = page.next_cursor
        await asyncio.sleep(PAUSE_S)
    await asyncio.gather(*deliveries)
    if sent:
        counters.incr("retention.erasures_sent", sent)
        logger.info(
            "retention: %d devices unheard for %g days are being erased (sent in %.1f s)",
            sent,
            days,
            time.monotonic() - clock,
        )
    return sent


if settings.retention_days is not None:
    days = settings.retention_days

    @app.timer(interval=settings.retention_sweep_s)  # type: ignore[untyped-decorator]
    async def forget_unheard_devices() -> None:
        """The sweep, on every worker, for the partitions it owns."""
        await sweep(days)
