"""ProbeProducer without a broker: configuration contract and failure accounting.

Delivery to a real Kafka is covered by the integration tests; here librdkafka talks to a port
where nothing listens, so every message must end up counted as failed, never as delivered.
"""

from __future__ import annotations

import time

import pytest

from sniffer.event import ProbeEvent
from sniffer.producer import DeliveryReport, KafkaUnavailable, ProbeProducer

NOWHERE = "127.0.0.1:1"


def _event(n: int) -> ProbeEvent:
    return ProbeEvent(
        ts=1.0 + n,
        mac=f"02:00:00:00:00:{n:02x}",
        ssid="",
        ssid_hex=None,
        rssi_dbm=None,
        freq_mhz=None,
        seq=n,
        randomized=True,
        sensor="t",
        ie_fingerprint=None,
    )


def test_configuration_contract() -> None:
    producer = ProbeProducer(NOWHERE, "site.probes", on_error=lambda _m: None)
    config = producer.config
    assert config["acks"] == "all"
    assert config["enable.idempotence"] is True
    assert config["partitioner"] == "murmur2_random"
    assert 5 <= config["linger.ms"] <= 20
    assert config["compression.type"] in ("lz4", "none")
    assert config["message.timeout.ms"] == 300_000
    assert producer.topic == "site.probes"


def test_unreachable_cluster_is_a_clear_error() -> None:
    producer = ProbeProducer(NOWHERE, "probes", on_error=lambda _m: None)
    started = time.monotonic()
    with pytest.raises(KafkaUnavailable, match=r"cannot reach Kafka at 127\.0\.0\.1:1 within 1 s"):
        producer.ensure_topic(8, timeout=1.0)
    assert time.monotonic() - started < 5


def test_undeliverable_messages_are_counted_failed() -> None:
    warnings: list[str] = []
    producer = ProbeProducer(NOWHERE, "probes", delivery_timeout_s=0.5, on_error=warnings.append)
    for n in range(5):
        producer.send(_event(n))
    report = producer.flush()
    assert report == DeliveryReport(
        queued=5, delivered=0, failed=5, pending=0, first_error=report.first_error
    )
    assert not report.ok
    assert report.first_error is not None and "timed out" in report.first_error.lower()
    assert warnings and all(w.startswith("kafka: ") for w in warnings)


def test_full_queue_waits_instead_of_dropping() -> None:
    producer = ProbeProducer(
        NOWHERE,
        "probes",
        delivery_timeout_s=0.3,
        extra_config={"queue.buffering.max.messages": 4},
        on_error=lambda _m: None,
    )
    for n in range(6):
        producer.send(_event(n))  # blocks on BufferError until older messages time out
    report = producer.flush()
    assert (report.queued, report.delivered, report.failed) == (6, 0, 6)


def test_flush_with_timeout_reports_pending() -> None:
    producer = ProbeProducer(NOWHERE, "probes", delivery_timeout_s=60, on_error=lambda _m: None)
    producer.send(_event(1))
    report = producer.flush(timeout=0.2)
    assert report.pending == 1
    assert report.delivered == 0
    assert not report.ok


def test_report_ok_only_when_everything_was_acknowledged() -> None:
    assert DeliveryReport(3, 3, 0, 0, None).ok
    assert not DeliveryReport(3, 2, 1, 0, "x").ok
    assert not DeliveryReport(3, 2, 0, 1, None).ok
