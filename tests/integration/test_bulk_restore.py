"""The bulk restorer against a real changelog topic and a real RocksDB: what it stores is what
faust's own recovery would (the last value of each key, deletions applied, the offset reached).

The recovery it joins is faust's; the end-to-end check that a worker serves a restored table is
`tests/e2e/test_crash_mid_flush.py` and the recovery benchmark.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import rocksdict
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from faust.types import TP

from app.worker import bulk_restore
from tests.harness import BOOTSTRAP, new_prefix
from tests.kafka_io import produce

OFFSET_KEY = b"__faust\0offset__"


class Store:
    """The part of faust's RocksDB store the restorer uses: a database per partition."""

    offset_key = OFFSET_KEY

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.dbs: dict[int, Any] = {}

    def _db_for_partition(self, partition: int) -> Any:
        if partition not in self.dbs:
            options = rocksdict.Options(raw_mode=True)
            self.dbs[partition] = rocksdict.Rdict(str(self.folder / f"p{partition}"), options)
        return self.dbs[partition]


def test_a_changelog_is_restored_as_faust_would(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(bulk_restore, "MIN_RECORDS", 1)
    topic = f"{new_prefix('bulk')}probewatch-devices-changelog"
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    admin.create_topics([NewTopic(topic, 2, 1, config={"cleanup.policy": "compact"})])[
        topic
    ].result()
    keys = [f"f0:18:98:00:00:{i:02x}".encode() for i in range(50)]
    records = [(k, orjson.dumps({"n": 1})) for k in keys]
    records += [(k, orjson.dumps({"n": 2})) for k in keys[:20]]
    records += [(k, None) for k in keys[40:]]
    produce(topic, records)
    table = SimpleNamespace(data=Store(tmp_path))
    tps = {TP(topic, 0), TP(topic, 1)}
    probe = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "bulk-test"})
    highwaters = {
        tp: probe.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)[1] - 1
        for tp in tps
    }
    probe.close()
    offsets: dict[TP, int | None] = {tp: None for tp in tps}
    recovery: Any = SimpleNamespace(active_highwaters=highwaters)

    asyncio.run(bulk_restore.restore(BOOTSTRAP, {tp: table for tp in tps}, tps, offsets, recovery))

    stored: dict[bytes, Any] = {}
    for partition, db in table.data.dbs.items():
        assert (
            int(db[OFFSET_KEY]) == highwaters[TP(topic, partition)] == offsets[TP(topic, partition)]
        )
        stored.update((k, orjson.loads(v)) for k, v in db.items() if k != OFFSET_KEY)
    assert stored == {
        **{k: {"n": 2} for k in keys[:20]},
        **{k: {"n": 1} for k in keys[20:40]},
    }
    for db in table.data.dbs.values():
        db.close()
