"""Grouping's tables (`app.agents.groups`), staged in memory and written behind like `devices`.

- `group-shards`: per shard key (`fp:<IE fingerprint>`), the shard's state and its guard
  (`app.logic.grouping.online.ShardRow`), in the partition of `group-probes` the key hashes to;
  and per partition one agenda row (`AGENDA_KEY`): each live shard's next due time and expiry.
- `groups`: per group id (its first MAC), its members, totals, SSIDs and evidence
  (`app.logic.grouping.members.GroupRow`); keyed like `devices`, so `GET /groups/{id}` is
  routed as `GET /devices/{mac}` is.
- `group-counters`: per partition of `group-members`, the probable devices heard per minute,
  hour and day (`app.logic.activity.Counters`, devices being groups here), with the offset of
  the last record tallied. Flushed ahead of `groups` (`leading`), as the activity counters are
  ahead of the device rows: a group row that is durable has its counts durable too.

A device's own group is in its `devices` row (`group`, `group_in_doubt`).
"""

from __future__ import annotations

from typing import TypedDict

from app.logic.activity import Counters
from app.logic.grouping.members import GroupRow
from app.main import app, settings
from app.tables.staged import write_behind
from app.tables.store_options import ROCKSDB_OPTIONS

#: The key of a `group-shards` partition's agenda row (shard keys begin `fp:` or `mac:`).
AGENDA_KEY = b"@agenda"


class GroupCountersRow(TypedDict):
    """A `group-counters` row: one partition's probable devices, and the last record tallied."""

    counters: Counters | None
    offset: int


group_shards_table = app.Table(
    "group-shards",
    default=None,
    partitions=settings.partitions,
    key_type=bytes,
    help="Per shard key (IE fingerprint): the grouper's state of that shard.",
    options=ROCKSDB_OPTIONS,
)
write_behind.track(group_shards_table)

groups_table = app.Table(
    "groups",
    default=None,
    partitions=settings.partitions,
    key_type=bytes,
    help="Per group id (its first MAC): the probable device's members and evidence.",
    options=ROCKSDB_OPTIONS,
)
write_behind.track(groups_table)

group_counters_table = app.Table(
    "group-counters",
    default=None,
    partitions=settings.partitions,
    key_type=bytes,
    help="Per partition of group-members: probable devices per minute, hour and day.",
    options=ROCKSDB_OPTIONS,
)
write_behind.track(group_counters_table, leading=True)


def counters_key(partition: int) -> bytes:
    return str(partition).encode()


def group_row(group: str) -> GroupRow | None:
    """A group's row on the worker that owns it, staged changes included."""
    row: GroupRow | None = write_behind.get(groups_table, None, group.encode())
    return row


def partition_group_counters(partition: int) -> GroupCountersRow | None:
    """A partition's probable-device counters on the worker that owns it, staged included."""
    row: GroupCountersRow | None = write_behind.get(
        group_counters_table, partition, counters_key(partition)
    )
    return row
