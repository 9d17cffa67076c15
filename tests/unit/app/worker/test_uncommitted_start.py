"""A partition nothing was committed for is read from its start after faust's seek."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from app.worker.uncommitted_start import rewind_uncommitted

PROBES = "p.probes"
CHANGELOG = "p.probewatch-devices-changelog"


class FakeConsumer:
    """What `rewind_uncommitted` uses of faust's consumer, after `perform_seek` ran."""

    def __init__(self, committed: dict[TP, int | None], earliest: int = 0) -> None:
        self.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda t: t == PROBES))
        # perform_seek leaves the committed offset here, None where there was none.
        self._read_offset: defaultdict[TP, int | None] = defaultdict(lambda: None, committed)
        self._assigned = set(committed)
        self.earliest = earliest
        self.sought: dict[TP, int] = {}

    def assignment(self) -> set[TP]:
        return self._assigned

    async def earliest_offsets(self, *partitions: TP) -> dict[TP, int]:
        return {tp: self.earliest for tp in partitions}

    async def seek(self, tp: TP, offset: int) -> None:
        self.sought[tp] = offset


async def test_only_input_partitions_without_a_committed_offset_are_rewound() -> None:
    consumer = FakeConsumer(
        {
            TP(PROBES, 0): None,  # never committed: aiokafka left it wherever it was
            TP(PROBES, 1): 0,  # committed 0: aiokafka does not seek to 0 either
            TP(PROBES, 2): 17,  # committed: faust's seek took it there
            TP(CHANGELOG, 0): None,  # a changelog: recovery keeps its position
        },
        earliest=3,
    )
    await rewind_uncommitted(consumer)  # type: ignore[arg-type]
    assert consumer.sought == {TP(PROBES, 0): 3, TP(PROBES, 1): 3}


async def test_nothing_to_do_when_every_input_partition_has_its_offset() -> None:
    consumer = FakeConsumer({TP(PROBES, 0): 5, TP(CHANGELOG, 0): None})
    await rewind_uncommitted(consumer)  # type: ignore[arg-type]
    assert consumer.sought == {}


def test_install_wraps_faust_once() -> None:
    from faust.transport.consumer import Consumer

    from app.worker import uncommitted_start

    uncommitted_start.install()
    wrapped: Any = Consumer.perform_seek
    uncommitted_start.install()
    assert Consumer.perform_seek is wrapped and wrapped._probewatch_rewind
