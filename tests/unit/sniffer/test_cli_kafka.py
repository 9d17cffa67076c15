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
from tests.kafka_io import read_probes
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
    # Reads on to the end, so extras are seen too; checks each probe's partition.
    probes, records = read_probes(f"{prefix}probes", 1, partitions=2)
    events = [ProbeEvent.from_dict(item) for item in probes]
    assert Counter(event.mac for event in events) == truth
    assert records < total, "the sniffer packs the probes of a partition into one record"
