"""The pacer hands the event loop back once a task held it for a slice, not before."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from app.worker.pacing import Pacer, answering
from app.worker.write_behind import WriteBehind, _Flushing


async def test_a_task_that_paces_lets_another_run_within_a_slice() -> None:
    ran: list[float] = []

    async def other() -> None:
        ran.append(time.perf_counter())

    pacer = Pacer(slice_s=0.002)
    started = time.perf_counter()
    task = asyncio.ensure_future(other())
    while not ran:
        busy_until = time.perf_counter() + 0.0005
        while time.perf_counter() < busy_until:
            pass
        await pacer.pace()
    await task
    assert ran[0] - started < 0.05


async def test_pacing_does_not_yield_before_the_slice_is_used() -> None:
    ran: list[bool] = []

    async def other() -> None:
        ran.append(True)

    pacer = Pacer(slice_s=60.0)
    task = asyncio.ensure_future(other())
    for _ in range(1000):
        await pacer.pace()
    assert ran == [], "a pace within the slice must not hand the loop over"
    await task


async def test_a_hand_over_waits_for_the_requests_being_answered() -> None:
    """Reads first: a pacer whose slice is over lets a request being answered finish before
    its task goes on."""
    pacer = Pacer(slice_s=0.0, reads_first_s=5.0)
    answering.begin()
    order: list[str] = []

    async def request() -> None:
        for _ in range(5):  # a request takes several turns of the loop
            await asyncio.sleep(0)
        await asyncio.sleep(0.05)
        order.append("answered")
        answering.end()

    task = asyncio.ensure_future(request())
    await pacer.pace()
    order.append("fold goes on")
    await task
    assert order == ["answered", "fold goes on"]
    assert answering.count == 0


async def test_a_hand_over_waits_for_requests_only_so_long() -> None:
    pacer = Pacer(slice_s=0.0, reads_first_s=0.05)
    answering.begin()  # one that is not answered while the fold waits
    try:
        started = time.perf_counter()
        await pacer.pace()
        waited = time.perf_counter() - started
    finally:
        answering.end()
    assert 0.04 < waited < 1.0
    started = time.perf_counter()
    await pacer.pace()  # nothing being answered: the next turn
    assert time.perf_counter() - started < 0.04


def test_a_row_being_flushed_reads_as_a_copy_before_and_after_it_is_encoded() -> None:
    """Reads during a paced flush: the row itself may be encoded later; a reader (or a fold)
    must get a copy it can change without changing what is being flushed."""
    row = {"probe_count": 3, "ssids": ["a"]}
    flushing = _Flushing({("devices", 1): {b"k": row}}, {}, [], [])
    found, copy = flushing.copy_of(("devices", 1), b"k")
    assert found and copy == row and copy is not row
    copy["ssids"].append("b")
    assert row["ssids"] == ["a"]
    flushing.encoded[("devices", 1)] = {b"k": orjson.dumps(row)}
    assert flushing.copy_of(("devices", 1), b"k") == (True, row)
    assert flushing.copy_of(("devices", 2), b"k") == (False, None)
    assert flushing.copy_of(("devices", 1), b"other") == (False, None)


async def test_a_fold_running_while_a_flush_derives_reads_the_rows_being_flushed() -> None:
    """The derivers hand the event loop back; a fold that runs then must find the generation
    being flushed, not the older rows in the store (it would build on them and lose probes)."""

    stored: dict[bytes, Any] = {b"k": {"n": 0}}

    class Table:
        name = "devices"
        data = stored

    app = type("App", (), {})()
    flusher = WriteBehind(app, max_staged=100, interval_s=60)
    flusher.track(Table())  # type: ignore[arg-type]
    flusher.stage(Table(), 0, b"k", {"n": 1})  # type: ignore[arg-type]
    seen: list[Any] = []

    async def deriver(rows: Any, scratch: Any, pacer: Any) -> list[Any]:
        await asyncio.sleep(0)
        seen.append(flusher.get(Table(), 0, b"k"))  # type: ignore[arg-type]
        seen.append(flusher.get(Table(), None, b"k"))  # type: ignore[arg-type]
        return []

    async def produce(flushing: Any) -> dict[tuple[str, int], int]:
        seen.append(flusher.committed(Table(), 0, b"k"))  # type: ignore[arg-type]
        return {slot: 0 for slot in flushing.encoded}

    flusher.derive(deriver)
    flusher._produce = produce  # type: ignore[method-assign]
    await flusher.flush()
    assert seen == [{"n": 1}, {"n": 1}, {"n": 1}]
    assert stored[b"k"] == {"n": 1}
