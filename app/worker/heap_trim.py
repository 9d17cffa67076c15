"""Freed heap given back to the system while probes are being folded.

A flush encodes, sends and stores its rows, and frees them; the fetched records, the decoded
probes and the re-keyed records of a burst go the same way. glibc keeps what was freed for
later, in holes among what is still in use, so a worker's resident memory stayed at its peak:
~730 MB after 200k probes over 20k devices on one worker, 440 to 640 MB once trimmed. While
flushes go on, the heap is trimmed every `TRIM_EVERY_S`, in a thread (the event loop runs on
meanwhile).
"""

from __future__ import annotations

import asyncio
import logging
import time

from app.main import app
from app.tables.staged import write_behind
from app.worker.counters import counters
from app.worker.malloc import TRIM_EVERY_S, give_freed_memory_back

logger = logging.getLogger(__name__)

#: The write-behind's flush count at the last trim: nothing flushed since, nothing to trim.
_flushes_at_last_trim = [0]


async def trim_if_flushed() -> bool:
    """Trim once per interval in which something was flushed; whether it trimmed."""
    flushes = write_behind.flushes
    if flushes == _flushes_at_last_trim[0]:
        return False
    _flushes_at_last_trim[0] = flushes
    started = time.perf_counter()
    try:
        await asyncio.to_thread(give_freed_memory_back)
    except Exception as err:  # memory kept is no reason to take the worker down
        logger.info("heap trim skipped: %r", err)
        return False
    counters.incr("memory.trims")
    logger.debug("heap trimmed in %.1f ms", 1000 * (time.perf_counter() - started))
    return True


@app.timer(interval=TRIM_EVERY_S)  # type: ignore[untyped-decorator]
async def trim_freed_heap() -> None:
    await trim_if_flushed()
