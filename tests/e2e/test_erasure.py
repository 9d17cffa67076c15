"""Erasing a device, end to end on the real Kafka: a real capture replayed, a device named, then
erased with `DELETE /devices/{mac}` (and another with `probewatch erase`): gone from every
route, from the lake's files (checked against tshark's counts for the others; its join to its
probable device too), from the
changelogs (a fresh worker rebuilt from them does not bring it back), and a probe heard
afterwards starts it afresh."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness import Deployment, Worker, http_json, wait_for
from tests.kafka_io import probe, produce_probes
from tests.lake_io import lake_sql
from tests.pcaps import capture
from tests.tshark import DeviceTruth, devices_by_tshark

CAPTURE = "probe-request-project__position_2"


@pytest.fixture(scope="module")
def replayed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Deployment, Worker, dict[str, DeviceTruth]]]:
    deployment = Deployment(
        data_dir=tmp_path_factory.mktemp("erasure"),
        partitions=2,
        extra_env={"PROBEWATCH_LAKE_FLUSH_S": "1"},
    )
    pcap = capture(CAPTURE)
    truth = devices_by_tshark(pcap)
    total = sum(device.count for device in truth.values())
    worker = Worker(deployment).start()
    try:
        worker.wait_ready()
        result = deployment.sniffer("replay", "--no-progress", str(pcap))
        assert result.returncode == 0, result.stderr
        wait_for(
            lambda: lake_sql(deployment, "select count(*) from probes") == [[total]],
            120,
            "every probe in the lake",
        )
        yield deployment, worker, truth
    finally:
        worker.stop()
        deployment.delete_topics()


def _busiest_with_ssid(truth: dict[str, DeviceTruth]) -> str:
    return max((d.count, mac) for mac, d in truth.items() if d.ssids)[1]


def _raw_zone_mentions(deployment: Deployment, mac: str, zone: str = "probes") -> list[str]:
    """The raw pieces that hold the MAC's records (in `groups`: its member updates; another
    member's may name it as their group's id)."""
    raw = deployment.data_dir / "lake" / "raw" / zone
    needle = mac.encode() if zone == "probes" else b'"mac":"' + mac.encode() + b'"'
    return [
        path.name
        for path in raw.glob("context_date=*/*.jsonl.gz")
        if needle in gzip.decompress(path.read_bytes())
    ]


def _joins(deployment: Deployment, mac: str) -> int:
    [[count]] = lake_sql(deployment, f"select count(*) from group_joins_files where mac = '{mac}'")
    return int(count)


def test_a_device_erased_through_the_api_is_gone_everywhere(
    replayed: tuple[Deployment, Worker, dict[str, DeviceTruth]],
) -> None:
    deployment, worker, truth = replayed
    mac = _busiest_with_ssid(truth)
    [ssid] = sorted(truth[mac].ssids)[:1]
    assert http_json(f"{worker.url}/devices/{mac}/name", "PUT", {"name": "Erase me"})[0] == 200
    assert _raw_zone_mentions(deployment, mac), "the capture put it in the raw zone"
    wait_for(lambda: _joins(deployment, mac) == 1, 120, "its join to its group in the lake")
    assert _raw_zone_mentions(deployment, mac, "groups")

    status, answer = http_json(f"{worker.url}/devices/{mac}", "DELETE")
    assert status == 200, answer
    assert answer == {
        "mac": mac,
        "erased": {"device": True, "history": True, "name": True, "ssids": 1, "lake": True},
    }
    assert worker.get(f"/devices/{mac}")[0] == 404
    history = worker.get(f"/devices/{mac}/activity")
    assert history[0] == 404 or history[1].get("buckets") in ([], None), history
    listed = wait_for(
        lambda: (lambda page: page if mac not in {d["mac"] for d in page["devices"]} else None)(
            worker.get("/devices?limit=500")[1]
        ),
        30,
        "gone from the listing",
    )
    assert len(listed["devices"]) == len(truth) - 1
    assert worker.get("/devices?name=Erase")[1]["devices"] == []
    wait_for(
        lambda: mac not in {d["mac"] for d in worker.get(f"/ssids/{ssid}")[1].get("devices", [])},
        30,
        "gone from the SSID index",
    )

    others = sum(d.count for m, d in truth.items() if m != mac)
    wait_for(
        lambda: (
            lake_sql(deployment, "select count(*), count(distinct mac) from probes")
            == [[others, len(truth) - 1]]
        ),
        60,
        "gone from the lake's enriched files",
    )
    assert lake_sql(deployment, f"select count(*) from probes_files where mac = '{mac}'") == [[0]]
    wait_for(lambda: not _raw_zone_mentions(deployment, mac), 30, "gone from the raw zone")
    wait_for(lambda: _joins(deployment, mac) == 0, 30, "its join gone from the lake")
    assert not _raw_zone_mentions(deployment, mac, "groups")

    produce_probes(deployment.prefix, [probe(mac, 1_800_000_000.0, "Fresh")])
    fresh = wait_for(
        lambda: (lambda got: got[1] if got[0] == 200 else None)(worker.get(f"/devices/{mac}")),
        30,
        "heard again",
    )
    assert fresh["probe_count"] == 1 and fresh["ssids"] == ["Fresh"] and fresh["name"] is None


def test_an_erasure_from_the_command_line_and_a_worker_rebuilt_from_the_changelogs(
    replayed: tuple[Deployment, Worker, dict[str, DeviceTruth]], tmp_path: Any
) -> None:
    deployment, worker, truth = replayed
    ranked = sorted(truth, key=lambda m: -truth[m].count)
    mac = ranked[1] if ranked[0] == _busiest_with_ssid(truth) else ranked[0]
    assert deployment.probewatch("erase", "not-a-mac").returncode == 2
    result = deployment.probewatch("erase", mac.upper())
    assert result.returncode == 0, result.stderr
    wait_for(lambda: worker.get(f"/devices/{mac}")[0] == 404, 30, "erased by the CLI")
    keep = next(m for m in ranked if m != mac and m != _busiest_with_ssid(truth))
    assert worker.get(f"/devices/{keep}")[1]["probe_count"] == truth[keep].count

    worker.stop()  # a fresh worker, with no local state, reads every table back from Kafka
    rebuilt_dir = Deployment(
        data_dir=tmp_path, prefix=deployment.prefix, partitions=deployment.partitions
    )
    rebuilt_dir.extra_env = {**deployment.extra_env, "PROBEWATCH_LAKE": ""}
    with Worker(rebuilt_dir) as rebuilt:
        wait_for(lambda: rebuilt.get(f"/devices/{keep}")[0] == 200, 60, "rebuilt")
        assert rebuilt.get(f"/devices/{mac}")[0] == 404
        assert rebuilt.get(f"/devices/{keep}")[1]["probe_count"] == truth[keep].count
    worker.start()
