"""The device listing at scale: `GET /devices?limit=50` (newest first) over 1,000,000 devices held
by 2 workers, at a fixed request rate; and what the index costs in memory.

The devices are seeded as `bench.scale.recovery` seeds them: rows written straight to the
`devices` changelog, which the workers restore and then index.
"""

from __future__ import annotations

import asyncio
import gc
import shutil
import tempfile
import time
from pathlib import Path

import orjson
from aiokafka.partitioner import murmur2
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from app.logic.listing import DeviceIndex
from bench.latency import fixed_rate_gets
from bench.scale import _mac, _rss_mb, _state
from tests.harness import BOOTSTRAP, Deployment, Worker, wait_for

PATH = "/devices?limit=50"


def listing(devices: int, rps: int, seconds: float) -> dict[str, float]:
    """Seed `devices` rows, start two workers, time the first page; print and return figures."""
    figures = {"index_mb_per_100k": _index_memory_mb(min(devices // 2, 500_000))}
    scratch = Path(tempfile.mkdtemp(prefix="probewatch-listing-"))
    deployment = Deployment(data_dir=scratch)
    try:
        _seed(deployment, devices)
        workers = [Worker(deployment).start(), Worker(deployment).start()]
        started = time.perf_counter()
        try:
            for worker in workers:
                worker.wait_ready(timeout=1800)
            wait_for(
                lambda: all(_count(worker) == devices for worker in workers),
                1800,
                "both workers list every device",
                interval=0.5,
            )
            ready_s = time.perf_counter() - started
            print(
                f"listing: 2 workers restored and indexed {devices:,} devices in {ready_s:.1f} s "
                f"(start → every device listed by both)"
            )
            report = asyncio.run(fixed_rate_gets(workers[0].url, [PATH], rps, seconds))
            print(
                f"listing: GET {PATH} at {rps} req/s for {seconds:g} s over {devices:,}: {report}"
            )
            figures.update(p50_ms=report.p50_ms, p99_ms=report.p99_ms)
            for number, worker in enumerate(workers, 1):
                assert worker.process is not None
                print(f"memory: worker {number} RSS: {_rss_mb(worker.process.pid):,.0f} MB")
        finally:
            for worker in workers:
                worker.stop()
    finally:
        deployment.delete_topics()
        shutil.rmtree(scratch, ignore_errors=True)
    return figures


def _seed(deployment: Deployment, devices: int) -> None:
    topic = f"{deployment.prefix}probewatch-devices-changelog"
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    admin.create_topics(
        [NewTopic(topic, deployment.partitions, 1, config={"cleanup.policy": "compact"})]
    )[topic].result()
    producer = Producer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 2_000_000,
        }
    )
    started = time.perf_counter()
    for i in range(devices):
        key = _mac(i).encode()
        partition = (murmur2(key) & 0x7FFFFFFF) % deployment.partitions
        producer.produce(topic, key=key, value=_state(i), partition=partition)
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(300) == 0
    print(f"listing set-up: {devices:,} changelog rows in {time.perf_counter() - started:.1f} s")


def _count(worker: Worker) -> int | None:
    status, body = worker.get("/devices?limit=1")
    return body["count"] if status == 200 else None


def _index_memory_mb(devices: int) -> float:
    """The resident memory one worker's index of `devices` adds (this process's RSS before and
    after building one from the same rows), printed per 100,000 devices."""
    rows = [(_mac(i), orjson.loads(_state(i))) for i in range(devices)]
    gc.collect()
    before = _rss_mb_self()
    index = DeviceIndex()
    started = time.perf_counter()
    index.upsert_many(rows)
    built_s = time.perf_counter() - started
    gc.collect()
    added = _rss_mb_self() - before
    per_100k = added / devices * 100_000
    print(
        f"listing: index of {len(index):,} devices: +{added:,.0f} MB RSS "
        f"({per_100k:.1f} MB per 100k devices), built in {built_s:.1f} s"
    )
    return per_100k


def _rss_mb_self() -> float:
    return _rss_mb(int(Path("/proc/self/stat").read_text().split()[0]))
