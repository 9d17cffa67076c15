"""The worker's Kafka consumer: faust's, with a short fetch wait."""

from __future__ import annotations

import inspect

import aiokafka

from app.main import app
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
