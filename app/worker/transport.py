"""faust's Kafka transport, with three changes: after a rebalance, every partition a stream
reads is sought to where it must be read from, even one that has no committed offset yet; a gap
in a topic whose folds read skipped records back is not acknowledged ahead of them; and a
record is handed to its stream without four asyncio tasks when nothing makes it wait.

faust drops records it has fetched when the group's generation changes mid-batch (and those of
a partition paused meanwhile), and counts on the seek to the committed offsets that ends every
rebalance to read them again. aiokafka's `seek_to_committed` seeks only where an offset above 0
was committed: a partition nobody has committed yet (a fresh topic, or a commit interval longer
than the worker has run) kept the position the dropped batch left, past records that never
reached the fold — lost probes, seen as skips by `app.worker.offset_guard`. Here such a
partition is sought to the next record its fold is due (`App.resume_at`: the fold held the
partition before the rebalance and made what it folded durable when it was revoked), or, for a
partition new to this worker, to its beginning, as `consumer_auto_offset_reset="earliest"`
would have read it; records read again are no-ops, each row knowing the offset it applied last.

Changelog partitions are left alone: faust positions those itself (recovery, standbys). Where
each partition was sought goes to `App.sought`, so the folds know the first record due.

When a record comes after a gap, faust marks the gap's offsets acknowledged, and the record's
own offset with them (`Consumer._add_gap`), so a commit may pass records nobody folded: meant
for compacted and transactional topics, whose offsets have holes. The topics folded here have
none; their folds read what faust skipped back from Kafka and acknowledge it once folded
(`app.worker.offset_guard`). For those (`App.gaps_read_back`) the gap is left alone.

faust's drain hands each fetched record over with `wait_first(callback(message),
suspend_flow.wait())`, so that a rebalance can abandon a hand-over stuck on a full buffer. That
makes four tasks per record (the two, and the consumer's stopped and crashed events) and three
cancellations: with one probe per record, more of the event loop's time than the fold's. Here
the callback is first run on the spot; almost always it puts the record into the buffer and is
done, and nothing else was needed (the loop is then handed back for a turn, so that the folds
keep up, `HAND_OVER_TURNS`). Only when it has to wait is the rest of it made a task and
raced against the suspension, exactly as faust does.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping, Set
from typing import Any, cast

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from mode.services import WaitArgT, WaitResults
from mode.utils.times import Seconds

#: The next offset a fold is due on a partition (topic, partition), when it folded it before.
ResumeAt = Callable[[str, int], int | None]
#: Told where partitions were sought to (those with a known offset).
Sought = Callable[[Mapping[TP, int]], None]


async def seek_to_committed(
    consumer: aiokafka.AIOKafkaConsumer,
    changelog_topics: Set[str],
    resume_at: ResumeAt | None = None,
    sought: Sought | None = None,
) -> Mapping[TP, int]:
    """Seek every assigned partition to its committed offset; one with none (or 0) that is not
    a changelog to where its fold resumes, else to its beginning. The committed offsets, as
    aiokafka gives them; the offsets sought to (but the beginnings) go to `sought`."""
    committed: Mapping[TP, int] = await consumer.seek_to_committed()
    beginning = []
    positions: dict[TP, int] = {}
    for tp, at in committed.items():
        if tp.topic in changelog_topics:
            continue
        if at:
            positions[TP(tp.topic, tp.partition)] = at
            continue
        due = None if resume_at is None else resume_at(tp.topic, tp.partition)
        if due is None:
            beginning.append(tp)
        else:
            consumer.seek(tp, due)
            positions[TP(tp.topic, tp.partition)] = due
    if beginning:
        await consumer.seek_to_beginning(*beginning)
    if sought is not None:
        sought(positions)
    return committed


#: How long the broker may hold a fetch when nothing new is there. faust asks for 1.5 s, and a
#: broker answers one request of a connection at a time: each offset look-up of a rebalance
#: (high-waters, earliest offsets, the seek to committed offsets) waited behind that poll, 4.5 s
#: of every start and rebalance before the folds read anything. A fetch returns as soon as a
#: record is there whatever this is, so a shorter wait costs only idle polls (10 a second).
FETCH_MAX_WAIT_MS = 100


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka hands this to its fetcher when the consumer starts (pinned by a unit test).
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer

    async def seek_to_committed(self) -> Mapping[TP, int]:
        consumer = self._ensure_consumer()
        changelogs = self.app.tables.changelog_topics
        resume_at = getattr(self.app, "resume_at", None)
        positions: dict[TP, int] = {}
        committed: Mapping[TP, int] = await self.call_thread(
            seek_to_committed, consumer, changelogs, resume_at, positions.update
        )
        sought = getattr(self.app, "sought", None)
        if sought is not None:
            sought(positions)
        return committed


@types.coroutine
def _go_on(coro: Coroutine[Any, Any, Any], waiting_on: Any) -> Generator[Any, Any, Any]:
    """Resume `coro`, stepped once by hand and now waiting on `waiting_on`, as if it had been
    awaited from the start (what it is sent or thrown goes to it; its result is this one's)."""
    while True:
        try:
            received = yield waiting_on
        except BaseException as error:  # what a Task throws in, cancellation included
            try:
                waiting_on = coro.throw(error)
            except StopIteration as done:
                return done.value
        else:
            try:
                waiting_on = coro.send(received)
            except StopIteration as done:
                return done.value


async def _rest_of(coro: Coroutine[Any, Any, Any], waiting_on: Any) -> Any:
    return await _go_on(coro, waiting_on)


def _is_wait_of(coro: WaitArgT, event: asyncio.Event) -> bool:
    """Whether `coro` is `event.wait()`, not started."""
    frame = getattr(coro, "cr_frame", None)
    return (
        getattr(coro, "cr_code", None) is _EVENT_WAIT
        and frame is not None
        and frame.f_locals.get("self") is event
    )


_EVENT_WAIT = asyncio.Event.wait.__code__
#: Turns of the event loop a record's hand-over gives the folds, as faust's tasks did. Handed
#: over with none, records fill the buffers far ahead of the folds and ingest falls (one worker,
#: 20k MACs, everything on: packed 26-27k probes/s, one record per probe 6.8k, against 33-35k
#: and 7.6k with three turns). Each turn is a pass through the event loop with its `select`:
#: one turn measured no worse than three for packed records (median 28.5k against 26.3k probes/s
#: in five interleaved pairs, the machine's spread ±5k) and better for one probe per record
#: (7.3k against 6.7k, every one of seven pairs).
HAND_OVER_TURNS = 1


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def wait_first(self, *coros: WaitArgT, timeout: Seconds | None = None) -> WaitResults:
        """mode's `wait_first`; but for the drain's hand-over of a record (module docstring),
        the callback runs on the spot, and is raced against the suspension only if it waits."""
        if (
            len(coros) != 2
            or self.suspend_flow.is_set()
            or self._stopped.is_set()
            or self._crashed.is_set()
            or not _is_wait_of(coros[1], self.suspend_flow)
            or not asyncio.iscoroutine(coros[0])
        ):
            return await super().wait_first(*coros, timeout=timeout)  # type: ignore[arg-type]
        callback = coros[0]
        suspended = cast("Coroutine[Any, Any, Any]", coros[1])
        try:
            waiting_on = callback.send(None)
        except StopIteration as done:
            suspended.close()
            for _ in range(HAND_OVER_TURNS):
                await asyncio.sleep(0)
            return WaitResults([callback], [done.value], False)
        except BaseException:
            suspended.close()
            raise
        rest = asyncio.ensure_future(_rest_of(callback, waiting_on))
        return await super().wait_first(rest, suspended, timeout=timeout)  # type: ignore[arg-type]

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        if tp.topic in getattr(self.app, "gaps_read_back", ()):
            return
        await super()._add_gap(tp, offset_from, offset_to)

    async def acknowledge_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Acknowledge records `offset_from..offset_to` that will never be folded (gone)."""
        await super()._add_gap(tp, offset_from, offset_to)


class Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class App(faust.App):
    """faust.App on this transport (faust picks a transport by the broker URL's scheme only),
    with tasks that begin as it starts (`task_at_start`)."""

    #: Where the folds resume a partition they held (set by `app.tables.staged`).
    resume_at: ResumeAt | None = None
    #: Told where partitions were sought at a rebalance (set by `app.tables.staged`).
    sought: Sought | None = None
    #: Topics whose folds read skipped records back: no gap acknowledged ahead of them.
    gaps_read_back: set[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gaps_read_back = set()
        self._tasks_at_start: list[Callable[[], Awaitable[None]]] = []

    def task_at_start(self, fun: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """Like `app.task`, but begun as the app starts, while its tables are still being read
        back: faust begins `app.task`s only once recovery is over, and what the web server
        needs to answer at all (the API tokens) must not wait for a million rows."""
        self._tasks_at_start.append(fun)
        return fun

    async def on_start(self) -> None:
        await super().on_start()
        for fun in self._tasks_at_start:
            self.add_future(fun())

    def _new_transport(self) -> Transport:
        return Transport(self.conf.broker_consumer, self)
