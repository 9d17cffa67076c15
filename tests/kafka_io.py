"""Produce and read test messages on the real Kafka, as the product's own producers would."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

import orjson
from aiokafka.partitioner import murmur2
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from tests.harness import BOOTSTRAP


def probe(mac: str, ts: float, ssid: str = "", rssi: int | None = -60) -> dict[str, Any]:
    """A ProbeEvent as the sniffer writes it."""
    return {
        "ts": ts,
        "mac": mac,
        "ssid": ssid,
        "ssid_hex": None,
        "rssi_dbm": rssi,
        "freq_mhz": 2437,
        "seq": 1,
        "randomized": bool(int(mac[:2], 16) & 2),
        "sensor": "test",
        "ie_fingerprint": None,
    }


def produce(
    topic: str,
    messages: Iterable[tuple[bytes | None, bytes | None]],
    timestamp_ms: int = 0,
) -> None:
    """Keyed like the sniffer (murmur2, the partitioner faust's router assumes); waits for acks.
    Stamped now, or at `timestamp_ms`."""
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "partitioner": "murmur2_random"})
    for key, value in messages:
        producer.produce(topic, key=key, value=value, timestamp=timestamp_ms)
    assert producer.flush(30) == 0, "Kafka did not acknowledge every test message"


def produce_probes(prefix: str, probes: Iterable[dict[str, Any]]) -> None:
    produce(f"{prefix}probes", ((p["mac"].encode(), orjson.dumps(p)) for p in probes))


def partition_for(key: bytes, partitions: int) -> int:
    """The partition a keyed record lands in: Java's murmur2, as the sniffer and faust use."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def marker_macs(partitions: int) -> list[str]:
    """One locally administered MAC for each partition of `probes`, in partition order."""
    found: dict[int, str] = {}
    serial = 0
    while len(found) < partitions:
        mac = f"02:5e:00:{serial >> 16 & 255:02x}:{serial >> 8 & 255:02x}:{serial & 255:02x}"
        found.setdefault(partition_for(mac.encode(), partitions), mac)
        serial += 1
    return [found[p] for p in range(partitions)]


def produce_markers(prefix: str, partitions: int, ts: float) -> list[str]:
    """A probe into every partition of `probes`, after all produced before it.

    Partitions are read in order, so once every marker is counted, everything produced before it
    has been too: a test waits for that instead of sleeping. Returns the markers' MACs.
    """
    macs = marker_macs(partitions)
    produce_probes(prefix, [probe(mac, ts, "") for mac in macs])
    return macs


def read_all(topic: str, expect: int, timeout: float = 30.0) -> list[tuple[bytes | None, Any]]:
    """(key, decoded JSON value) of the first `expect` messages of a topic, from the beginning."""
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": f"test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    found: list[tuple[bytes | None, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < expect and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            value = message.value()
            found.append((message.key(), orjson.loads(value) if value else None))
    finally:
        consumer.close()
    return found


def read_records(
    topic: str, expect: int, timeout: float = 30.0
) -> list[tuple[bytes | None, bytes | None, dict[str, bytes]]]:
    """(key, value, headers) of every message of a topic, as stored; waits for `expect` of them,
    then reads on until the topic's end so that any extra message is seen too."""
    return [
        (
            message.key(),
            message.value(),
            {name: value or b"" for name, value in message.headers() or []},
        )
        for message in _to_the_end(topic, expect, timeout)
    ]


def read_probes(
    topic: str, expect_records: int, partitions: int, timeout: float = 30.0
) -> tuple[list[dict[str, Any]], int]:
    """Every probe on a `probes` topic, unpacked from records of either shape, and the number
    of records. Asserts what the worker relies on: a record of one probe is keyed by its MAC,
    and every probe sits in the partition its MAC hashes to (aiokafka's murmur2, not ours)."""
    probes: list[dict[str, Any]] = []
    records = _to_the_end(topic, expect_records, timeout)
    for message in records:
        value = orjson.loads(message.value())
        if isinstance(value, dict):
            assert message.key() == value["mac"].encode(), "a single probe keyed by its MAC"
            value = [value]
        for item in value:
            where = partition_for(item["mac"].encode(), partitions)
            assert message.partition() == where, f"{item['mac']} packed into the wrong partition"
            probes.append(item)
    return probes, len(records)


def _to_the_end(topic: str, expect: int, timeout: float) -> list[Message]:
    """The messages of a topic from the beginning: at least `expect` of them (within `timeout`),
    then on until every partition's end."""
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": f"test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    consumer.subscribe([topic])
    found: list[Message] = []
    at_end: set[int] = set()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.partition())
                if len(found) >= expect and _all_at_end(consumer, at_end):
                    break
                continue
            at_end.discard(message.partition())
            found.append(message)
    finally:
        consumer.close()
    return found


def _all_at_end(consumer: Consumer, at_end: set[int]) -> bool:
    assigned = {tp.partition for tp in consumer.assignment()}
    return bool(assigned) and assigned <= at_end


def committed_offsets(group: str, topic: str, partitions: int) -> dict[int, int]:
    """The offsets a consumer group committed on a topic, by partition (absent: never)."""
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group})
    try:
        found = consumer.committed(
            [TopicPartition(topic, p) for p in range(partitions)], timeout=10
        )
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in found if tp.offset >= 0}


def end_offsets(topic: str, partitions: int) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": f"test-{uuid.uuid4().hex}"})
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
    finally:
        consumer.close()


def group_members(group: str) -> int:
    """How many consumers are members of a consumer group now (a dead one stays a member until
    its session times out)."""
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    [future] = admin.describe_consumer_groups([group]).values()
    return len(future.result(10).members)
