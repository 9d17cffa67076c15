"""Scale-out and failure: several workers, kill -9, a worker joining mid-ingest, a broker restart.

Every count is checked against the producer's own record of what Kafka acknowledged.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from aiokafka.partitioner import murmur2
from confluent_kafka import Producer

from tests.harness import BOOTSTRAP, REPO_ROOT, Deployment, Worker, wait_for
from tests.kafka_io import probe
from tests.pcaps import captures
from tests.tshark import devices_by_tshark
from tests.workdir import empty_workdir


class SteadyProbes(threading.Thread):
    """Produces probes for `macs` at about `rate`/s until stopped; counts what Kafka acked."""

    def __init__(self, prefix: str, macs: list[str], rate: float) -> None:
        super().__init__(daemon=True)
        self.topic = f"{prefix}probes"
        self.macs = macs
        self.rate = rate
        self.acked: Counter[str] = Counter()
        self.acked_by_ssid: dict[str, Counter[str]] = {}
        self.failed = 0
        self._halt = threading.Event()

    def _delivered(self, err: Any, message: Any) -> None:
        if err is None:
            mac = message.key().decode()
            self.acked[mac] += 1
            ssid = orjson.loads(message.value())["ssid"]
            self.acked_by_ssid.setdefault(ssid, Counter())[mac] += 1
        else:
            self.failed += 1

    def run(self) -> None:
        producer = Producer(
            {
                "bootstrap.servers": BOOTSTRAP,
                "partitioner": "murmur2_random",
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 5,
                "message.timeout.ms": 120_000,
            }
        )
        sent = 0
        started = time.monotonic()
        while not self._halt.is_set():
            mac = self.macs[sent % len(self.macs)]
            value = orjson.dumps(probe(mac, 1_700_000_000 + sent * 0.001, f"net{sent % 7}"))
            producer.produce(self.topic, key=mac.encode(), value=value, on_delivery=self._delivered)
            sent += 1
            producer.poll(0)
            ahead = sent / self.rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        assert producer.flush(120) == 0

    def stop(self) -> None:
        self._halt.set()
        self.join(150)


def _macs(n: int) -> list[str]:
    return [f"02:00:5e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}" for i in range(n)]


def _exact(workers: list[Worker], expected: Counter[str]) -> list[Any]:
    """Devices whose count differs from what was produced, as seen from every worker."""
    wrong = []
    for worker in workers:
        for mac, count in expected.items():
            status, stats = worker.get(f"/devices/{mac}")
            if status != 200 or stats["probe_count"] != count:
                wrong.append(
                    (
                        worker.port,
                        mac,
                        status,
                        stats.get("probe_count") if status == 200 else stats,
                        count,
                    )
                )
    return wrong


def _wait_exact(workers: list[Worker], expected: Counter[str], when: str) -> None:
    """Until every count is exact; an over-count fails at once (it can never heal)."""
    deadline = time.monotonic() + 240
    while True:
        wrong = _exact(workers, expected)
        over = [w for w in wrong if isinstance(w[3], int) and w[3] > w[4]]
        assert not over, f"counted twice {when}: {over[:5]}"
        if not wrong:
            return
        assert time.monotonic() < deadline, f"{len(wrong)} counts still short {when}: {wrong[:5]}"
        time.sleep(1)


def _owns_probes(worker: Worker) -> bool:
    status, body = worker.get("/health")
    return status == 200 and any(
        tp.startswith(f"{worker.deployment.prefix}probes:") for tp in body["assigned"]
    )


@pytest.fixture()
def workers(deployment: Deployment) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop(signal.SIGKILL)


def _start(deployment: Deployment, workers: list[Worker], count: int) -> list[Worker]:
    new = [Worker(deployment).start() for _ in range(count)]
    workers.extend(new)
    for worker in new:
        worker.wait_ready()
    return new


def test_three_workers_answer_every_device_identically_and_correctly(
    deployment: Deployment, workers: list[Worker]
) -> None:
    capture, extra = captures(
        "probe-request-project__position_2__sc6-61_2024-03-31_anonymized.pcap",
        "proberequest_data_analyse__probes-2013-03-17.pcap0",
    )
    trio = _start(deployment, workers, 3)
    wait_for(lambda: all(_owns_probes(w) for w in trio), 90, "all three workers own partitions")
    truth = devices_by_tshark(capture, extra)
    assert deployment.sniffer("replay", "--no-progress", str(capture), str(extra)).returncode == 0
    expected = Counter({mac: device.count for mac, device in truth.items()})
    wait_for(lambda: not _exact(trio[:1], expected), 90, "every device counted")
    # A device's group is decided a moment after its probes pause; from then on it stays.
    wait_for(
        lambda: all(trio[0].get(f"/devices/{mac}")[1]["group"] for mac in truth),
        60,
        "every device in its probable device",
    )
    answers = [{mac: w.get(f"/devices/{mac}")[1] for mac in truth} for w in trio]
    assert answers[0] == answers[1] == answers[2]
    for mac, device in truth.items():
        assert sorted(device.ssids) == answers[0][mac]["ssids"]
    cluster = trio[2].get("/cluster")[1]
    owners = [set(w["active"].get(f"{deployment.prefix}probes", [])) for w in cluster["workers"]]
    assert len(owners) == 3 and all(owners), "every worker owns probe partitions"
    assert set().union(*owners) == set(range(deployment.partitions))


def test_kill_9_under_load_loses_and_doubles_nothing(
    deployment: Deployment, workers: list[Worker]
) -> None:
    """Offsets are committed once an hour here, so what the killed worker processed is sure to
    be delivered again to the one taking over: its skipping is shown, not assumed."""
    deployment.extra_env["PROBEWATCH_COMMIT_INTERVAL_S"] = "3600"
    first, second = _start(deployment, workers, 2)
    wait_for(
        lambda: _owns_probes(first) and _owns_probes(second), 90, "both workers own partitions"
    )
    macs = _macs(400)
    stream = SteadyProbes(deployment.prefix, macs, rate=400)
    stream.start()
    wait_for(lambda: _accepted(second) >= 1000, 60, "the second worker busy with its share")
    victim_keys = [m for m in macs if _owner(first, m) == second.url][:5]
    assert victim_keys, "the second worker owns some of the keys"
    second.stop(signal.SIGKILL)
    killed_at = time.monotonic()
    wait_for(
        lambda: all(first.get(f"/devices/{m}")[0] == 200 for m in victim_keys),
        90,
        "the dead worker's keys served again",
    )
    failover_s = time.monotonic() - killed_at
    print(f"failover: dead worker's keys served again {failover_s:.1f} s after kill -9")
    taken_over = _accepted(first)
    wait_for(lambda: _accepted(first) >= taken_over + 1000, 60, "the load going on after it")
    stream.stop()
    assert stream.failed == 0
    _wait_exact([first], stream.acked, "after the kill")
    assert first.counters().get("probes.duplicates_skipped", 0) > 0, "nothing was re-delivered"
    for ssid, devices in sorted(stream.acked_by_ssid.items()):
        want = {"probe_count": sum(devices.values()), "devices": dict(devices)}
        wait_for(lambda s=ssid, w=want: _ssid_seen(first, s) == w, 60, f"{ssid} exact")


def _accepted(worker: Worker) -> int:
    return worker.counters().get("probes.accepted", 0)


def _ssid_seen(worker: Worker, ssid: str) -> dict[str, Any] | None:
    """An SSID's probe count and per-device counts, as the worker serves them."""
    status, body = worker.get(f"/ssids/{ssid}")
    if status != 200:
        return None
    return {
        "probe_count": body["probe_count"],
        "devices": {d["mac"]: d["probe_count"] for d in body["devices"]},
    }


