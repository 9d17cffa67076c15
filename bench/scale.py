"""Recovery of a large table from its changelog, and failover after kill -9."""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
from pathlib import Path

import orjson
from aiokafka.partitioner import murmur2
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from tests.harness import BOOTSTRAP, Deployment, Worker, wait_for
from tests.kafka_io import probe, produce_probes


def _mac(i: int) -> str:
    return f"02:{i >> 24 & 255:02x}:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}:00"


def _state(i: int) -> bytes:
    """A realistic `devices` row, as the fold agent writes it."""
    ts = 1_700_000_000.0 + i
    return orjson.dumps(
        {
            "probe_count": 3,
            "first_seen_ts": ts,
            "last_seen_ts": ts + 2,
            "ssids": ["eduroam", "home"],
            "ssids_truncated": False,
            "wildcard_probes": 1,
            "rssi_last": -60,
            "rssi_min": -70,
            "rssi_max": -55,
            "rssi_sum": -185,
            "rssi_samples": 3,
            "freq_mhz_last": 2437,
            "ie_fingerprint": "5c0e7f2d9a41b3c6",
            "sensors": ["bench"],
            "offset": i,
        }
    )


def recovery(devices: int) -> None:
    """Write a changelog of `devices` rows as faust would, then time a fresh worker's restore."""
    scratch = Path(tempfile.mkdtemp(prefix="probewatch-recovery-"))
    deployment = Deployment(data_dir=scratch)
    topic = f"{deployment.prefix}probewatch-devices-changelog"
    producer = Producer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 2_000_000,
        }
    )
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    admin.create_topics(
        [NewTopic(topic, deployment.partitions, 1, config={"cleanup.policy": "compact"})]
    )[topic].result()
    started = time.perf_counter()
    for i in range(devices):
        key = _mac(i).encode()
        partition = (murmur2(key) & 0x7FFFFFFF) % deployment.partitions
        producer.produce(topic, key=key, value=_state(i), partition=partition)
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(300) == 0
    written_s = time.perf_counter() - started
    print(f"recovery set-up: {devices:,} changelog rows written in {written_s:.1f} s")

    worker = Worker(deployment).start()
    started = time.perf_counter()
    try:
        worker.wait_ready(timeout=1800)
        wait_for(
            lambda: worker.get(f"/devices/{_mac(devices - 1)}")[0] == 200,
            1800,
            "the last device served",
            interval=0.1,
        )
        elapsed = time.perf_counter() - started
        status, stats = worker.get(f"/devices/{_mac(devices - 1)}")
        assert status == 200 and stats["probe_count"] == 3, (status, stats)
        print(
            f"recovery: a fresh worker rebuilt {devices:,} devices from the changelog in "
            f"{elapsed:.1f} s ({devices / elapsed:,.0f} keys/s, start → serving)"
        )
        wait_for(
            lambda: _listed(worker) == devices, 1800, "every device in the listing", interval=0.2
        )
        listed_s = time.perf_counter() - started
        print(f"listing: all {devices:,} devices listed {listed_s:.1f} s after start")
        assert worker.process is not None
        print(
            f"memory: worker RSS with {devices:,} devices, listing index built: "
            f"{_rss_mb(worker.process.pid):,.0f} MB"
        )
    finally:
        worker.stop()
        deployment.delete_topics()
        shutil.rmtree(scratch, ignore_errors=True)


def _listed(worker: Worker) -> int:
    """How many devices `GET /devices` counts (-1 while the listing is not ready)."""
    status, body = worker.get("/devices?limit=1")
    return int(body["count"]) if status == 200 else -1


def _rss_mb(pid: int) -> float:
    """Resident memory of a process (Linux /proc), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def failover() -> None:
    """Two workers; kill -9 one; time until a key it owned is served by the other."""
    scratch = Path(tempfile.mkdtemp(prefix="probewatch-failover-"))
    deployment = Deployment(data_dir=scratch, partitions=4)
    first, second = Worker(deployment).start(), Worker(deployment).start()
    try:
        first.wait_ready()
        second.wait_ready()
        macs = [_mac(i) for i in range(64)]
        produce_probes(deployment.prefix, [probe(mac, 1_700_000_000.0) for mac in macs])
        wait_for(lambda: all(first.get(f"/devices/{m}")[0] == 200 for m in macs), 60, "devices")
        owned = second.get("/cluster?scope=local")[1]["active"].get(f"{deployment.prefix}probes")
        theirs = [
            m for m in macs if (murmur2(m.encode()) & 0x7FFFFFFF) % deployment.partitions in owned
        ]
        second.stop(signal.SIGKILL)
        killed = time.perf_counter()
        wait_for(
            lambda: all(first.get(f"/devices/{m}")[0] == 200 for m in theirs[:8]),
            120,
            "the dead worker's keys served again",
            interval=0.1,
        )
        print(
            f"failover: kill -9 → the dead worker's keys served by the survivor in "
            f"{time.perf_counter() - killed:.1f} s (session timeout 10 s, standby replicas 1)"
        )
    finally:
        first.stop()
        second.stop(signal.SIGKILL)
        deployment.delete_topics()
        shutil.rmtree(scratch, ignore_errors=True)
