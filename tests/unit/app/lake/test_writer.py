"""The archiver's writer in a process of its own (`app.lake.writer`): it writes what a thread of
the worker writes, it is replaced when it dies, and it does not outlive its worker."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.lake.archiver import ThreadWriter, Zone
from app.lake.sql import connect
from app.lake.storage import Lake
from app.lake.writer import NICENESS, ProcessWriter, WriterSpec
from app.lake.zones import lake_zones
from app.logic.lake.raw import RawRecord
from app.worker.counters import counters

#: Where `app` and `tests` import from (tests run from a folder of their own).
REPO_ROOT = Path(__file__).resolve().parents[4]
T0 = 1_704_067_200.0
NAMED = "f0:18:98:00:00:01"
NAMES = {NAMED: "the kitchen tablet"}


def _records(first: int, count: int) -> list[RawRecord]:
    """Packed records of two devices, one of them named, all of partition 0 of 1."""
    records = []
    for offset in range(first, first + count):
        probes = [
            {"ts": T0 + offset, "mac": mac, "ssid": f"net-{offset}", "randomized": False}
            for mac in (NAMED, "f0:18:98:00:00:02")
        ]
        records.append(RawRecord(offset, int(T0 * 1000), None, orjson.dumps(probes)))
    return records


def _spec(lake: Path) -> WriterSpec:
    return WriterSpec(str(lake), "probes", "updates", partitions=1)


def _zone(names: dict[str, str]) -> Zone:
    return lake_zones("probes", "updates", 1, names.get)[0]


def _rows(lake: Path) -> list[tuple[Any, ...]]:
    with connect(Lake(str(lake))) as con:
        sql = "select mac, ts, ssid, name, origin, idx from probes_files order by all"
        return con.sql(sql).fetchall()


def _child_pids(writer: ProcessWriter) -> list[int]:
    assert writer._pool is not None
    return list(writer._pool._processes)


def test_the_child_writes_and_counts_what_a_thread_of_the_worker_does(tmp_path: Path) -> None:
    records = _records(0, 5)

    async def both() -> None:
        in_thread = ThreadWriter(Lake(str(tmp_path / "thread")))
        await in_thread.write(_zone(NAMES), 0, records)
        before = dict(counters.counts)
        in_child = ProcessWriter(_spec(tmp_path / "child"), lambda: dict(NAMES))
        try:
            await in_child.write(_zone({}), 0, records)
            assert _child_pids(in_child) != [os.getpid()]
        finally:
            await in_child.close()
        for name in ("lake.probes.rows", "lake.probes.archived"):
            assert (
                counters.counts[name] - before.get(name, 0)
                == {
                    "lake.probes.rows": 10,
                    "lake.probes.archived": 5,
                }[name]
            )

    asyncio.run(both())
    rows = _rows(tmp_path / "child")
    assert len(rows) == 10
    assert {row[3] for row in rows if row[0] == NAMED} == {"the kitchen tablet"}
    assert rows == _rows(tmp_path / "thread")


def test_a_dead_child_fails_its_write_and_a_new_one_writes_the_next(tmp_path: Path) -> None:
    async def run() -> None:
        writer = ProcessWriter(_spec(tmp_path / "lake"), dict)
        try:
            await writer.write(_zone({}), 0, _records(0, 2))
            [child] = _child_pids(writer)
            os.kill(child, signal.SIGKILL)
            with pytest.raises(BrokenProcessPool):
                await writer.write(_zone({}), 0, _records(2, 2))
            await writer.write(_zone({}), 0, _records(2, 2))
            assert _child_pids(writer) != [child]
        finally:
            await writer.close()

    asyncio.run(run())
    assert len(_rows(tmp_path / "lake")) == 8


def test_the_child_ignores_sigterm_and_leaves_when_its_worker_is_killed(tmp_path: Path) -> None:
    """A worker stopped by its process group's SIGTERM still writes through its child; a worker
    killed with SIGKILL alone leaves no child behind."""
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal, sys, time
        sys.path.insert(0, {str(REPO_ROOT)!r})
        from app.lake.writer import NICENESS, ProcessWriter, WriterSpec
        from tests.unit.app.lake.test_writer import _records, _zone

        async def main():
            writer = ProcessWriter(WriterSpec({str(tmp_path / "lake")!r}, "probes", "u", 1), dict)
            await writer.write(_zone({{}}), 0, _records(0, 1))
            [child] = list(writer._pool._processes)
            os.kill(child, signal.SIGTERM)
            await writer.write(_zone({{}}), 0, _records(1, 1))
            print(child, flush=True)
            time.sleep(60)

        asyncio.run(main())
        """
    )
    worker = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None
        child = int(worker.stdout.readline())
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child), "the writer's process outlived its worker"
    finally:
        worker.kill()
    assert len(_rows(tmp_path / "lake")) == 4


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_the_writer_runs_nicer_than_its_worker(tmp_path: Path) -> None:
    """When the cores are short, the folds and the API go before the lake's writing."""
    writer = ProcessWriter(_spec(tmp_path / "lake"), dict)
    try:
        in_child = writer._ensure_pool().submit(os.nice, 0).result(timeout=60)
    finally:
        asyncio.run(writer.close())
    assert in_child == min(19, os.nice(0) + NICENESS)
