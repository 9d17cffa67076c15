"""Who may answer a read that accepts any replica (`?replica=any`): the key's owner, or a
worker holding a standby copy of the key's partition that has applied all of it.

By default a key is answered by the worker that owns its partition, forwarded there when asked
elsewhere: that worker folds the probes, so it answers with every probe folded so far. A
standby copy follows the changelog, which the owner writes once per flush
(`PROBEWATCH_FLUSH_INTERVAL_S`), so it lags the owner by about that much; in exchange it saves
the forward, which costs more CPU than the answer (as Kafka Streams lets a query ask a standby,
KIP-535). A copy answers only if, for every table the answer reads, it holds the partition as a
standby and has applied every changelog record the broker reported at its last fetch: a copy
that is still catching up, or whose records wait in faust's buffer, defers to the owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from faust.types import TP, AppT, CollectionT

Replica = Literal["owner", "any"]
REPLICAS: tuple[Replica, ...] = ("owner", "any")
#: The response header of an answer given from a standby copy.
STANDBY_HEADER = "Probewatch-Replica"


class InvalidReplica(ValueError):
    """A `replica` query parameter that is neither `owner` nor `any`."""


def parse_replica(value: str | None) -> Replica:
    """The `replica` query parameter: `owner` (the default) or `any`."""
    if value is None or value == "owner":
        return "owner"
    if value == "any":
        return "any"
    raise InvalidReplica(f"replica must be one of {', '.join(REPLICAS)}, not {value!r}")


def applied_everything(persisted: int | None, highwater: int | None) -> bool:
    """Whether a copy that applied changelog records up to offset `persisted` holds every record
    below `highwater` (the next offset the broker will write); an unknown highwater (nothing
    fetched yet) is not caught up."""
    if highwater is None:
        return False
    if persisted is None:
        return highwater == 0
    return persisted + 1 >= highwater


def standby_caught_up(app: AppT, tables: Sequence[CollectionT], partition: int) -> bool:
    """Whether this worker holds partition `partition` of every one of `tables` as a standby,
    each applied up to the highwater of its last fetch, outside any rebalance or recovery."""
    recovery: Any = app.tables.recovery  # type: ignore[attr-defined]
    if app.rebalancing or app.in_recovery or not recovery.completed.is_set():
        return False
    consumer = app.consumer
    for table in tables:
        tp = TP(table.changelog_topic.get_topic_name(), partition)
        if tp not in recovery.standby_tps:
            return False
        try:
            highwater = consumer.highwater(tp)
        except AssertionError:  # aiokafka: the partition is not assigned (any more)
            return False
        persisted = table.data.persisted_offset(tp)  # type: ignore[attr-defined]
        if not applied_everything(persisted, highwater):
            return False
    return True
