"""Push streams: the fan-out (app/worker/fanout.py) and the Server-Sent Events route.

The Kafka consumer is a fake, the HTTP server and client are real aiohttp: a slow client loses
events and is told how many, a silent one gets keep-alives, and one that goes away leaves no
subscriber and, once it was the last, no consumer behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, ClassVar

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiokafka import TopicPartition

from app.web import streams
from app.worker import fanout as live
from app.worker.counters import counters
from app.worker.fanout import Subscriber, TopicFanout

MAC = "f0:18:98:00:00:01"
OTHER = "f0:18:98:00:00:02"
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=30)


class FakeConsumer:
    """An AIOKafkaConsumer that hands out what the test feeds it, one message per fetch."""

    instances: ClassVar[list[FakeConsumer]] = []

    def __init__(self, topic: str, **options: Any) -> None:
        self.topic = topic
        self.options = options
        self.started = self.stopped = False
        self.fed: asyncio.Queue[bytes | None] = asyncio.Queue()
        type(self).instances.append(self)

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(self.topic, 0)}

    async def position(self, tp: TopicPartition) -> int:
        return 0

    async def getmany(self, timeout_ms: int) -> dict[TopicPartition, list[Any]]:
        try:
            value = await asyncio.wait_for(self.fed.get(), timeout_ms / 1000)
        except TimeoutError:
            return {}
        return {TopicPartition(self.topic, 0): [SimpleNamespace(value=value)]}


@pytest.fixture()
def fanout(monkeypatch: pytest.MonkeyPatch) -> TopicFanout:
    FakeConsumer.instances = []
    monkeypatch.setattr(live, "AIOKafkaConsumer", FakeConsumer)
    counters.counts.clear()
    return TopicFanout("probes", "unit.probes", "localhost:9092", queue_size=10)


def probe(n: int, mac: str = MAC) -> dict[str, Any]:
    return {"ts": 1_700_000_000.0 + n, "mac": mac, "ssid": f"net{n}"}


def feed(fanout: TopicFanout, *values: bytes | None) -> None:
    [consumer] = FakeConsumer.instances
    for value in values:
        consumer.fed.put_nowait(value)


async def wait_until(condition: Any, what: str, timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"not within {timeout} s: {what}") from None


async def test_one_consumer_runs_only_while_somebody_listens(fanout: TopicFanout) -> None:
    mine = await fanout.subscribe(lambda e: e["mac"] == MAC)
    everything = await fanout.subscribe(lambda e: True)
    [consumer] = FakeConsumer.instances
    assert consumer.started and consumer.options["group_id"] is None
    assert consumer.options["auto_offset_reset"] == "latest"

    feed(fanout, orjson.dumps(probe(1)), orjson.dumps(probe(2, OTHER)), b"not json", None)
    await wait_until(lambda: everything.queue.qsize() == 2, "both good events fanned out")
    assert [mine.queue.get_nowait()["ssid"]] == ["net1"]
    assert counters.counts["stream.probes.undecodable"] == 2

    await fanout.unsubscribe(mine)
    assert not consumer.stopped, "another client still listens"
    await fanout.unsubscribe(everything)
    assert consumer.stopped and fanout.subscribers == set() and fanout._task is None


async def test_a_client_that_cannot_keep_up_loses_events_and_slows_nobody(
    fanout: TopicFanout,
) -> None:
    slow = await fanout.subscribe(lambda e: True)
    fast = await fanout.subscribe(lambda e: True)
    received: list[dict[str, Any]] = []

    async def read_fast() -> None:
        while True:
            received.append(await fast.queue.get())

    reader = asyncio.ensure_future(read_fast())
    try:
        feed(fanout, *(orjson.dumps(probe(n)) for n in range(25)))
        await wait_until(lambda: len(received) == 25, "the fast client got every event")
    finally:
        reader.cancel()
    assert slow.queue.qsize() == 10 and slow.dropped == 15
    assert [slow.queue.get_nowait()["ssid"] for _ in range(10)] == [f"net{n}" for n in range(10)]
    await fanout.unsubscribe(slow)
    await fanout.unsubscribe(fast)


class FakeFanout:
    """What serve_events needs of a TopicFanout, with the subscribers in the test's hands."""

    def __init__(self, queue_size: int = 10) -> None:
        self.queue_size = queue_size
        self.subscribers: list[Subscriber] = []
        self.gone: list[Subscriber] = []
        self.subscribed = asyncio.Event()

    async def subscribe(self, wants: Any) -> Subscriber:
        subscriber = Subscriber(wants, asyncio.Queue(self.queue_size))
        self.subscribers.append(subscriber)
        self.subscribed.set()
        return subscriber

    async def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.remove(subscriber)
        self.gone.append(subscriber)


