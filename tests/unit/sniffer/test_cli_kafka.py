"""gzipped captures through the real `probewatch-sniffer` into the real Kafka, all probes read back.

The sniffer used to crash on a .gz (a double close) before flushing, so queued probes were lost.
Needs the local Apache Kafka (`make kafka`); skipped without it unless PROBEWATCH_REQUIRE_KAFKA.
"""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import pytest

from sniffer.event import ProbeEvent
from tests.harness import Deployment, new_prefix, require_kafka
from tests.kafka_io import read_records
from tests.pcaps import capture
from tests.tshark import TSHARK, tshark_probes

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (apt tshark)"),
]


@pytest.mark.parametrize("name", ["iPhone11-B_anonymized.pcap", "HuaweiTablet_01_filtered.pcapng"])
def test_gzipped_capture_end_to_end(tmp_path: Path, name: str) -> None:
    require_kafka()
    original = capture(name)
    packed = tmp_path / f"{original.name}.gz"
    packed.write_bytes(gzip.compress(original.read_bytes()))
    truth = Counter(row.mac for row in tshark_probes(original))
    total = sum(truth.values())
    deployment = Deployment(tmp_path / "data", prefix=new_prefix("gz"), partitions=2)
    prefix = deployment.prefix
    result = deployment.sniffer("replay", "--no-progress", str(packed), timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"{total} produced to '{prefix}probes', {total} acknowledged by Kafka, 0 failed" in (
        result.stdout
    )
    assert "unreadable skipped: 0 bytes in 0 places of 0 files" in result.stdout
    records = read_records(f"{prefix}probes", total)  # reads on to the end: extras are seen too
    assert len(records) == total
    events = [(key, ProbeEvent.from_json(value or b"")) for key, value, _headers in records]
    assert Counter(event.mac for _key, event in events) == truth
    assert all(key == event.mac.encode() for key, event in events)
