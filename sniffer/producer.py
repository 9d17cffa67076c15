"""Deliver ProbeEvents to Kafka and account for every one of them.

confluent-kafka (librdkafka) rather than aiokafka because the sniffer is a tight synchronous loop
and librdkafka batches, retries and keeps ordering (idempotence) in C. Only delivery reports
count a message as sent; anything still failing after librdkafka's retries is reported.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from sniffer.event import ProbeEvent

DEFAULT_LINGER_MS = 10
DEFAULT_COMPRESSION = "lz4"
_POLL_EVERY = 256
# librdkafka's own log lines go here instead of straight to stderr; what matters to a user
# (connection trouble, fatal errors) also arrives through the error callback.
KAFKA_LOG = logging.getLogger("sniffer.kafka")
_BUFFER_FULL_WAIT = 0.05


class KafkaUnavailable(Exception):
    """Kafka could not be reached, refused the topic setup, or failed the producer for good."""


class Sink(Protocol):
    """What the capture pipeline needs from a producer (tests substitute a fake)."""

    def send(self, event: ProbeEvent) -> None:
        """Queue one event for delivery."""

    def poll(self) -> None:
        """Serve delivery callbacks without blocking."""


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """Delivery outcome after flush: `delivered` counts only acknowledged messages."""

    queued: int
    delivered: int
    failed: int
    pending: int
    first_error: str | None

    @property
    def ok(self) -> bool:
        """True when every queued message was acknowledged."""
        return self.failed == 0 and self.pending == 0 and self.delivered == self.queued


class ProbeProducer:
    """Kafka producer for the `{prefix}probes` topic with delivered/failed accounting.

    Key is the MAC (UTF-8), value the ProbeEvent JSON. murmur2_random gives keyed messages the
    same partition as Java's and aiokafka's default partitioner, which faust's table routing
    relies on. acks=all plus idempotence: no loss or duplicates across librdkafka's retries.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        client_id: str = "probewatch-sniffer",
        linger_ms: int = DEFAULT_LINGER_MS,
        compression: str = DEFAULT_COMPRESSION,
        delivery_timeout_s: float = 300.0,
        extra_config: dict[str, Any] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.queued = 0
        self.delivered = 0
        self.failed = 0
        self.first_error: str | None = None
        self.fatal_error: str | None = None
        self._on_error = on_error or _print_warning
        self._last_warning: str | None = None
        config: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "client.id": client_id,
            "acks": "all",
            "enable.idempotence": True,
            "partitioner": "murmur2_random",
            "linger.ms": linger_ms,
            "compression.type": compression,
            "message.timeout.ms": int(delivery_timeout_s * 1000),
            "queue.buffering.max.messages": 500_000,
            "error_cb": self._on_kafka_error,
            "logger": KAFKA_LOG,
        }
        config.update(extra_config or {})
        self.config = config
        try:
            self._producer = Producer(config)
        except KafkaException as exc:
            raise KafkaUnavailable(f"invalid Kafka producer configuration: {exc}") from None
        self._since_poll = 0

    def ensure_topic(self, partitions: int, timeout: float = 30.0) -> int:
        """Create the topic with `partitions` partitions unless it exists; return its count.

        Raises KafkaUnavailable when the cluster cannot be reached within `timeout` seconds.
        """
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
        try:
            metadata = admin.list_topics(timeout=timeout)
        except KafkaException as exc:
            raise KafkaUnavailable(
                f"cannot reach Kafka at {self.bootstrap_servers} within {timeout:g} s: "
                f"{_reason(exc)}"
            ) from None
        existing = metadata.topics.get(self.topic)
        if existing is not None and existing.error is None:
            return len(existing.partitions)
        futures = admin.create_topics(
            [NewTopic(self.topic, num_partitions=partitions, replication_factor=-1)],
            operation_timeout=timeout,
            request_timeout=timeout,
        )
        try:
            futures[self.topic].result(timeout=timeout)
        except KafkaException as exc:
            if exc.args and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                return self._partition_count(admin, timeout, partitions)
            raise KafkaUnavailable(f"cannot create topic {self.topic!r}: {_reason(exc)}") from None
        return partitions

    def _partition_count(self, admin: AdminClient, timeout: float, default: int) -> int:
        topic = admin.list_topics(topic=self.topic, timeout=timeout).topics.get(self.topic)
        return len(topic.partitions) if topic is not None and topic.partitions else default

    def send(self, event: ProbeEvent) -> None:
        """Queue one event; waits (serving callbacks) while librdkafka's queue is full.

        Raises KafkaUnavailable once librdkafka reported a fatal error (nothing more can be sent).
        """
        if self.fatal_error is not None:
            raise KafkaUnavailable(f"Kafka producer failed: {self.fatal_error}")
        value = event.to_json()
        key = event.mac.encode()
        while True:
            try:
                self._producer.produce(self.topic, value, key, on_delivery=self._on_delivery)
                break
            except BufferError:
                self._producer.poll(_BUFFER_FULL_WAIT)
            except KafkaException as exc:
                self.queued += 1
                self._record_failure(_reason(exc))
                return
        self.queued += 1
        self._since_poll += 1
        if self._since_poll >= _POLL_EVERY:
            self._since_poll = 0
            self._producer.poll(0)

    def poll(self) -> None:
        """Serve delivery and error callbacks without blocking."""
        self._since_poll = 0
        self._producer.poll(0)

    def flush(self, timeout: float | None = None) -> DeliveryReport:
        """Wait for every queued message to be acknowledged or to fail for good.

        Without a timeout this ends when librdkafka gives up (message.timeout.ms); it waits in
        one-second steps so Ctrl-C still interrupts it.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            pending = int(self._producer.flush(step))
            if pending == 0 or (deadline is not None and time.monotonic() >= deadline):
                break
        return DeliveryReport(
            queued=self.queued,
            delivered=self.delivered,
            failed=self.failed,
            pending=pending,
            first_error=self.first_error,
        )

    def _on_delivery(self, err: KafkaError | None, _msg: Any) -> None:
        if err is None:
            self.delivered += 1
        else:
            self._record_failure(err.str())

    def _record_failure(self, reason: str) -> None:
        self.failed += 1
        if self.first_error is None:
            self.first_error = reason

    def _on_kafka_error(self, err: KafkaError) -> None:
        """Connection trouble is retried by librdkafka: warn once per distinct message."""
        text = err.str()
        if err.fatal():
            self.fatal_error = text
        if text != self._last_warning:
            self._last_warning = text
            self._on_error(f"kafka: {text}" + (" (fatal)" if err.fatal() else ", retrying"))


def _reason(exc: KafkaException) -> str:
    if exc.args and isinstance(exc.args[0], KafkaError):
        return str(exc.args[0].str())
    return str(exc)


def _print_warning(text: str) -> None:
    print(f"probewatch-sniffer: warning: {text}", file=sys.stderr, flush=True)
