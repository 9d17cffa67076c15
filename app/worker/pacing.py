"""Long work on the event loop, handed back every few milliseconds, reads first.

A worker's HTTP server shares the event loop with the folds and the flushes; a read waits for
whatever holds the loop. A loop that calls `pace()` as it goes hands the loop over once it has
held it for `slice_s`, so no answer waits behind more than one slice of it.

While requests are being answered, the hand-over waits for them (at most `READS_FIRST_S`)
instead of taking the loop back at the next turn: a request needs several turns of the loop
(its bytes read, the view, a forward to the owner and its answer, the response written), and
with a fold's slice between every two of them a read took tens of slices. Measured while two
workers ingested 600k probes and one answered 1,000 GETs a second (five runs each): p50 1,073
→ 815 ms, p99 1,637 → 1,271 ms, and the folds got further meanwhile (10.6k → 13.3k probes/s):
a fold that waits leaves the cores to the other worker and the broker.
"""

from __future__ import annotations

import asyncio
import time

#: How long a task may hold the event loop before it lets others run.
SLICE_S = 0.005
#: How long a hand-over waits for the requests being answered before the task goes on: ingest
#: never stops for longer than this at a time, however many requests keep coming.
READS_FIRST_S = 0.02


class Answering:
    """The HTTP requests this worker is answering: counted from their arrival until their
    answer's headers are sent, so an event stream that stays open counts only until it starts."""

    def __init__(self) -> None:
        self.count = 0
        self._waiting: set[asyncio.Future[None]] = set()

    def begin(self) -> None:
        self.count += 1

    def end(self) -> None:
        self.count -= 1
        if self.count == 0:
            for waiter in self._waiting:
                if not waiter.done():
                    waiter.set_result(None)
            self._waiting.clear()

    async def wait_for_none(self, at_most: float) -> None:
        """Until no request is being answered, or `at_most` seconds."""
        if self.count == 0:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.add(waiter)
        try:
            await asyncio.wait_for(waiter, at_most)
        except TimeoutError:
            pass
        finally:
            self._waiting.discard(waiter)


#: This worker's requests (`app.web.server` counts them).
answering = Answering()


class Pacer:
    """One per task: the time since that task last let others run."""

    __slots__ = ("_since", "reads_first_s", "slice_s")

    def __init__(self, slice_s: float = SLICE_S, reads_first_s: float = READS_FIRST_S) -> None:
        self.slice_s = slice_s
        self.reads_first_s = reads_first_s
        self._since = time.perf_counter()

    async def pace(self) -> None:
        """Let other tasks run if this one held the loop for a slice; requests being answered
        first, for up to `reads_first_s`."""
        now = time.perf_counter()
        if now - self._since >= self.slice_s:
            if answering.count and self.reads_first_s > 0:
                await answering.wait_for_none(self.reads_first_s)
            else:
                await asyncio.sleep(0)
            self._since = time.perf_counter()
