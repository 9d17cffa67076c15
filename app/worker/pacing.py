"""Long work on the event loop, handed back every few milliseconds.

A worker's HTTP server shares the event loop with the folds and the flushes; a read waits for
whatever holds the loop. A loop that calls `pace()` as it goes hands the loop over once it has
held it for `slice_s`, so no answer waits behind more than one slice of it.
"""

from __future__ import annotations

import asyncio
import time

#: How long a task may hold the event loop before it lets others run.
SLICE_S = 0.005


class Pacer:
    """One per task: the time since that task last let others run."""

    __slots__ = ("_since", "slice_s")

    def __init__(self, slice_s: float = SLICE_S) -> None:
        self.slice_s = slice_s
        self._since = time.perf_counter()

    async def pace(self) -> None:
        """Let other tasks run if this one held the loop for a slice."""
        now = time.perf_counter()
        if now - self._since >= self.slice_s:
            await asyncio.sleep(0)
            self._since = time.perf_counter()
