"""Pseudonyms at the sensor, end to end: real captures replayed with PROBEWATCH_PSEUDONYMIZE=hmac
(SSIDs too) through the real sniffer into Kafka and a worker.

No real MAC, real SSID, unkeyed fingerprint or key of the captures appears in any topic's raw
records, any answer of the worker, the lake, the worker's files, or any log line of the sniffer
or the worker. Each device keeps one pseudonym, and per real MAC its probes are what tshark counts
(the pseudonym of each real MAC asked of `probewatch-sniffer pseudonym`, as a user would). The
key lives in a folder of the sensor's own: the worker's environment never holds it.
"""

from __future__ import annotations

import gzip
import re
import stat
import subprocess
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer, KafkaError

from sniffer.capture import read_capture
from sniffer.parse import MalformedFrame, parse_frame
from tests.harness import BOOTSTRAP, VENV_BIN, Deployment, Worker, http_json, wait_for
from tests.lake_io import lake_sql
from tests.pcaps import captures
from tests.tshark import DeviceTruth, devices_by_tshark
from tests.workdir import empty_workdir

CAPTURES = [
    "probe-request-project__position_2__sc6-61_2024-03-31_anonymized.pcap",  # radiotap, 22 MACs
    "Wireless-Internet-Project_MAC-Randomization__Samsung__04_SamsungA53_01.pcapng",  # SSIDs, FCS
    "proberequest_data_analyse__probes-2013-03-17.pcap0",  # 50 globally administered MACs
]
SENSOR = "roof-sensor"


@dataclass
class Replayed:
    deployment: Deployment
    worker: Worker
    truth: dict[str, DeviceTruth]
    macs: dict[str, str]  # real MAC -> pseudonym, as `probewatch-sniffer pseudonym` says
    ssids: dict[str, str]  # real SSID (text form) -> pseudonym
    key_text: str
    sniffer_output: str
    watched: str  # a real SSID whose pseudonym was watched before the replay


