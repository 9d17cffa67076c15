"""An archiver whose lake cannot be used waits for it, saying why (`app.lake.archiver`)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from app.lake import archiver as archiver_module
from app.lake.archiver import Archiver
from app.lake.storage import Lake, LakeUnavailable
from app.worker.counters import counters


class _Lake(Lake):
    def __init__(self, failures: int) -> None:
        super().__init__("s3://missing/lake")
        self.failures = failures

    def check(self) -> None:
        if self.failures:
            self.failures -= 1
            raise LakeUnavailable("s3://missing/lake: bucket 'missing' does not exist")


async def test_it_logs_and_counts_each_failed_check_until_the_lake_is_usable(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(archiver_module, "RECHECK_S", 0.0)
    before = counters.counts["lake.unavailable"]
    lake = _Lake(failures=2)
    archiver = Archiver(lake, [], "localhost:1", group_id="unused")
    with caplog.at_level(logging.ERROR, logger=archiver_module.__name__):
        await asyncio.wait_for(archiver._wait_for_lake(), 5)
    assert lake.failures == 0
    assert counters.counts["lake.unavailable"] - before == 2
    assert [r.getMessage() for r in caplog.records] == [
        "lake archiver: s3://missing/lake: bucket 'missing' does not exist; archiving waits, "
        "checking again"
    ] * 2
