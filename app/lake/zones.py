"""The zones a worker's archiver keeps, `probes`, `telegram-updates` and (with grouping)
`group-members`, and how their records become rows. Built the same way in the worker (which
reads the topics) and in the writer's own process (`app.lake.writer`, which flattens and
writes), so nothing here reaches for the faust app or its settings: what they need is given."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiokafka.partitioner import murmur2

from app.lake.archiver import Zone
from app.logic.erasure import (
    InvalidErasure,
    decode_erasure,
    decode_user_erasure,
    looks_like_erasure,
    looks_like_user_erasure,
)
from app.logic.lake.flatten import erased_members, join_rows, message_rows, probe_rows
from app.logic.lake.raw import RawRecord

#: MACs whose partition is remembered, at most (murmur2 in Python costs a few µs a call).
HOMES_CACHE_SIZE = 1_000_000


def lake_zones(
    probes_topic: str,
    updates_topic: str,
    partitions: int,
    name_of: Callable[[str], str | None],
    members_topic: str | None = None,
) -> list[Zone]:
    """The zones: probes are flattened with the name `name_of` gives each device, and kept in
    the partition the fold counts them in (Kafka's default partitioner over `partitions`);
    with `members_topic`, the joins of MACs to their probable devices."""
    homes: dict[str, int] = {}

    def home_of(mac: str) -> int:
        home = homes.get(mac)
        if home is None:
            if len(homes) >= HOMES_CACHE_SIZE:
                homes.clear()
            home = homes[mac] = (murmur2(mac.encode()) & 0x7FFFFFFF) % partitions
        return home

    def flatten_probes(partition: int, record: RawRecord) -> dict[str, list[dict[str, Any]]] | None:
        rows = probe_rows(record, "probes", partition, home_of, name_of)
        return None if rows is None else {"probes": rows}

    def flatten_members(
        partition: int, record: RawRecord
    ) -> dict[str, list[dict[str, Any]]] | None:
        rows = join_rows(record, "group-members", partition)
        return None if rows is None else {"group_joins": rows}

    zones = [
        Zone(probes_topic, "probes", flatten_probes, erased_mac),
        Zone(updates_topic, "telegram", flatten_updates, erased_user),
    ]
    if members_topic is not None:
        # A device's erasure reaches its group's partition after the device's join did (both
        # are sent by the device's partition, in order), so erasing there leaves no join behind.
        zones.append(Zone(members_topic, "groups", flatten_members, erased_members))
    return zones


def erased_mac(record: RawRecord) -> frozenset[str]:
    """The MAC an erasure record on `probes` names (none for a probe, or a bad erasure)."""
    if not looks_like_erasure(record.value):
        return frozenset()
    try:
        erasure = decode_erasure(record.value)
    except InvalidErasure:
        return frozenset()
    # Retention's erasures leave the lake to its own retention, by day (`app.lake.retention`).
    return frozenset((erasure.mac,)) if erasure.unseen_since is None else frozenset()


def erased_user(record: RawRecord) -> frozenset[str]:
    """The Telegram user a user erasure on `telegram-updates` names (none for an update)."""
    if not looks_like_user_erasure(record.value):
        return frozenset()
    try:
        return frozenset((str(decode_user_erasure(record.value)),))
    except InvalidErasure:
        return frozenset()


def flatten_updates(partition: int, record: RawRecord) -> dict[str, list[dict[str, Any]]] | None:
    rows = message_rows(record)
    return None if rows is None else {"messages": rows}
