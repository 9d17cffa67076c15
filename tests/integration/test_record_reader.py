"""Reading skipped records back by offset, on the real Kafka: the range asked, in order; what
retention deleted is simply not there; a broker that does not answer gives up in time."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from app.worker.record_reader import RecordReader
from tests.harness import BOOTSTRAP
from tests.kafka_io import produce

RECORDS = 30


@pytest.fixture()
def topic() -> str:
    """A fresh one-partition topic holding records 0..29, the value naming the offset."""
    name = f"read-back-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    for future in admin.create_topics([NewTopic(name, 1, 1)]).values():
        future.result(30)
    produce(name, ((b"k", f"v{i}".encode()) for i in range(RECORDS)))
    return name


async def test_the_range_asked_comes_back_in_order_and_nothing_else(topic: str) -> None:
    reader = RecordReader(BOOTSTRAP)
    try:
        records = await reader.read(topic, 0, 7, 12)
        assert [(r.offset, r.value) for r in records] == [
            (i, f"v{i}".encode()) for i in range(7, 12)
        ]
        assert [r.offset for r in await reader.read(topic, 0, 29, 30)] == [29], "the last one"
        assert [r.offset for r in await reader.read(topic, 0, 0, 2)] == [0, 1], (
            "reused, sought back"
        )
    finally:
        await reader.close()


async def test_records_deleted_by_retention_are_not_there_the_rest_is(topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    for future in admin.delete_records([TopicPartition(topic, 0, 20)]).values():
        future.result(30)
    reader = RecordReader(BOOTSTRAP)
    try:
        assert [r.offset for r in await reader.read(topic, 0, 15, 25)] == list(range(20, 25))
        assert await reader.read(topic, 0, 3, 9) == []
    finally:
        await reader.close()


async def test_a_broker_that_does_not_answer_gives_nothing_back_after_the_timeout() -> None:
    reader = RecordReader("127.0.0.1:1", timeout_s=2.0)
    began = time.monotonic()
    try:
        assert await reader.read("probes", 0, 0, 5) == []
    finally:
        await reader.close()
    assert 1.5 <= time.monotonic() - began < 10
