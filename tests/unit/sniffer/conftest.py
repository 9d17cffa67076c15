"""Fixtures shared by the sniffer's command-line tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sniffer import cli
from tests.unit.sniffer.fakes import FakeProducer


@pytest.fixture
def fake_kafka(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeProducer]]:
    """cli.main with FakeProducer in place of Kafka (run from the tests' empty folder, so no
    `.env` is read: tests/workdir.py)."""
    FakeProducer.instances = []
    FakeProducer.fail_every = 0
    monkeypatch.setattr(cli, "ProbeProducer", FakeProducer)
    for name in ("PROBEWATCH_TOPIC_PREFIX", "PROBEWATCH_SENSOR", "PROBEWATCH_PARTITIONS"):
        monkeypatch.delenv(name, raising=False)
    yield FakeProducer
