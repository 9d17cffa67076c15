"""When a standby copy may answer a read (`?replica=any`): only when it has applied all of its
changelogs the broker reported, for every table the answer reads, outside rebalances."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from faust.types import TP

from app.web.replicas import (
    InvalidReplica,
    applied_everything,
    parse_replica,
    standby_caught_up,
)


def test_the_replica_parameter_defaults_to_the_owner() -> None:
    assert parse_replica(None) == "owner"
    assert parse_replica("owner") == "owner"
    assert parse_replica("any") == "any"
    for bad in ("", "standby", "ANY", "any "):
        with pytest.raises(InvalidReplica, match="replica must be one of owner, any"):
            parse_replica(bad)


@pytest.mark.parametrize(
    ("persisted", "highwater", "caught_up"),
    [
        (9, 10, True),  # applied offset 9, the broker's next is 10: all of it
        (10, 10, True),  # a highwater older than what was applied since
        (8, 10, False),  # one record waits
        (None, 0, True),  # an empty changelog: nothing to apply
        (None, 3, False),  # nothing applied of three records
        (5, None, False),  # nothing fetched yet: the broker's end is unknown
        (None, None, False),
    ],
)
def test_a_copy_is_caught_up_once_it_applied_every_record_below_the_highwater(
    persisted: int | None, highwater: int | None, caught_up: bool
) -> None:
    assert applied_everything(persisted, highwater) is caught_up


@dataclass
class _Topic:
    name: str

    def get_topic_name(self) -> str:
        return self.name


@dataclass
class _Store:
    offsets: dict[TP, int]

    def persisted_offset(self, tp: TP) -> int | None:
        return self.offsets.get(tp)


@dataclass
class _Table:
    changelog_topic: _Topic
    data: _Store


@dataclass
class _Recovery:
    standby_tps: set[TP]
    completed: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _Consumer:
    highwaters: dict[TP, int]
    assigned: set[TP]

    def highwater(self, tp: TP) -> int | None:
        assert tp in self.assigned, "Partition is not assigned"  # as aiokafka says it
        return self.highwaters.get(tp)


@dataclass
class _Tables:
    recovery: _Recovery


@dataclass
class _App:
    tables: _Tables
    consumer: _Consumer
    rebalancing: bool = False
    in_recovery: bool = False


DEVICES, NAMES = TP("devices-changelog", 3), TP("names-changelog", 3)


def _cluster() -> tuple[_App, list[_Table]]:
    """A worker holding partition 3 of both tables as standbys, each applied to its end."""
    devices = _Table(_Topic(DEVICES.topic), _Store({DEVICES: 41}))
    names = _Table(_Topic(NAMES.topic), _Store({NAMES: 6}))
    recovery = _Recovery({DEVICES, NAMES})
    recovery.completed.set()
    consumer = _Consumer({DEVICES: 42, NAMES: 7}, {DEVICES, NAMES})
    return _App(_Tables(recovery), consumer), [devices, names]


def _caught_up(app: _App, tables: list[_Table], partition: int = 3) -> bool:
    return standby_caught_up(app, tables, partition)  # type: ignore[arg-type]


def test_a_standby_applied_to_its_end_answers() -> None:
    app, tables = _cluster()
    assert _caught_up(app, tables)


def test_every_table_the_answer_reads_must_be_caught_up() -> None:
    app, tables = _cluster()
    app.consumer.highwaters[NAMES] = 8  # a name was changed, and waits to be applied
    assert not _caught_up(app, tables)
    assert _caught_up(app, tables[:1])


def test_a_partition_that_is_not_a_standby_here_is_not_answered() -> None:
    app, tables = _cluster()
    assert not _caught_up(app, tables, partition=2)
    app.tables.recovery.standby_tps.discard(NAMES)
    assert not _caught_up(app, tables)


def test_a_partition_the_consumer_no_longer_holds_is_not_answered() -> None:
    app, tables = _cluster()
    app.consumer.assigned.discard(DEVICES)
    assert not _caught_up(app, tables)


@pytest.mark.parametrize("state", ["rebalancing", "in_recovery", "recovery_not_completed"])
def test_no_standby_answers_during_a_rebalance_or_a_recovery(state: str) -> None:
    app, tables = _cluster()
    if state == "recovery_not_completed":
        app.tables.recovery.completed.clear()
    else:
        setattr(app, state, True)
    assert not _caught_up(app, tables)


def test_the_check_reads_the_stores_applied_offset_each_time() -> None:
    """Not remembered: the next fetch or apply changes the answer at once."""
    app, tables = _cluster()
    app.consumer.highwaters[DEVICES] = 50
    assert not _caught_up(app, tables)
    store: Any = tables[0].data
    store.offsets[DEVICES] = 49
    assert _caught_up(app, tables)
