"""History on the real Kafka: a real capture replayed through the sniffer into two workers,
`GET /activity` and `GET /devices/{mac}/activity` compared with per-minute and per-hour counts
made here from tshark's timestamps (the independent reference), from either worker.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.harness import Deployment, Worker, wait_for
from tests.kafka_io import partition_for, produce_probes
from tests.kafka_io import probe as probe_value
from tests.pcaps import captures
from tests.tshark import TsharkProbe, tshark_probes

#: 25,445 probe requests of 4,619 devices over six hours, in capture order.
CAPTURE = "probe-request-project__position_1__sc6-61_2023-03-14_anonymized.pcap"
PARTITIONS = 6
SIZES = {"minute": 60, "hour": 3600}


@dataclass
class Truth:
    """What tshark says, bucketed here: per bucket start, the probes and the devices."""

    probes: list[TsharkProbe]
    per: dict[str, dict[int, list[TsharkProbe]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for resolution, size in SIZES.items():
            buckets: dict[int, list[TsharkProbe]] = defaultdict(list)
            for probe in self.probes:
                buckets[int(probe.ts // size) * size].append(probe)
            self.per[resolution] = buckets

    def counts(self, resolution: str, start: int) -> tuple[int, int, int]:
        """Probes, distinct devices, and devices whose first probe of the capture is in it."""
        size = SIZES[resolution]
        here = self.per[resolution].get(start, [])
        first = {p.mac: p.ts for p in reversed(self.probes)}
        new = sum(1 for ts in first.values() if start <= ts < start + size)
        return len(here), len({p.mac for p in here}), new


@pytest.fixture(scope="module")
def replayed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Truth, Worker, Worker]]:
    """The capture replayed into two workers, both ready and every probe counted."""
    deployment = Deployment(data_dir=tmp_path_factory.mktemp("activity"), partitions=PARTITIONS)
    workers = Worker(deployment).start(), Worker(deployment).start()
    try:
        for worker in workers:
            worker.wait_ready()
        wait_for(lambda: _each_reads_probes(*workers), 60, "both workers own probe partitions")
        [path] = captures(CAPTURE)
        truth = Truth(tshark_probes(path, damaged_ok=False))
        replay = deployment.sniffer("replay", "--no-progress", str(path))
        assert replay.returncode == 0, replay.stderr
        wait_for(
            lambda: (
                sum(w.counters().get("probes.accepted", 0) for w in workers) >= len(truth.probes)
            ),
            180,
            "every probe of the capture counted",
        )
        _wait_grouped(workers, len({p.mac for p in truth.probes}))
        yield truth, *workers
    finally:
        for worker in workers:
            worker.stop()
        deployment.delete_topics()


def _wait_grouped(workers: tuple[Worker, Worker], macs: int) -> None:
    """Until every MAC took its probable device and the probable devices per hour stopped
    moving (they are counted a hop after the MACs take their groups)."""
    wait_for(
        lambda: (
            sum(
                w.counters().get("group-assignments.taken", 0) + w.counters().get("groups.alone", 0)
                for w in workers
            )
            >= macs
        ),
        120,
        "every MAC grouped",
    )
    seen: list[object] = []

    def still() -> bool:
        seen.append(workers[0].get("/activity?resolution=day"))
        return len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3]

    wait_for(still, 60, "the probable devices counted", interval=1.0)


def _each_reads_probes(*workers: Worker) -> bool:
    return all(
        any(
            tp.startswith(f"{w.deployment.prefix}probes:") for tp in w.get("/health")[1]["assigned"]
        )
        for w in workers
    )


@pytest.mark.parametrize("resolution", ["minute", "hour"])
def test_deployment_activity_is_tsharks_count_from_either_worker(
    replayed: tuple[Truth, Worker, Worker], resolution: str
) -> None:
    truth, first, second = replayed
    since, until = truth.probes[0].ts, truth.probes[-1].ts
    query = f"/activity?resolution={resolution}&since={since}&until={until}"
    status, answer = first.get(query)
    assert status == 200, answer
    assert second.get(query) == (200, answer), "the two workers answer differently"
    size = SIZES[resolution]
    expected_starts = list(range(int(since // size) * size, int(until // size) * size + size, size))
    assert [b["start_ts"] for b in answer["buckets"]] == expected_starts
    wrong = [
        (b["start"], got, want)
        for b in answer["buckets"]
        if (got := (b["probes"], b["devices"], b["new_devices"]))
        != (want := truth.counts(resolution, b["start_ts"]))
    ]
    assert not wrong, f"{len(wrong)} of {len(answer['buckets'])} buckets differ, e.g. {wrong[:3]}"
    assert sum(b["probes"] for b in answer["buckets"]) == len(truth.probes)
    assert answer["newest_ts"] == int(until // 60) * 60


def _busiest(truth: Truth, count: int) -> list[str]:
    per_device: dict[str, int] = defaultdict(int)
    for probe in truth.probes:
        per_device[probe.mac] += 1
    ranked = sorted(per_device, key=lambda mac: (-per_device[mac], mac))
    return ranked[:count] + [mac for mac in ranked if per_device[mac] == 1][:2]


def test_device_activity_is_tsharks_count_from_either_worker(
    replayed: tuple[Truth, Worker, Worker],
) -> None:
    truth, first, second = replayed
    for mac in _busiest(truth, 4):
        status, answer = first.get(f"/devices/{mac.upper()}/activity")
        assert status == 200, answer
        assert second.get(f"/devices/{mac}/activity") == (200, answer)
        mine = [p for p in truth.probes if p.mac == mac]
        partition = partition_for(mac.encode(), PARTITIONS)
        partition_newest = max(
            p.ts for p in truth.probes if partition_for(p.mac.encode(), PARTITIONS) == partition
        )
        assert answer["as_of_ts"] == int(partition_newest // 60) * 60, mac
        for series, resolution in (("minutes", "minute"), ("hours", "hour")):
            size = SIZES[resolution]
            buckets = answer[series]["buckets"]
            for bucket in buckets:
                inside = [p for p in mine if bucket["start_ts"] <= p.ts < bucket["start_ts"] + size]
                signal = [p.signal for p in inside if p.signal is not None]
                want = (len(inside), min(signal, default=None), max(signal, default=None))
                got = (bucket["probes"], bucket["rssi_min_dbm"], bucket["rssi_max_dbm"])
                assert got == want, (mac, series, bucket["start"])
            if series == "hours":
                assert sum(b["probes"] for b in buckets) == len(mine), mac


def test_unknown_device_bad_mac_and_bad_parameters(
    replayed: tuple[Truth, Worker, Worker],
) -> None:
    _, first, _ = replayed
    status, body = first.get("/devices/00:00:5e:00:53:01/activity")
    assert status == 404 and "no probes seen" in body["error"]
    status, body = first.get("/devices/not-a-mac/activity")
    assert status == 400 and "not a MAC address" in body["error"]
    ahead = "f0:18:98:00:99:01"
    produce_probes(first.deployment.prefix, [probe_value(ahead, time.time() + 3 * 86_400)])
    wait_for(lambda: first.get(f"/devices/{ahead}")[0] == 200, 60, "the device ahead counted")
    status, body = first.get(f"/devices/{ahead}/activity")
    assert status == 404 and "no history" in body["error"], body
    for query, parameter in (
        ("resolution=week", "resolution"),
        ("since=yesterday", "since"),
        ("until=2200-01-01", "until"),
        ("since=2024-02-01&until=2024-01-01", "since"),
    ):
        status, body = first.get(f"/activity?{query}")
        assert status == 400 and body["parameter"] == parameter, (query, body)


def test_answers_are_whole_or_refused_while_a_third_worker_joins(
    replayed: tuple[Truth, Worker, Worker],
) -> None:
    """During the rebalance a worker may refuse (503), never answer with part of the counts;
    once the third has joined, all three answer the same."""
    truth, first, second = replayed
    query = f"/activity?resolution=hour&since={truth.probes[0].ts}&until={truth.probes[-1].ts}"
    status, whole = first.get(query)
    assert status == 200
    third = Worker(first.deployment).start()
    answers: Counter[int] = Counter()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            # Once the third serves, it is asked too; it answers whole once it knows the group.
            joined = _serving(third)
            workers = (first, second, third) if joined else (first, second)
            results = [worker.get(query) for worker in workers]
            for status, body in results:
                answers[status] += 1
                assert status in (200, 503), (status, body)
                assert status == 503 or body == whole, "a partial answer during the rebalance"
            if joined and all(status == 200 for status, _ in results):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"the third worker never answered whole: {dict(answers)}")
    finally:
        third.stop()
    wait_for(
        lambda: first.get(query) == second.get(query) == (200, whole),
        120,
        "the two workers answer whole again after the third left",
    )


def _serving(worker: Worker) -> bool:
    try:
        return worker.get("/health")[0] == 200
    except OSError:
        return False