def _owner(worker: Worker, mac: str) -> str | None:
    """The URL of the worker that owns the MAC's partition, by /cluster and Java's murmur2."""
    partitions = worker.deployment.partitions
    partition = (murmur2(mac.encode()) & 0x7FFFFFFF) % partitions
    topic = f"{worker.deployment.prefix}probes"
    for share in worker.get("/cluster")[1]["workers"]:
        if partition in share["active"].get(topic, []):
            return str(share["worker"])
    return None


def test_worker_added_during_ingest_loses_and_doubles_nothing(
    deployment: Deployment, workers: list[Worker]
) -> None:
    [first] = _start(deployment, workers, 1)
    stream = SteadyProbes(deployment.prefix, _macs(300), rate=400)
    stream.start()
    wait_for(lambda: _accepted(first) >= 1000, 60, "the first worker busy")
    [second] = _start(deployment, workers, 1)
    wait_for(lambda: _owns_probes(second), 90, "the new worker takes over partitions")
    wait_for(lambda: _accepted(second) >= 500, 60, "the new worker counting its share")
    stream.stop()
    assert stream.failed == 0
    _wait_exact([first, second], stream.acked, "after the join")


def test_broker_restart_mid_stream_loses_nothing(
    deployment: Deployment, workers: list[Worker]
) -> None:
    if BOOTSTRAP not in ("localhost:9092", "127.0.0.1:9092"):
        pytest.skip("restarts only the local broker that `make kafka` manages")
    [worker] = _start(deployment, workers, 1)
    [capture] = captures("probe-request-project__position_1__sc6-61_2023-03-14_anonymized.pcap")
    truth = devices_by_tshark(capture)
    kafka_sh = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"
    replay = subprocess.Popen(
        [
            str(REPO_ROOT / ".venv/bin/probewatch-sniffer"),
            "replay",
            "--no-progress",
            "--speed",
            "4000",
            str(capture),
        ],
        env=deployment.env(),
        cwd=empty_workdir(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)
        subprocess.run([str(kafka_sh), "stop"], check=True, timeout=60)
        time.sleep(3)
        subprocess.run([str(kafka_sh), "start"], check=True, timeout=120)
        out, err = replay.communicate(timeout=300)
    finally:
        if replay.poll() is None:
            replay.kill()
        subprocess.run([str(kafka_sh), "start"], timeout=120)
    assert replay.returncode == 0, f"{out}\n{err}"
    expected = Counter({mac: d.count for mac, d in truth.items()})
    assert f"{sum(expected.values())} acknowledged" in out, out
    _wait_exact([worker], expected, "after the broker restart")
