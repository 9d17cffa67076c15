"""The worker's Kafka consumer: faust's, with a short fetch wait."""

from __future__ import annotations

import asyncio
import gc
import inspect
import warnings
from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import AsyncMock

import aiokafka
import faust
import pytest
from faust.transport.consumer import Consumer
from faust.types import TP

from app.main import app
from app.worker import lists
from app.worker.transport import FETCH_MAX_WAIT_MS, _Consumer, _ConsumerThread


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


def test_faust_s_drain_still_hands_each_record_over_as_the_fast_path_expects() -> None:
    """`_Consumer.wait_first` runs the hand-over on the spot only for this exact call; a faust
    that hands records over otherwise gets mode's `wait_first` and the four tasks back."""
    source = "".join(inspect.getsource(Consumer._drain_messages).split())
    assert "awaitself.wait_first(callback(message),self.suspend_flow.wait())" in source


@pytest.fixture()
async def consumer() -> AsyncIterator[_Consumer]:
    """The worker's kind of consumer, made on this test's event loop (each test has its own,
    and the app's consumer's events are bound to the first that used them)."""

    async def no_rebalance(partitions: set[TP]) -> None:
        """Not called: nothing is started."""

    made = _Consumer(
        app.transport,
        callback=AsyncMock(),
        on_partitions_revoked=no_rebalance,
        on_partitions_assigned=no_rebalance,
        loop=asyncio.get_running_loop(),
    )
    yield made
    made._thread.thread_loop.close()  # made with it, never run


async def _hand_over(consumer: _Consumer, callback: Any) -> Any:
    return await consumer.wait_first(callback, consumer.suspend_flow.wait())


async def test_a_hand_over_that_need_not_wait_runs_on_the_spot_without_a_task(
    consumer: _Consumer,
) -> None:
    ran_in: list[asyncio.Task[Any] | None] = []

    async def put() -> str:
        ran_in.append(asyncio.current_task())
        return "put"

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = await _hand_over(consumer, put())
        gc.collect()  # a suspension wait never awaited would warn here
    assert ran_in == [asyncio.current_task()]
    assert (result.results, result.stopped) == (["put"], False)


async def test_a_hand_over_on_the_spot_gives_the_folds_a_turn_before_the_next_record(
    consumer: _Consumer,
) -> None:
    """The fold waiting on the buffer runs before the drain hands over the next record, so the
    buffer does not fill ahead of the folds."""
    order: list[str] = []
    record_in_buffer = asyncio.Event()

    async def fold() -> None:
        await record_in_buffer.wait()
        order.append("folded")

    async def put() -> None:
        order.append("put")
        record_in_buffer.set()

    folding = asyncio.ensure_future(fold())
    await asyncio.sleep(0)  # the fold waits on the buffer
    await _hand_over(consumer, put())
    order.append("next record")
    await folding
    assert order == ["put", "folded", "next record"]


async def test_a_hand_over_that_waits_goes_on_where_it_was_and_returns_its_result(
    consumer: _Consumer,
) -> None:
    room = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def put() -> str:
        steps.append("full")
        got = await room
        await asyncio.sleep(0)
        steps.append(f"put after {got}")
        return "put"

    waiting = asyncio.ensure_future(_hand_over(consumer, put()))
    await asyncio.sleep(0.01)
    assert steps == ["full"] and not waiting.done()
    room.set_result("room")
    result = await asyncio.wait_for(waiting, 1)
    assert steps == ["full", "put after room"]
    assert result.results == ["put"]


async def test_a_hand_over_that_waits_is_abandoned_when_the_flow_is_suspended(
    consumer: _Consumer,
) -> None:
    """What faust's drain counts on at a rebalance: a hand-over stuck on a full buffer ends."""
    never = asyncio.get_running_loop().create_future()
    ended: list[str] = []

    async def put() -> None:
        try:
            await never
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise

    waiting = asyncio.ensure_future(_hand_over(consumer, put()))
    await asyncio.sleep(0.01)
    consumer.suspend_flow.set()
    try:
        await asyncio.wait_for(waiting, 1)
        await asyncio.sleep(0)
    finally:
        consumer.suspend_flow.clear()
    assert ended == ["cancelled"] and never.cancelled()


async def test_a_hand_over_that_fails_raises_before_or_after_waiting(consumer: _Consumer) -> None:

    async def fails_at_once() -> None:
        raise ValueError("bad record")

    async def fails_later() -> None:
        await asyncio.sleep(0)
        raise ValueError("bad record later")

    with pytest.raises(ValueError, match="bad record"):
        await _hand_over(consumer, fails_at_once())
    with pytest.raises(ValueError, match="bad record later"):
        await _hand_over(consumer, fails_later())


async def test_a_hand_over_while_suspended_is_left_to_mode(consumer: _Consumer) -> None:
    """Suspended already: faust's own race (the record is not handed over)."""
    consumer.suspend_flow.set()
    ran: list[bool] = []

    async def put() -> None:
        await asyncio.sleep(0.5)
        ran.append(True)

    try:
        result = await asyncio.wait_for(_hand_over(consumer, put()), 1)
    finally:
        consumer.suspend_flow.clear()
    assert ran == [] and result.results == [True], "the suspension won"