@pytest.fixture()
async def server() -> AsyncIterator[tuple[TestServer, FakeFanout]]:
    fake = FakeFanout()

    async def handler(request: web.Request) -> web.StreamResponse:
        return await streams.serve_events(request, fake)  # type: ignore[arg-type]

    application = web.Application()
    application.router.add_get("/stream", handler)
    async with TestServer(application) as running:
        yield running, fake


async def sse_lines(response: aiohttp.ClientResponse) -> AsyncIterator[str]:
    async for raw in response.content:
        yield raw.decode().rstrip("\n")


async def test_a_silent_stream_gets_keep_alives(
    server: tuple[TestServer, FakeFanout], monkeypatch: pytest.MonkeyPatch
) -> None:
    running, _fake = server
    monkeypatch.setattr(streams, "KEEPALIVE_S", 0.05)
    async with (
        aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session,
        session.get(running.make_url("/stream")) as got,
    ):
        assert got.status == 200 and got.headers["Content-Type"] == "text/event-stream"
        seen: list[str] = []
        async for line in sse_lines(got):
            seen.append(line)
            if seen.count(": keep-alive") == 2:
                break
    assert seen[:2] == [": listening", ""]
    assert set(seen[2:]) == {": keep-alive", ""}, "nothing but comments while nothing happens"


async def test_a_slow_client_is_told_how_many_events_it_lost(
    server: tuple[TestServer, FakeFanout],
) -> None:
    running, fake = server
    url = running.make_url("/stream").with_query(mac=MAC.upper().replace(":", "-"))
    async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session, session.get(url) as got:
        lines = sse_lines(got)
        assert await anext(lines) == ": listening"
        [subscriber] = fake.subscribers
        for n in range(25):  # the server cannot run while the test offers: its queue fills up
            subscriber.offer(probe(n))
            subscriber.offer(probe(n, OTHER))  # not for this client: neither queued nor lost
        assert subscriber.dropped == 15
        data: list[dict[str, Any]] = []
        notices: list[Any] = []
        async for line in lines:
            if line.startswith("event: "):
                notices.append(line)
            elif line.startswith("data: "):
                body = orjson.loads(line.removeprefix("data: "))
                (notices if notices and "dropped" in body else data).append(body)
                if len(data) == 10:  # all it had queued; one more now gets through
                    subscriber.offer(probe(99))
                if body.get("ssid") == "net99":
                    break
    assert notices == ["event: dropped", {"dropped": 15}]
    assert [d["ssid"] for d in data] == [f"net{n}" for n in range(10)] + ["net99"]
    assert all(d["mac"] == MAC for d in data)


async def test_a_client_that_goes_away_is_unsubscribed(
    server: tuple[TestServer, FakeFanout],
) -> None:
    running, fake = server
    async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session:
        async with session.get(running.make_url("/stream")) as got:
            assert (await got.content.readline()).startswith(b": listening")
        [subscriber] = fake.subscribers
    # The next write (an event, or a keep-alive) finds the connection closed.
    subscriber.offer(probe(1))
    await wait_until(lambda: fake.gone == [subscriber], "the vanished client unsubscribed")
    assert fake.subscribers == []


async def test_a_malformed_mac_filter_is_a_400(server: tuple[TestServer, FakeFanout]) -> None:
    running, fake = server
    url = running.make_url("/stream").with_query(mac="not-a-mac")
    async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session, session.get(url) as got:
        assert got.status == 400 and "error" in await got.json()
    assert fake.subscribers == [] and fake.gone == []
