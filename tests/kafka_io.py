"""Produce and read test messages on the real Kafka, as the product's own producers would."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

import orjson
from confluent_kafka import Consumer, Producer

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


def produce(topic: str, messages: Iterable[tuple[bytes | None, bytes | None]]) -> None:
    """Keyed like the sniffer (murmur2, the partitioner faust's router assumes); waits for acks."""
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "partitioner": "murmur2_random"})
    for key, value in messages:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0, "Kafka did not acknowledge every test message"


def produce_probes(prefix: str, probes: Iterable[dict[str, Any]]) -> None:
    produce(f"{prefix}probes", ((p["mac"].encode(), orjson.dumps(p)) for p in probes))


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
