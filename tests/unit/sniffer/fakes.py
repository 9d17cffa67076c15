"""Stand-ins for the Kafka producer, so the pipeline and CLI run without a broker."""

from __future__ import annotations

from typing import ClassVar

from sniffer.event import ProbeEvent
from sniffer.producer import DeliveryReport


class FakeSink:
    """Collects events; `fail_every` makes every n-th delivery fail."""

    def __init__(self, fail_every: int = 0) -> None:
        self.events: list[ProbeEvent] = []
        self.polls = 0
        self.fail_every = fail_every

    def send(self, event: ProbeEvent) -> None:
        self.events.append(event)

    def poll(self) -> None:
        self.polls += 1


class FakeProducer(FakeSink):
    """Drop-in for sniffer.cli.ProbeProducer; instances are kept for inspection."""

    instances: ClassVar[list[FakeProducer]] = []
    fail_every = 0

    def __init__(self, bootstrap_servers: str, topic: str, **kwargs: object) -> None:
        super().__init__(type(self).fail_every)
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.kwargs = kwargs
        self.ensured: int | None = None
        self.flushed = False
        self.closed = False
        type(self).instances.append(self)

    def close(self) -> None:
        self.closed = True

    def ensure_topic(self, partitions: int, timeout: float = 30.0) -> int:
        self.ensured = partitions
        return partitions

    def flush(self, timeout: float | None = None) -> DeliveryReport:
        self.flushed = True
        failed = len(self.events) // self.fail_every if self.fail_every else 0
        return DeliveryReport(
            queued=len(self.events),
            delivered=len(self.events) - failed,
            failed=failed,
            pending=0,
            first_error="Local: Message timed out" if failed else None,
        )
