"""The sniffer's command line with FakeProducer in place of Kafka, for tests that need it as a
process of its own (signals): `python -m tests.unit.sniffer.fake_kafka_cli ARGS`.

With FAKE_KAFKA_SENT naming a file, every probe request sent appends one line (its MAC) to it,
so a test waits until the sniffer has produced what it should instead of sleeping.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sniffer import cli
from sniffer.event import ProbeEvent
from tests.unit.sniffer.fakes import FakeProducer

SENT_FILE = "FAKE_KAFKA_SENT"
#: The command that runs it, to start with subprocess (cwd: the empty folder; env: python_env()).
FAKE_KAFKA_CLI = [sys.executable, "-m", "tests.unit.sniffer.fake_kafka_cli"]


class RecordingProducer(FakeProducer):
    """FakeProducer that also tells the test, through a file, what it was sent."""

    def send(self, event: ProbeEvent) -> None:
        super().send(event)
        sent = os.environ.get(SENT_FILE)
        if sent:
            with open(sent, "a") as out:
                out.write(event.mac + "\n")


def sent_count(path: Path) -> int:
    """How many probe requests the process has sent so far."""
    try:
        return len(path.read_text().splitlines())
    except FileNotFoundError:
        return 0


if __name__ == "__main__":
    cli.ProbeProducer = RecordingProducer  # type: ignore[misc]
    sys.exit(cli.main(sys.argv[1:]))
