"""The recovery that stops the flow of records before faust seeks the stream partitions."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from faust import App
from faust.tables.recovery import Recovery
from faust.types import TP

from app.tables.recovery import SeekingRecovery


def test_the_app_s_tables_recover_with_the_seeking_recovery(app: App) -> None:
    assert isinstance(app.tables.recovery, SeekingRecovery)


def test_faust_still_seeks_before_it_resumes_the_flow_when_recovery_completes() -> None:
    """The race this closes: faust resumes the flow to read changelogs (or at once, with
    nothing to read) and seeks the stream partitions later. A faust that seeks elsewhere or
    resumes in another order must be looked at again."""
    source = inspect.getsource(Recovery.on_recovery_completed)
    assert source.index("consumer.perform_seek()") < source.index("consumer.resume_flow()")
    restart = inspect.getsource(Recovery._restart_recovery.fun)  # type: ignore[attr-defined]
    assert restart.index("consumer.resume_flow") < restart.index("self.on_recovery_completed")


async def test_no_record_flows_while_the_stream_partitions_are_sought(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer: Any = app.consumer
    recovery = app.tables.recovery
    flowing_at_seek: list[bool] = []

    async def perform_seek() -> None:
        flowing_at_seek.append(consumer.flow_active)

    async def maybe_start() -> None:
        """The fetcher needs a broker; what is tested is the order around the seek."""

    async def wait(coro: Any, timeout: float | None = None) -> None:
        """Waiting on the running service's stop signal too needs a running service."""
        await coro

    monkeypatch.setattr(consumer, "assignment", lambda: {TP("unit.probes", 0)})
    monkeypatch.setattr(consumer, "perform_seek", perform_seek)
    monkeypatch.setattr(app._fetcher, "maybe_start", maybe_start)  # type: ignore[attr-defined]
    monkeypatch.setattr(recovery, "_wait", wait)
    consumer.resume_flow()
    await recovery.on_recovery_completed(app.consumer_generation_id)
    assert flowing_at_seek == [False]
    assert consumer.flow_active, "faust's method resumes the flow once sought"


class _Table:
    """Stands in for a table: records the batches of changelog records applied to it."""

    def __init__(self) -> None:
        self.applied: list[list[str]] = []

    def apply_changelog_batch(self, batch: list[str]) -> None:
        self.applied.append(list(batch))


def test_faust_still_applies_a_standby_s_records_only_once_a_buffer_is_full() -> None:
    """Why the recovery applies what waits on a timer: faust's own loop applies a buffer when
    it holds `standby_buffer_size` records (1,000) and at the end of recovery, not after."""
    slurp = inspect.getsource(Recovery._slurp_changelogs.fun)  # type: ignore[attr-defined]
    assert "if len(buf) >= bufsize:" in slurp
    assert "table.standby_buffer_size" in slurp
    tasks = SeekingRecovery._tasks  # type: ignore[attr-defined]
    assert "_apply_standby_buffers" in tasks[f"{SeekingRecovery.__module__}.SeekingRecovery"]


def test_buffered_records_are_applied_once_recovery_is_over(app: App) -> None:
    recovery: Any = app.tables.recovery
    devices, names = _Table(), _Table()
    was_completed, was_in_recovery = recovery.completed.is_set(), recovery.in_recovery
    recovery.buffers[devices] = ["a", "b"]
    recovery.buffers[names] = []
    try:
        recovery.completed.clear()
        recovery.apply_buffered()
        assert devices.applied == [], "while recovery runs, faust applies its batches itself"
        recovery.completed.set()
        recovery.in_recovery = True
        recovery.apply_buffered()
        assert devices.applied == []
        recovery.in_recovery = False
        recovery.apply_buffered()
        assert devices.applied == [["a", "b"]]
        assert recovery.buffers[devices] == []
        recovery.apply_buffered()
        assert devices.applied == [["a", "b"]], "nothing buffered, nothing applied again"
    finally:
        del recovery.buffers[devices], recovery.buffers[names]
        recovery.in_recovery = was_in_recovery
        if not was_completed:
            recovery.completed.clear()