def _sensor(deployment: Deployment, key: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`probewatch-sniffer ARGS` on the sensor: the deployment's settings and the key."""
    env = deployment.env(
        PROBEWATCH_PSEUDONYMIZE="hmac",
        PROBEWATCH_PSEUDONYM_KEY_FILE=str(key),
        PROBEWATCH_PSEUDONYM_SSIDS="true",
        PROBEWATCH_SENSOR=SENSOR,
    )
    return subprocess.run(
        [str(VENV_BIN / "probewatch-sniffer"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=empty_workdir(),
    )


def _pairs(output: str) -> dict[str, str]:
    return dict(line.split("\t") for line in output.splitlines())


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replayed]:
    paths = captures(*CAPTURES)
    truth = devices_by_tshark(*paths)
    sensor_dir = tmp_path_factory.mktemp("sensor")
    key = sensor_dir / "pseudonym.key"
    deployment = Deployment(
        data_dir=tmp_path_factory.mktemp("pseudonyms"),
        partitions=4,
        extra_env={"PROBEWATCH_LAKE_FLUSH_S": "1", "PROBEWATCH_LOG_LEVEL": "debug"},
    )
    made = _sensor(deployment, key, "pseudonym-key", str(key))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    key_text = key.read_text().strip()

    looked_up = _sensor(deployment, key, "pseudonym", *truth)
    assert looked_up.returncode == 0, looked_up.stderr
    macs = _pairs(looked_up.stdout)
    ssid_args = [
        arg
        for ssid in sorted(set().union(*(d.ssids for d in truth.values())))
        for arg in ("--ssid", ssid)
    ]
    looked_up = _sensor(deployment, key, "pseudonym", *ssid_args)
    assert looked_up.returncode == 0, looked_up.stderr
    ssids = _pairs(looked_up.stdout)
    watched = "Casa Vigo"
    assert watched in ssids, "the Samsung capture probes for it"

    with Worker(deployment) as worker:
        path = f"/watchlist/{urllib.parse.quote(ssids[watched], safe='')}"
        status, body = _request(worker, path, "PUT", {"reason": "the user's own network"})
        assert status == 200, body
        replay = _sensor(deployment, key, "replay", "--no-progress", *map(str, paths))
        assert replay.returncode == 0, replay.stderr
        yield Replayed(
            deployment,
            worker,
            truth,
            macs,
            ssids,
            key_text,
            replay.stdout + replay.stderr + made.stdout + made.stderr,
            watched,
        )
    deployment.delete_topics()


def _request(worker: Worker, path: str, method: str, body: Any) -> tuple[int, Any]:
    return http_json(f"{worker.url}{path}", method, body)


def _device(worker: Worker, mac: str) -> dict[str, Any] | None:
    status, body = worker.get(f"/devices/{mac}")
    return body if status == 200 else None


def _all_counted(replayed: Replayed) -> bool:
    for real, device in replayed.truth.items():
        row = _device(replayed.worker, replayed.macs[real])
        if row is None or row["probe_count"] < device.count:
            return False
    return True


@pytest.fixture(scope="module")
def counted(replayed: Replayed) -> Replayed:
    wait_for(lambda: _all_counted(replayed), 120, "every device counted under its pseudonym")
    replayed.worker.wait_flushed()
    total = sum(device.count for device in replayed.truth.values())
    wait_for(
        lambda: lake_sql(replayed.deployment, "select count(*) from probes") == [[total]],
        120,
        "every probe in the lake",
    )
    return replayed


def test_each_device_keeps_one_pseudonym_and_tsharks_count(counted: Replayed) -> None:
    worker, truth = counted.worker, counted.truth
    assert len(set(counted.macs.values())) == len(truth), "distinct devices, distinct pseudonyms"
    wrong = []
    for real, device in truth.items():
        pseudonym = counted.macs[real]
        row = _device(worker, pseudonym)
        assert row is not None
        got = (
            row["probe_count"],
            row["ssids"],
            row["wildcard_probes"],
            row["randomized"],
            row["sensors"],
        )
        want = (
            device.count,
            sorted(counted.ssids[ssid] for ssid in device.ssids),
            device.wildcard,
            bool(int(real[:2], 16) & 0x02),
            [SENSOR],
        )
        times = (row["first_seen_ts"], row["last_seen_ts"])
        if got != want or abs(times[0] - device.first) > 1e-5 or abs(times[1] - device.last) > 1e-5:
            wrong.append((real, pseudonym, got, want))
        assert int(pseudonym[:2], 16) & 0x02 == int(real[:2], 16) & 0x02
    assert not wrong, f"{len(wrong)} of {len(truth)} devices differ, e.g. {wrong[:3]}"
    # Nothing else was counted: the listing holds exactly the pseudonyms.
    listed = _listing(worker)
    assert sorted(row["mac"] for row in listed) == sorted(counted.macs.values())


def _listing(worker: Worker) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = ""
    while True:
        status, body = worker.get(f"/devices?limit=500{cursor}")
        assert status == 200, body
        rows += body["devices"]
        if not body.get("next_cursor"):
            return rows
        cursor = f"&cursor={urllib.parse.quote(body['next_cursor'])}"


def test_the_watched_ssid_is_found_under_its_pseudonym(counted: Replayed) -> None:
    pseudonym = counted.ssids[counted.watched]
    status, body = counted.worker.get(f"/ssids/{urllib.parse.quote(pseudonym, safe='')}")
    assert status == 200, body
    probers = {real for real, device in counted.truth.items() if counted.watched in device.ssids}
    assert {row["mac"] for row in body["devices"]} == {counted.macs[m] for m in probers}
    status, body = counted.worker.get("/watchlist")
    assert body["watchlist"][0]["ssid"] == pseudonym


def _raw_topics(prefix: str) -> bytes:
    """Every key, value and header of every topic of the deployment, as stored."""
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": f"test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    consumer.subscribe([f"^{re.escape(prefix)}.*"])
    chunks: list[bytes] = []
    records = 0
    at_end: set[tuple[str, int]] = set()
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                assigned = {(tp.topic, tp.partition) for tp in consumer.assignment()}
                if assigned and assigned <= at_end:
                    break
                continue
            where = (message.topic(), message.partition())
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(where)
                continue
            at_end.discard(where)
            records += 1
            chunks += [message.key() or b"", message.value() or b""]
            chunks += [name.encode() + (value or b"") for name, value in message.headers() or []]
    finally:
        consumer.close()
    topics = {topic for topic, _ in at_end}
    assert f"{prefix}probes" in topics and any("changelog" in t for t in topics), topics
    assert records > 0
    return b"\n".join(chunks)


def _answers(counted: Replayed) -> bytes:
    """What the worker answers about them: every device, listing, SSID, history, sensor."""
    worker = counted.worker
    bodies: list[Any] = [_listing(worker)]
    for pseudonym in counted.macs.values():
        bodies += [worker.get(f"/devices/{pseudonym}")[1]]
    for pseudonym in list(counted.macs.values())[:10]:
        bodies += [worker.get(f"/devices/{pseudonym}/activity")[1]]
    for pseudonym in counted.ssids.values():
        bodies += [worker.get(f"/ssids/{urllib.parse.quote(pseudonym, safe='')}")[1]]
    for path in ("/ssids?limit=100", "/sensors", "/activity?resolution=day", "/watchlist"):
        status, body = worker.get(path)
        assert status == 200, (path, body)
        bodies.append(body)
    for report in ("probes-per-hour", "top-ssids-per-day"):
        bodies.append(worker.get(f"/analytics/{report}")[1])
    sql = counted.deployment.probewatch("sql", "--format", "csv", "select * from probes")
    assert sql.returncode == 0, sql.stderr
    assert len(sql.stdout.splitlines()) > sum(d.count for d in counted.truth.values())
    return orjson.dumps(bodies) + sql.stdout.encode()


def _files(folder: Path) -> bytes:
    """Every file the worker wrote (tables, lake, logs), gzip opened."""
    chunks = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
            chunks.append(data)
    return b"\n".join(chunks)


def _unkeyed_fingerprints(paths: list[Path]) -> set[str]:
    """The ie_fingerprints the sniffer computes without pseudonyms."""
    found: set[str] = set()
    for path in paths:
        with read_capture(path) as records:
            for linktype, data, ts in records:
                try:
                    event = parse_frame(linktype, data, ts, "")
                except MalformedFrame:
                    continue
                if event is not None and event.ie_fingerprint:
                    found.add(event.ie_fingerprint)
    return found


def _secrets(counted: Replayed) -> dict[str, list[bytes]]:
    """What must not leave the sensor, in every spelling it could be written in (lower case;
    raw octets as they are)."""
    needles: dict[str, list[bytes]] = {}
    for mac in counted.truth:
        digits = mac.replace(":", "")
        needles[mac] = [mac.encode(), mac.replace(":", "-").encode(), digits.encode()]
        needles[f"{mac} (octets)"] = [bytes.fromhex(digits)]
    for ssid in counted.ssids:
        if len(ssid) >= 5 and ssid.isascii():  # shorter ones could be any other text
            needles[ssid] = [ssid.lower().encode(), ssid.encode().hex().encode()]
    for fingerprint in _unkeyed_fingerprints(captures(*CAPTURES)):
        needles[fingerprint] = [fingerprint.encode()]
    needles["the key"] = [counted.key_text.encode()]
    return needles


def _leaks(where: str, haystack: bytes, needles: dict[str, list[bytes]]) -> list[str]:
    lower = haystack.lower()
    found = []
    for name, spellings in needles.items():
        octets = name.endswith("(octets)")
        if any(spelling in (haystack if octets else lower) for spelling in spellings):
            found.append(f"{name} in {where}")
    return found


def test_nothing_real_leaves_the_sensor(counted: Replayed) -> None:
    needles = _secrets(counted)
    assert len(needles) > 2 * len(counted.truth)
    leaks = _leaks("the topics", _raw_topics(counted.deployment.prefix), needles)
    leaks += _leaks("the answers", _answers(counted), needles)
    counted.worker.stop()  # its log complete
    log = counted.worker.log_text()
    assert "DEBUG" in log or "debug" in log.lower(), "the worker logged at debug level"
    leaks += _leaks("the worker's log", log.encode(), needles)
    leaks += _leaks("the worker's files", _files(counted.deployment.data_dir), needles)
    leaks += _leaks("the sniffer's output", counted.sniffer_output.encode(), needles)
    assert not leaks, f"{len(leaks)} leaks: {leaks[:10]}"
    assert "pseudonyms:         hmac: MACs, ie_fingerprints, SSIDs" in counted.sniffer_output
