"""The heap trimmed while probes are folded (`app.worker.heap_trim`): once per interval in which
the write-behind flushed, never while nothing was flushed (a quiet worker is left alone)."""

from __future__ import annotations

import pytest

from app.tables.staged import write_behind
from app.worker import heap_trim
from app.worker.counters import counters


async def test_the_heap_is_trimmed_once_after_flushes_and_not_while_none_happen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trims: list[int] = []
    monkeypatch.setattr(heap_trim, "give_freed_memory_back", lambda: trims.append(1) or True)
    monkeypatch.setattr(heap_trim, "_flushes_at_last_trim", [write_behind.flushes])
    before = counters.snapshot().get("memory.trims", 0)

    await heap_trim.trim_if_flushed()
    assert trims == [], "nothing flushed: nothing to trim"

    monkeypatch.setattr(write_behind, "flushes", write_behind.flushes + 3)
    await heap_trim.trim_if_flushed()
    await heap_trim.trim_if_flushed()
    assert trims == [1], "three flushes, then none: one trim"
    assert counters.snapshot().get("memory.trims", 0) == before + 1

    monkeypatch.setattr(write_behind, "flushes", write_behind.flushes + 1)
    await heap_trim.trim_if_flushed()
    assert trims == [1, 1]


async def test_a_trim_that_fails_is_skipped_and_the_worker_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fails() -> bool:
        raise RuntimeError("cannot schedule new futures after shutdown")

    monkeypatch.setattr(heap_trim, "give_freed_memory_back", fails)
    monkeypatch.setattr(heap_trim, "_flushes_at_last_trim", [write_behind.flushes - 1])
    before = counters.snapshot().get("memory.trims", 0)
    assert await heap_trim.trim_if_flushed() is False
    assert counters.snapshot().get("memory.trims", 0) == before
