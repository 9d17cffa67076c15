"""The worker's listing index (`app.worker.device_index`), wired to faust: fed by every flush of
`devices` and every name the names agent applies, reconciled with the partitions this worker
owns once a rebalance has recovered the tables (`app.on_rebalance_complete`: faust sends it after
the active changelogs are read back and before the agents resume). A partition is read back once
the worker serves again (`recovery.completed`, after faust's last seeks)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import orjson
import rocksdict
from faust.types import TP, AppT, TableT

from app.main import app
from app.tables.devices import devices_table
from app.tables.names import device_names_table
from app.tables.staged import write_behind
from app.web.routing import partition_of
from app.worker.device_index import WorkerIndex

logger = logging.getLogger(__name__)

device_index = WorkerIndex(devices_table.name)
write_behind.on_stored(device_index.stored)


def owned_devices_partitions() -> set[int]:
    """The partitions of `devices` this worker is the active owner of."""
    topic = devices_table.changelog_topic.get_topic_name()
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}


class TableStores:
    """The partitions of `devices` and `device-names` as this worker's stores hold them."""

    def devices_offset(self, partition: int) -> int | None:
        store = devices_table.data
        if not hasattr(store, "persisted_offset"):
            return None  # memory://: keeps no offset, so every rebalance reads back
        topic = devices_table.changelog_topic.get_topic_name()
        offset: int | None = store.persisted_offset(TP(topic, partition))
        return offset

    def devices(self, partition: int) -> Iterator[tuple[bytes, Any]]:
        for key, raw in _raw_rows(devices_table, partition):
            yield key, orjson.loads(raw) if isinstance(raw, bytes) else raw

    def names(self, partition: int) -> Iterator[tuple[bytes, str]]:
        for key, raw in _raw_rows(device_names_table, partition):
            name = orjson.loads(raw) if isinstance(raw, bytes) else raw
            if isinstance(name, str):
                yield key, name


def _raw_rows(table: TableT[Any, Any], partition: int) -> Iterator[tuple[bytes, Any]]:
    """(key, stored value) of one partition: the RocksDB database of the partition, or, in a
    memory store, every key that hashes to it."""
    store: Any = table.data
    if hasattr(store, "_db_for_partition"):
        offset_key = store.offset_key
        for key, raw in store._db_for_partition(partition).items(read_opt=_scan_options()):
            if key != offset_key:
                yield key, raw
        return
    topic = table.changelog_topic.get_topic_name()
    for key, value in list(store.items()):
        raw_key = key if isinstance(key, bytes) else str(key).encode()
        if partition_of(app, topic, raw_key) == partition:
            yield raw_key, value


def _scan_options() -> rocksdict.ReadOptions:
    """A scan of a whole partition leaves the block cache alone: read once, its blocks would
    only push out what lookups use, and fill every partition's cache (8 MiB each, ~60 MB of
    a worker's memory at 1M devices)."""
    options = rocksdict.ReadOptions()
    options.fill_cache(False)  # type: ignore[call-arg]  # the stub omits its one argument
    return options


stores = TableStores()


@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def _unready_while_rebalancing(app: AppT, revoked: set[TP], **_: Any) -> None:
    device_index.rebalancing()


@app.on_rebalance_complete.connect  # type: ignore[arg-type]
async def _reconcile_when_recovered(app: AppT, **_: Any) -> None:
    """Read back what changed hands, in the background (the agents resume meanwhile)."""
    recovery: Any = app.tables.recovery  # type: ignore[attr-defined]
    if recovery.signal_recovery_start.is_set():
        return  # another rebalance is under way: its own completion reconciles
    device_index.reconcile_soon(owned_devices_partitions(), stores, recovery.completed.wait)
