"""The stalled-partition watchdog (app/worker/watchdog.py): what it restarts, when, and from where.

faust's side (monitor, assignor, consumer) and the broker's (end, start and committed offsets)
are fakes here, so each decision is shown on its own: a partition with unread messages and no
progress over two checks is sought to where the group left it, and nothing else ever is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from unittest.mock import AsyncMock

import pytest
from faust.types import TP

from app.main import settings
from app.worker import watchdog
from app.worker.counters import counters
from app.worker.watchdog import StallWatch, resume_position

PROBES = TP(settings.topic("probes"), 0)
PCAP = TP(settings.topic("pcap"), 3)
CHANGELOG = TP(settings.topic("probewatch-devices-changelog"), 0)


@dataclass
class FakeOffsets:
    """The broker's view: log ends and starts, and the group's committed offsets."""

    end: dict[TP, int] = field(default_factory=dict)
    start: dict[TP, int] = field(default_factory=dict)
    commits: dict[TP, int] = field(default_factory=dict)
    asked: list[list[TP]] = field(default_factory=list)

    async def ends(self, tps: list[TP]) -> dict[TP, int]:
        self.asked.append(list(tps))
        return {tp: self.end.get(tp, 0) for tp in tps}

    async def starts(self, tps: list[TP]) -> dict[TP, int]:
        return {tp: self.start.get(tp, 0) for tp in tps}

    async def committed(self, tps: list[TP]) -> dict[TP, int]:
        return {tp: self.commits[tp] for tp in tps if tp in self.commits}


class FakeApp:
    """What StallWatch reads of the faust app."""

    def __init__(self, *actives: TP) -> None:
        self.actives = set(actives)
        self.rebalancing = False
        self.recovered = True
        self.monitor = SimpleNamespace(tp_read_offsets={})
        self.assignor = SimpleNamespace(assigned_actives=lambda: set(self.actives))
        self.consumer = SimpleNamespace(seek_wait=AsyncMock())
        completed = SimpleNamespace(is_set=lambda: self.recovered)
        self.tables = SimpleNamespace(recovery=SimpleNamespace(completed=completed))

    def read(self, tp: TP, offset: int | None) -> None:
        """The offset this worker last read in `tp` (None: nothing since it started)."""
        if offset is None:
            self.monitor.tp_read_offsets.pop(tp, None)
        else:
            self.monitor.tp_read_offsets[tp] = offset

    @property
    def seeks(self) -> list[dict[TP, int]]:
        return [call.args[0] for call in self.consumer.seek_wait.await_args_list]


@pytest.fixture()
def fake_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApp]:
    fake = FakeApp(PROBES)
    monkeypatch.setattr(watchdog, "app", fake)
    counters.counts.clear()
    yield fake
    counters.counts.clear()


async def checks(watch: StallWatch, times: int) -> None:
    for _ in range(times):
        await watch.check()


@pytest.mark.parametrize(
    ("read", "committed", "start", "position"),
    [
        (None, None, 5, 5),  # nothing known: from the log's start
        (9, None, 0, 10),  # after what this worker read
        (None, 40, 0, 40),  # after a restart: where the group committed, not the start
        (9, 40, 0, 40),  # never before the group's commit
        (50, 40, 0, 51),  # nor before what this worker read
    ],
)
def test_resume_position(
    read: int | None, committed: int | None, start: int, position: int
) -> None:
    assert resume_position(read, committed, start) == position


async def test_a_stalled_partition_is_sought_on_the_second_check_without_progress(
    fake_app: FakeApp,
) -> None:
    offsets = FakeOffsets(end={PROBES: 20}, commits={PROBES: 5})
    watch = StallWatch(offsets)  # type: ignore[arg-type]
    fake_app.read(PROBES, 9)
    await checks(watch, 2)  # the first sees where it is, the second that it did not move
    assert fake_app.seeks == []
    await watch.check()
    assert fake_app.seeks == [{PROBES: 10}]
    assert counters.counts["partitions.restarted"] == 1
    await watch.check()  # a restart starts the count again
    assert len(fake_app.seeks) == 1


async def test_a_partition_making_progress_is_never_sought(fake_app: FakeApp) -> None:
    watch = StallWatch(FakeOffsets(end={PROBES: 1000}))  # type: ignore[arg-type]
    for offset in range(10, 60, 10):
        fake_app.read(PROBES, offset)
        await watch.check()
    assert fake_app.seeks == [] and "partitions.restarted" not in counters.counts


async def test_a_partition_read_to_its_end_is_never_sought(fake_app: FakeApp) -> None:
    watch = StallWatch(FakeOffsets(end={PROBES: 20}))  # type: ignore[arg-type]
    fake_app.read(PROBES, 19)
    await checks(watch, 5)
    assert fake_app.seeks == []


async def test_after_a_restart_an_idle_partition_the_group_finished_is_not_read_again(
    fake_app: FakeApp,
) -> None:
    """This process read nothing yet, but the group committed up to the end: nothing to do."""
    watch = StallWatch(FakeOffsets(end={PROBES: 20}, commits={PROBES: 20}))  # type: ignore[arg-type]
    fake_app.read(PROBES, None)
    await checks(watch, 5)
    assert fake_app.seeks == []


async def test_after_a_restart_a_stalled_partition_resumes_at_the_groups_commit(
    fake_app: FakeApp,
) -> None:
    offsets = FakeOffsets(end={PROBES: 50}, start={PROBES: 0}, commits={PROBES: 30})
    watch = StallWatch(offsets)  # type: ignore[arg-type]
    fake_app.read(PROBES, None)
    await checks(watch, 3)
    assert fake_app.seeks == [{PROBES: 30}]


async def test_nothing_is_judged_while_rebalancing_or_recovering(fake_app: FakeApp) -> None:
    watch = StallWatch(FakeOffsets(end={PROBES: 20}))  # type: ignore[arg-type]
    fake_app.read(PROBES, 9)
    await checks(watch, 2)  # suspect now
    fake_app.rebalancing = True
    await checks(watch, 3)
    fake_app.rebalancing = False
    fake_app.recovered = False
    await checks(watch, 3)
    fake_app.recovered = True
    assert fake_app.seeks == [], "a rebalance or a recovery is no stall"
    await watch.check()  # the suspicion was forgotten: one more look without progress first
    assert fake_app.seeks == []
    await watch.check()
    assert fake_app.seeks == [{PROBES: 10}]


async def test_only_input_partitions_are_watched(fake_app: FakeApp) -> None:
    fake_app.actives = {PROBES, PCAP, CHANGELOG}
    offsets = FakeOffsets(end={PROBES: 20, PCAP: 7, CHANGELOG: 99})
    watch = StallWatch(offsets)  # type: ignore[arg-type]
    fake_app.read(PROBES, 19)
    fake_app.read(PCAP, 2)
    fake_app.read(CHANGELOG, 3)
    await checks(watch, 3)
    assert all(CHANGELOG not in asked for asked in offsets.asked)
    assert fake_app.seeks == [{PCAP: 3}]
