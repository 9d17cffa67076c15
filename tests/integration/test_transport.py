"""The seek that ends every rebalance, on the real Kafka: a stream partition nobody committed
goes back to its beginning (aiokafka alone leaves it where the last fetch left it, past
records faust dropped), a committed one to its commit, and a changelog is left alone."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from confluent_kafka.admin import AdminClient, NewTopic
from faust.types import TP

from app.worker.transport import seek_to_committed
from tests.harness import BOOTSTRAP
from tests.kafka_io import produce

RECORDS = 10


@pytest.fixture()
async def consumer() -> AsyncIterator[tuple[AIOKafkaConsumer, str, str]]:
    """A consumer that read every record of a stream topic (2 partitions) and a changelog
    (1 partition) without committing, except offset 4 of the stream's partition 1."""
    prefix = f"seek-{uuid.uuid4().hex[:8]}-"
    stream, changelog = f"{prefix}probes", f"{prefix}devices-changelog"
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    for future in admin.create_topics([NewTopic(stream, 2, 1), NewTopic(changelog, 1, 1)]).values():
        future.result(30)
    produce(stream, ((f"k{i}".encode(), b"v") for i in range(4 * RECORDS)))
    produce(changelog, ((f"k{i}".encode(), b"v") for i in range(RECORDS)))
    kafka = AIOKafkaConsumer(
        bootstrap_servers=BOOTSTRAP,
        group_id=f"{prefix}group",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await kafka.start()
    try:
        partitions = [TopicPartition(stream, 0), TopicPartition(stream, 1)]
        kafka.assign([*partitions, TopicPartition(changelog, 0)])
        ends = await kafka.end_offsets(kafka.assignment())
        while [tp for tp, end in ends.items() if await kafka.position(tp) < end]:
            await kafka.getmany(timeout_ms=500)
        await kafka.commit({partitions[1]: OffsetAndMetadata(4, "")})
        yield kafka, stream, changelog
    finally:
        await kafka.stop()


async def test_a_partition_nobody_committed_is_read_again_from_its_beginning(
    consumer: tuple[AIOKafkaConsumer, str, str],
) -> None:
    kafka, stream, changelog = consumer
    ends = await kafka.end_offsets(kafka.assignment())
    read_to = {tp: await kafka.position(tp) for tp in kafka.assignment()}
    assert read_to == ends and all(end > 0 for end in ends.values())

    await kafka.seek_to_committed()
    uncommitted = TopicPartition(stream, 0)
    assert await kafka.position(uncommitted) == ends[uncommitted], (
        "aiokafka alone leaves a partition with no commit where it was: the reason for this"
    )

    committed = await seek_to_committed(kafka, {changelog})
    assert committed[uncommitted] is None
    assert await kafka.position(uncommitted) == 0
    assert await kafka.position(TopicPartition(stream, 1)) == 4
    log = TopicPartition(changelog, 0)
    assert await kafka.position(log) == ends[log], "a changelog is faust's to position"


async def test_a_partition_its_fold_held_resumes_at_the_next_record_due(
    consumer: tuple[AIOKafkaConsumer, str, str],
) -> None:
    """Folded up to offset 6 before the rebalance (and made durable when revoked): read again
    from 7, not from the beginning; a partition the fold never held still from its beginning."""
    kafka, stream, changelog = consumer
    due = {(stream, 0): 7}
    sought: dict[TP, int] = {}
    await seek_to_committed(
        kafka, {changelog}, lambda topic, partition: due.get((topic, partition)), sought.update
    )
    assert await kafka.position(TopicPartition(stream, 0)) == 7
    assert await kafka.position(TopicPartition(stream, 1)) == 4, "committed wins where there is one"
    assert sought == {TP(stream, 0): 7, TP(stream, 1): 4}, "the folds are told; not the changelog"


async def test_a_beginning_is_not_told_as_a_position(
    consumer: tuple[AIOKafkaConsumer, str, str],
) -> None:
    kafka, stream, changelog = consumer
    sought: dict[TP, int] = {}
    await seek_to_committed(kafka, {changelog}, None, sought.update)
    assert sought == {TP(stream, 1): 4}
