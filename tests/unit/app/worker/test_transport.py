"""The worker's Kafka consumer: faust's, with a short fetch wait."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import aiokafka
import faust
from faust.types import TP

from app.main import app
from app.worker import lists
from app.worker.transport import FETCH_MAX_WAIT_MS, _ConsumerThread


async def test_the_worker_consumer_waits_a_tenth_of_a_second_for_new_records_not_faust_s_1_5() -> (
    None
):
    thread = app.consumer._thread
    assert isinstance(thread, _ConsumerThread)
    consumer = thread._create_worker_consumer(app.transport)
    try:
        assert consumer._fetch_max_wait_ms == FETCH_MAX_WAIT_MS == 100
    finally:
        await consumer._client.close()


def test_aiokafka_still_hands_the_fetch_wait_to_its_fetcher_when_the_consumer_starts() -> None:
    """The setting is made on the consumer after faust created it; an aiokafka that reads it
    elsewhere (or under another name) would leave faust's 1.5 s in place unnoticed."""
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in inspect.getsource(
        aiokafka.AIOKafkaConsumer.start
    )


async def test_a_task_at_start_begins_with_the_app_not_once_its_tables_are_read_back(
    monkeypatch: Any,
) -> None:
    """faust begins `app.task`s after recovery; the API tokens' mirror must not wait for it (a
    request waits for the tokens: a worker reading a million rows back answered nothing for
    10 s)."""
    assert lists.start_mirrors in app._tasks_at_start
    assert lists.start_mirrors not in app._app_tasks
    began = asyncio.Event()

    async def mark() -> None:
        began.set()

    async def faust_start(self: Any) -> None:
        """faust's own start, which needs a broker; ours is what is tested."""

    monkeypatch.setattr(app, "_loop", asyncio.get_running_loop())
    monkeypatch.setattr(app, "_tasks_at_start", [mark])
    monkeypatch.setattr(faust.App, "on_start", faust_start)
    await app.on_start()
    await asyncio.wait_for(began.wait(), 5)


async def test_a_gap_in_a_topic_whose_folds_read_back_is_not_acknowledged_ahead_of_them(
    monkeypatch: Any,
) -> None:
    """faust marks a gap (and the record after it) acknowledged when the record comes; for the
    folded topics that would let a commit pass records no fold has seen."""
    consumer = app.consumer
    folded, mirrored = TP("pw-test-probes", 0), TP("pw-test-names", 0)
    monkeypatch.setattr(app, "gaps_read_back", {folded.topic})
    consumer._gap.pop(folded, None)
    consumer._gap.pop(mirrored, None)

    await consumer._add_gap(folded, 178, 179)
    await consumer._add_gap(mirrored, 178, 179)

    assert not consumer._gap[folded]
    assert sorted((i.begin, i.end) for i in consumer._gap[mirrored]) == [(178, 180)]
    await consumer.acknowledge_gap(folded, 178, 178)
    assert sorted((i.begin, i.end) for i in consumer._gap[folded]) == [(178, 179)], (
        "a record gone for good is acknowledged by the fold, itself only"
    )
