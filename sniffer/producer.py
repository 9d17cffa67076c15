"""Deliver ProbeEvents to Kafka and account for every one of them.

confluent-kafka (librdkafka) rather than aiokafka because the sniffer is a tight synchronous loop
and librdkafka batches, retries and keeps ordering (idempotence) in C. Only delivery reports
count a message as sent; anything still failing after librdkafka's retries is reported.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from sniffer.event import ProbeEvent, encode_many
from sniffer.partitioner import partition_for

DEFAULT_LINGER_MS = 10
#: A packed record is sent once it holds this many probes or its first waited this long.
DEFAULT_BATCH_LINGER_S = 0.1
_PARTITION_CACHE_SIZE = 100_000
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

    With `batch_size` 1, one record per probe: key the MAC (UTF-8), value the ProbeEvent JSON;
    murmur2_random gives it the same partition as Java's and aiokafka's default partitioner,
    which faust's table routing relies on. With a larger `batch_size` (once `ensure_topic` told
    the partition count), the probes of one partition are packed into one record, a JSON array,
    sent to that partition with no key: the worker's per-record cost is then shared by them all.
    acks=all plus idempotence: no loss or duplicates across librdkafka's retries. Counts are of
    probes either way.
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
        batch_size: int = 1,
        batch_linger_s: float = DEFAULT_BATCH_LINGER_S,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.batch_size = batch_size
        self.batch_linger_s = batch_linger_s
        #: The topic's partition count, once known: packing needs it.
        self.partitions: int | None = None
        self._pending: dict[int, list[ProbeEvent]] = {}
        self._pending_since: dict[int, float] = {}
        self._partition_of: dict[str, int] = {}
        self._lock = threading.Lock()
        self._linger: threading.Thread | None = None
        self._closed = threading.Event()
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
            return self._know_partitions(len(existing.partitions))
        futures = admin.create_topics(
            [NewTopic(self.topic, num_partitions=partitions, replication_factor=-1)],
            operation_timeout=timeout,
            request_timeout=timeout,
        )
        try:
            futures[self.topic].result(timeout=timeout)
        except KafkaException as exc:
            if exc.args and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                return self._know_partitions(self._partition_count(admin, timeout, partitions))
            raise KafkaUnavailable(f"cannot create topic {self.topic!r}: {_reason(exc)}") from None
        return self._know_partitions(partitions)

    def _know_partitions(self, partitions: int) -> int:
        """Remember the partition count; packing starts, with a thread that sends a packed
        record once it has waited `batch_linger_s` (a live capture may pause for minutes)."""
        self.partitions = partitions
        if self.batch_size > 1 and self._linger is None:
            self._linger = threading.Thread(
                target=self._send_lingering, name="probewatch-linger", daemon=True
            )
            self._linger.start()
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
        if self.batch_size > 1 and self.partitions is not None:
            self._pack(event)
        else:
            self._produce(event.to_json(), event.mac.encode(), None, 1)
        self._since_poll += 1
        if self._since_poll >= _POLL_EVERY:
            self._since_poll = 0
            self._producer.poll(0)

    def _pack(self, event: ProbeEvent) -> None:
        mac = event.mac
        partition = self._partition_of.get(mac)
        if partition is None:
            if len(self._partition_of) >= _PARTITION_CACHE_SIZE:
                self._partition_of.clear()
            assert self.partitions is not None
            partition = self._partition_of[mac] = partition_for(mac.encode(), self.partitions)
        with self._lock:
            pending = self._pending.get(partition)
            if pending is None:
                pending = self._pending[partition] = []
                self._pending_since[partition] = time.monotonic()
            pending.append(event)
            if len(pending) >= self.batch_size:
                self._send_pending(partition)

    def _send_pending(self, partition: int) -> None:
        """Produce the packed record of `partition` (the lock is held)."""
        events = self._pending.pop(partition)
        del self._pending_since[partition]
        self._produce(encode_many(events), None, partition, len(events))

    def _send_lingering(self) -> None:
        while not self._closed.wait(self.batch_linger_s / 2):
            self._send_due(time.monotonic() - self.batch_linger_s)

    def _send_due(self, started_before: float) -> None:
        with self._lock:
            for partition, since in list(self._pending_since.items()):
                if since <= started_before:
                    self._send_pending(partition)

    def _produce(self, value: bytes, key: bytes | None, partition: int | None, probes: int) -> None:
        """Queue one record carrying `probes` probes; waits while librdkafka's queue is full."""
        # -1: librdkafka's "unassigned", its partitioner then places the record by key.
        to = -1 if partition is None else partition
        on_delivery = partial(self._on_delivery, probes)
        while True:
            try:
                self._producer.produce(
                    self.topic, value, key, partition=to, on_delivery=on_delivery
                )
                break
            except BufferError:
                self._producer.poll(_BUFFER_FULL_WAIT)
            except KafkaException as exc:
                self.queued += probes
                self._record_failure(_reason(exc), probes)
                return
        self.queued += probes

    def poll(self) -> None:
        """Serve delivery and error callbacks without blocking."""
        self._since_poll = 0
        self._producer.poll(0)

    def flush(self, timeout: float | None = None) -> DeliveryReport:
        """Wait for every queued message to be acknowledged or to fail for good.

        Without a timeout this ends when librdkafka gives up (message.timeout.ms); it waits in
        one-second steps so Ctrl-C still interrupts it.
        """
        self._send_due(float("inf"))
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
            # In probes (a packed record holds many), as the other counts are.
            pending=max(0, self.queued - self.delivered - self.failed) if pending else 0,
            first_error=self.first_error,
        )

    def close(self) -> None:
        """Stop the linger thread (what is still packed is sent by `flush`)."""
        self._closed.set()

    def _on_delivery(self, probes: int, err: KafkaError | None, _msg: Any) -> None:
        if err is None:
            self.delivered += probes
        else:
            self._record_failure(err.str(), probes)

    def _record_failure(self, reason: str, probes: int = 1) -> None:
        self.failed += probes
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
