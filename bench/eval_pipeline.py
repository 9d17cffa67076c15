"""The labelled crowd through the real pipeline: `python -m bench.eval_groups --pipeline`.

The crowd is prepared exactly as the offline evaluation prepares it (`eval_groups.crowd`: read
with the sniffer's parser, the devices' own MACs, shifted to a common start, frames captured
twice dropped, the randomized bit restored where the captures were anonymised), then produced
in capture-time order by the sniffer's own producer (`sniffer.producer.ProbeProducer`, packed
per partition as `probewatch-sniffer replay` sends them) into a deployment of its own on the
local Kafka, where real workers fold them: `probes` → re-key → shards → assignments → groups.
Each labelled MAC's group is then read back as a user would, from `GET /devices/{mac}` (and
whether its group is in doubt), and scored like the offline answer.

Both feed the grouper the same probes; what can differ is the order: the pipeline folds a
shard's probes a flush at a time, each flush's in capture-time order, while the offline
grouper sees the whole crowd in order. `agreement` says how many MACs end up in exactly the
same group both ways.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from app.models import ProbeEvent
from sniffer.event import ProbeEvent as SnifferProbe
from sniffer.producer import ProbeProducer
from tests.harness import BOOTSTRAP, Deployment, Worker, http_json, kafka_reachable, wait_for

#: How long the workers may take to decide every MAC once the last probe is produced.
SETTLE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Served:
    """What the workers serve for the crowd: each MAC's group, the groups in doubt, and how
    long it took from the first probe produced until every MAC had its group."""

    groups: dict[str, str]
    doubtful: frozenset[str]
    seconds: float


def through_pipeline(
    probes: list[ProbeEvent],
    macs: list[str],
    *,
    workers: int = 1,
    partitions: int = 8,
    data_dir: Path | None = None,
    out: Callable[[str], None] = print,
) -> Served:
    """Replay `probes` through a fresh deployment and read every MAC's group back."""
    if not kafka_reachable():
        raise SystemExit(f"no Kafka at {BOOTSTRAP}: run `make kafka` first")
    scratch = data_dir or Path(tempfile.mkdtemp(prefix="probewatch-eval-"))
    deployment = Deployment(
        data_dir=scratch,
        partitions=partitions,
        extra_env={"PROBEWATCH_LAKE": "", "PROBEWATCH_HISTORY": "true"},
    )
    running = [Worker(deployment).start() for _ in range(workers)]
    try:
        for worker in running:
            worker.wait_ready()
        started = time.perf_counter()
        produce(deployment, probes, partitions)
        wait_for(
            lambda: _grouped(running) >= len(macs),
            SETTLE_TIMEOUT_S,
            f"every one of {len(macs)} MACs to have its group",
            interval=0.2,
        )
        seconds = time.perf_counter() - started
        groups, doubtful = read_groups(running[0].url, macs)
        out(
            f"through the pipeline ({workers} worker{'s' if workers > 1 else ''}, "
            f"{partitions} partitions): {len(probes):,} probes produced, every MAC grouped "
            f"{seconds:.1f} s after the first"
        )
        return Served(groups, doubtful, seconds)
    finally:
        for worker in running:
            worker.stop()
        deployment.delete_topics()
        if data_dir is None:
            shutil.rmtree(scratch, ignore_errors=True)


def produce(deployment: Deployment, probes: list[ProbeEvent], partitions: int) -> None:
    """The probes, in order, through the sniffer's producer (packed per partition)."""
    producer = ProbeProducer(BOOTSTRAP, f"{deployment.prefix}probes", batch_size=500)
    producer.ensure_topic(partitions)
    for probe in probes:
        producer.send(
            SnifferProbe(
                ts=probe.ts,
                mac=probe.mac,
                ssid=probe.ssid,
                ssid_hex=probe.ssid_hex,
                rssi_dbm=probe.rssi_dbm,
                freq_mhz=probe.freq_mhz,
                seq=probe.seq,
                randomized=probe.randomized,
                sensor=probe.sensor,
                ie_fingerprint=probe.ie_fingerprint,
            )
        )
    report = producer.flush(60)
    producer.close()
    if not report.ok:
        raise RuntimeError(f"Kafka did not take every probe: {report}")


def _grouped(workers: list[Worker]) -> int:
    """MACs whose device took a group, over every worker."""
    total = 0
    for worker in workers:
        counts = worker.counters()
        total += counts.get("group-assignments.taken", 0) + counts.get("groups.alone", 0)
    return total


def read_groups(url: str, macs: list[str]) -> tuple[dict[str, str], frozenset[str]]:
    """Each MAC's group and the groups in doubt, as `GET /devices/{mac}` answers."""

    def one(mac: str) -> tuple[str, str | None, bool]:
        status, body = http_json(f"{url}/devices/{urllib.parse.quote(mac)}")
        if status != 200:
            raise RuntimeError(f"GET /devices/{mac} answered {status}: {body}")
        return mac, body["group"], body["group_in_doubt"]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, macs))
    groups = {mac: group for mac, group, _ in answers if group is not None}
    doubtful = frozenset(group for _, group, doubt in answers if doubt and group is not None)
    return groups, doubtful


def agreement(a: dict[str, str], b: dict[str, str]) -> tuple[int, int]:
    """(MACs with the same group id in both answers, MACs in either). A group's id is the MAC
    it began with, decided by the same rules both ways, so ids can be compared as they are;
    where they differ, only the MACs that moved count (a MAC heard under two fingerprints is
    decided twice, and keeps whichever decision reaches it first)."""
    every = a.keys() | b.keys()
    return sum(1 for mac in every if a.get(mac) == b.get(mac)), len(every)
