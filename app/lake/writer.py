"""The archiver's writing, in a process of its own: flattening probes into rows and writing
Parquet is Python work, and in a thread of the worker it held the GIL the folds and the HTTP
API need (measured: a worker ingesting at full speed answered reads in seconds, not
milliseconds, and folded a third slower). The worker keeps reading Kafka and deciding what to
write; one child process, started with the first piece, flattens and writes each partition's
records and says what it counted.

The child is made to outlive neither its worker nor a stop: it ignores the terminal's and the
supervisor's signals (the worker writes its last pieces through it while stopping, then shuts it
down), and it exits when its worker is gone (a `kill -9` leaves no orphan behind). If it dies,
the piece it was writing fails like any failed write: the archiver starts again from the pieces
in the lake, with a new child.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from app.lake.archiver import Zone, write_pieces
from app.lake.eraser import LakeEraser
from app.lake.storage import Lake
from app.lake.zones import lake_zones
from app.logic.lake.raw import RawRecord
from app.worker.counters import counters

logger = logging.getLogger(__name__)

#: How often the child looks whether its worker is still there.
PARENT_CHECK_S = 1.0
#: The child runs this much nicer than its worker: when the cores are short, the folds and the
#: HTTP API go first and the lake, which is history, catches up after. Measured while two
#: workers ingested 600k probes and one answered 1,000 GETs a second (three runs each): the
#: workers folded 96-104k probes meanwhile instead of 61-77k, and the GETs' p50 was
#: 214-665 ms instead of 644-882 ms. With cores to spare it changes nothing.
NICENESS = 10


@dataclass(frozen=True)
class WriterSpec:
    """What the child needs to make the same zones and reach the same lake (picklable)."""

    lake_url: str
    probes_topic: str
    updates_topic: str
    partitions: int
    #: `group-members`, when grouping is on (the joins of MACs to their probable devices).
    members_topic: str | None = None
    #: Tests only: kill the worker, then the child, between a piece's files and the piece.
    crash_after_enriched: bool = False


class ProcessWriter:
    """`write_pieces` in a child process; the names of devices go along with each write."""

    def __init__(self, spec: WriterSpec, names: Callable[[], dict[str, str]]) -> None:
        self.spec = spec
        self.names = names
        self._pool: ProcessPoolExecutor | None = None

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_child,
                initargs=(self.spec, os.getpid()),
            )
        return self._pool

    async def write(self, zone: Zone, partition: int, records: list[RawRecord]) -> None:
        pool = self._ensure_pool()
        loop = asyncio.get_running_loop()
        try:
            counted = await loop.run_in_executor(
                pool, _write_in_child, zone.topic, partition, records, self.names()
            )
        except BrokenProcessPool:
            logger.warning("lake writer: its process died; a new one writes from now on")
            self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        for name, amount in counted.items():
            counters.incr(name, amount)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


#: The child's state, made once by `_start_child`.
_child: _Child | None = None


@dataclass
class _Child:
    lake: Lake
    eraser: LakeEraser
    zones: dict[str, Zone]
    names: dict[str, str]
    die: Callable[[], None] | None


def _start_child(spec: WriterSpec, parent: int) -> None:
    """In the child: a lower priority, its lake and zones, no signals of its own, and an eye on
    its worker."""
    global _child
    os.nice(NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    names: dict[str, str] = {}
    lake = Lake(spec.lake_url)
    zones = lake_zones(
        spec.probes_topic, spec.updates_topic, spec.partitions, names.get, spec.members_topic
    )
    die = _kill_worker_and_self(parent) if spec.crash_after_enriched else None
    _child = _Child(lake, LakeEraser(lake), {zone.topic: zone for zone in zones}, names, die)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True, name="parent-watch").start()


def _write_in_child(
    topic: str, partition: int, records: list[RawRecord], names: dict[str, str]
) -> dict[str, int]:
    assert _child is not None, "the writer's process was not started by ProcessWriter"
    _child.names.clear()
    _child.names.update(names)
    counted: Counter[str] = Counter()

    def incr(name: str, amount: int) -> None:
        counted[name] += amount

    zone = _child.zones[topic]
    write_pieces(_child.lake, _child.eraser, zone, partition, records, incr, _child.die)
    return dict(counted)


def _exit_with(parent: int) -> None:
    """Exit once the worker is gone: its pipe to this process may stay open (the executor's
    queues hold both ends), so its death is seen as a new parent."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def _kill_worker_and_self(parent: int) -> Callable[[], None]:
    def die() -> None:
        os.kill(parent, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    return die
