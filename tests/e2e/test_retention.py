"""Retention end to end on the real Kafka, with a short window: a capture from 2024 replayed and
a few devices heard now; the old devices are forgotten by every route, by the changelogs (a fresh
worker rebuilt from them does not bring them back) and by the enriched lake (their days are
deleted); the devices heard now stay; the raw topics keep records no longer than the window."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from tests.harness import BOOTSTRAP, Deployment, Worker, http_json, wait_for
from tests.kafka_io import probe, produce_probes
from tests.lake_io import lake_sql
from tests.pcaps import capture
from tests.tshark import DeviceTruth, devices_by_tshark

CAPTURE = "probe-request-project__position_2"
FRESH = ["f0:18:98:aa:00:01", "f0:18:98:aa:00:02"]


@pytest.fixture(scope="module")
def swept(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Deployment, Worker, dict[str, DeviceTruth]]]:
    deployment = Deployment(
        data_dir=tmp_path_factory.mktemp("retention"),
        partitions=2,
        extra_env={
            "PROBEWATCH_RETENTION_DAYS": "1",
            "PROBEWATCH_RETENTION_SWEEP_S": "2",
            "PROBEWATCH_LAKE_FLUSH_S": "1",
            "PROBEWATCH_LAKE_COMPACT_S": "2",
        },
    )
    pcap = capture(CAPTURE)
    truth = devices_by_tshark(pcap)
    worker = Worker(deployment).start()
    try:
        worker.wait_ready()
        now = time.time()
        produce_probes(deployment.prefix, [probe(mac, now, "Kept") for mac in FRESH])
        result = deployment.sniffer("replay", "--no-progress", str(pcap))
        assert result.returncode == 0, result.stderr
        yield deployment, worker, truth
    finally:
        worker.stop()
        deployment.delete_topics()


def _listed(worker: Worker) -> set[str]:
    status, page = http_json(f"{worker.url}/devices?limit=500")
    assert status == 200, page
    return {device["mac"] for device in page["devices"]}


def test_devices_unheard_for_longer_than_the_window_are_forgotten(
    swept: tuple[Deployment, Worker, dict[str, DeviceTruth]], tmp_path: Path
) -> None:
    deployment, worker, truth = swept
    wait_for(lambda: worker.counters().get("probes.erased.retention", 0) >= len(truth), 90, "swept")
    wait_for(lambda: _listed(worker) == set(FRESH), 30, "only the devices heard now listed")
    for mac in list(truth)[:5]:
        assert worker.get(f"/devices/{mac}")[0] == 404
    for mac in FRESH:
        assert worker.get(f"/devices/{mac}")[1]["probe_count"] == 1
    [ssid] = sorted({s for device in truth.values() for s in device.ssids})
    assert worker.get(f"/ssids/{ssid}")[0] == 404, "an SSID no device is left for goes too"
    wait_for(
        lambda: (
            lake_sql(deployment, "select count(*), count(distinct mac) from probes")
            == [[len(FRESH), len(FRESH)]]
        ),
        60,
        "the capture's days deleted from the enriched lake",
    )
    days = deployment.data_dir / "lake" / "enriched" / "probes"
    assert sorted(p.name for p in days.glob("day=*")) == [
        time.strftime("day=%Y-%m-%d", time.gmtime())
    ]

    worker.stop()  # a worker with no local state reads every table back from the changelogs
    rebuilt = Deployment(
        data_dir=tmp_path,
        prefix=deployment.prefix,
        partitions=deployment.partitions,
        extra_env={"PROBEWATCH_LAKE": ""},
    )
    with Worker(rebuilt) as fresh:
        wait_for(lambda: fresh.get(f"/devices/{FRESH[0]}")[0] == 200, 60, "rebuilt")
        assert _listed(fresh) == set(FRESH)
    worker.start()


def test_raw_topics_keep_records_no_longer_than_the_window(
    swept: tuple[Deployment, Worker, dict[str, DeviceTruth]],
) -> None:
    deployment, _, _ = swept
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    day_ms = str(86_400_000)
    for name, want in (
        ("probes", day_ms),
        ("telegram-updates", day_ms),
        ("dead-letters", day_ms),
        ("group-members", day_ms),
        ("group-assignments", day_ms),
        ("device-names", None),
    ):
        resource = ConfigResource(ResourceType.TOPIC, f"{deployment.prefix}{name}")
        config = admin.describe_configs([resource])[resource].result()
        if want is None:
            assert config["cleanup.policy"].value == "compact"
        else:
            assert config["retention.ms"].value == want, name
