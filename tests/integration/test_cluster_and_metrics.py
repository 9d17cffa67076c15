"""`GET /cluster` and `GET /metrics` of real workers on the real Kafka.

Two workers share a deployment; the second one is reached by the others (and by itself) through
a stand-in the test controls, so it can stop answering without stopping: then every question
gathered from all workers is a 503, never a partial answer. A lone worker of another deployment
shows what `/metrics` says, each figure checked against what it measures.
"""

from __future__ import annotations

import http.client
import http.server
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.web.replicas import STANDBY_HEADER
from tests.harness import Deployment, Worker, free_port, http_json, new_prefix, wait_for
from tests.kafka_io import (
    committed_offsets,
    end_offsets,
    partition_for,
    probe,
    produce,
    produce_markers,
    produce_probes,
)

T0 = 1_700_000_000.0


class StandIn(http.server.ThreadingHTTPServer):
    """A worker's advertised address: passes requests on to the worker, or, when told to, fails
    them (`mode` "fail": a 500) or hangs up without an answer ("hang-up")."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", free_port()), _StandInHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.target_port = 0
        self.mode = "forward"
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _StandInHandler(http.server.BaseHTTPRequestHandler):
    server: StandIn

    def do_GET(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        if self.server.mode == "hang-up":
            self.close_connection = True
            return
        if self.server.mode == "fail":
            self._answer(500, b'{"error": "stand-in told to fail"}', "application/json")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        connection = http.client.HTTPConnection("127.0.0.1", self.server.target_port, timeout=30)
        try:
            connection.request(self.command, self.path, body=body, headers=dict(self.headers))
            answer = connection.getresponse()
            self._answer(answer.status, answer.read(), answer.getheader("Content-Type") or "")
        finally:
            connection.close()

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def workers(
    tmp_path_factory: pytest.TempPathFactory, stand_in: StandIn
) -> Iterator[dict[str, Worker]]:
    """`first` and `second` of one deployment (`second` advertised through the stand-in), and
    `lone`, alone in a deployment of its own; all started at once."""
    root = tmp_path_factory.mktemp("cluster")
    shared = Deployment(data_dir=root / "pair", prefix=new_prefix("cluster"), partitions=4)
    behind = Deployment(
        data_dir=shared.data_dir,
        prefix=shared.prefix,
        partitions=4,
        extra_env={"PROBEWATCH_CANONICAL_URL": stand_in.url},
    )
    started = {
        "first": Worker(shared),
        "second": Worker(behind),  # --web-port must keep PROBEWATCH_CANONICAL_URL
        "lone": Worker(
            Deployment(data_dir=root / "lone", prefix=new_prefix("metrics"), partitions=2)
        ),
    }
    stand_in.target_port = started["second"].port
    try:
        for worker in started.values():
            worker.start()
        for worker in started.values():
            worker.wait_ready()
        yield started
    finally:
        with ThreadPoolExecutor() as pool:
            list(pool.map(Worker.stop, started.values()))


def cluster_view(worker: Worker) -> dict[str, Any] | None:
    status, body = worker.get("/cluster")
    return body if status == 200 else None


def settled(worker: Worker, prefix: str) -> dict[str, Any] | None:
    """The cluster view once both workers own probe partitions, and none is busy rebalancing."""
    view = cluster_view(worker)
    if view is None or len(view["workers"]) != 2:
        return None
    for share in view["workers"]:
        if (
            share["rebalancing"]
            or share["recovering"]
            or not share["active"].get(f"{prefix}probes")
        ):
            return None
    return view


def test_cluster_shows_every_workers_share_standbys_lag_and_one_leader(
    workers: dict[str, Worker], stand_in: StandIn
) -> None:
    first, second = workers["first"], workers["second"]
    prefix = first.deployment.prefix
    probes, devices = f"{prefix}probes", f"{prefix}probewatch-devices-changelog"
    produce_markers(prefix, 4, T0)  # something to read in every partition

    def caught_up() -> dict[str, Any] | None:
        """The view once each worker shows the lag of each of its partitions, all read."""
        view = settled(first, prefix)
        for share in view["workers"] if view else ():
            lag = share["probes_lag"]
            if set(lag) != {f"{probes}:{p}" for p in share["active"][probes]} or any(lag.values()):
                return None
        return view

    view = wait_for(caught_up, 90, "a settled cluster of two, every marker read")
    assert view["partitions"] == 4
    by_url = {share["worker"]: share for share in view["workers"]}
    assert set(by_url) == {first.url, stand_in.url}
    mine, theirs = by_url[first.url], by_url[stand_in.url]
    assert [mine["leader"], theirs["leader"]].count(True) == 1, "exactly one leader"
    assert set(mine["active"][probes]).isdisjoint(theirs["active"][probes])
    assert sorted(mine["active"][probes] + theirs["active"][probes]) == [0, 1, 2, 3]
    # One standby replica: each table partition is warm on the worker that does not own it.
    assert mine["standby"][devices] == theirs["active"][devices]
    assert theirs["standby"][devices] == mine["active"][devices]
    from_second = wait_for(lambda: settled(second, prefix), 30, "the view from the other worker")
    assert {s["worker"] for s in from_second["workers"]} == set(by_url)


def test_a_worker_that_does_not_answer_makes_gathered_answers_a_503(
    workers: dict[str, Worker], stand_in: StandIn
) -> None:
    first, second = workers["first"], workers["second"]
    prefix = first.deployment.prefix
    wait_for(lambda: settled(first, prefix), 90, "a settled cluster of two")
    try:
        for mode, why in (("fail", "answered 500"), ("hang-up", "did not answer")):
            stand_in.mode = mode
            for asked in (first, second):  # the second worker gathers through its address too
                status, body = asked.get("/cluster")
                assert status == 503 and why in body["error"], (mode, body)
                status, body = asked.get("/devices?name=anyone")
                assert status == 503 and why in body["error"], (mode, body)
    finally:
        stand_in.mode = "forward"
    assert first.get("/cluster")[0] == 200
    assert first.get("/devices?name=anyone") == (
        200,
        {"name": "anyone", "devices": [], "count": 0, "next_cursor": None},
    )


def raw_get(url: str, header: str = "Content-Type") -> tuple[int, str | None, bytes]:
    """(status, the `header`, body bytes) of a GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers[header], response.read()
    except urllib.error.HTTPError as answer:
        return answer.code, answer.headers[header], answer.read()


def macs_the_stand_in_owns(first: Worker, stand_in: StandIn, block: int) -> list[str]:
    """MACs `f0:18:98:<block>:00:xx` whose partition the worker behind the stand-in owns,
    once the cluster of two has settled."""
    prefix = first.deployment.prefix
    view = wait_for(lambda: settled(first, prefix), 90, "a settled cluster of two")
    devices = f"{prefix}probewatch-devices-changelog"
    [theirs] = [s for s in view["workers"] if s["worker"] == stand_in.url]
    owned = set(theirs["active"][devices])
    return [
        m
        for m in (f"f0:18:98:{block:02x}:00:{i:02x}" for i in range(64))
        if partition_for(m.encode(), 4) in owned
    ]


def test_a_forwarded_answer_is_the_owners_byte_for_byte(
    workers: dict[str, Worker], stand_in: StandIn
) -> None:
    """A key the other worker owns is answered with its status, Content-Type (charset
    included) and body exactly: the forward passes the bytes through."""
    first, second = workers["first"], workers["second"]
    prefix = first.deployment.prefix
    counted, unseen = macs_the_stand_in_owns(first, stand_in, 1)[:2]
    produce_probes(prefix, [probe(counted, T0, "café ☕")])
    wait_for(lambda: second.get(f"/devices/{counted}")[0] == 200, 60, f"{counted} counted")
    for mac, status in ((counted, 200), (unseen, 404)):
        direct = raw_get(f"{second.url}/devices/{mac}")
        forwarded = raw_get(f"{first.url}/devices/{mac}")
        assert direct[0] == status
        assert forwarded == direct
    assert forwarded[1] == "application/json; charset=utf-8"


def test_a_caught_up_standby_answers_when_any_replica_may(
    workers: dict[str, Worker], stand_in: StandIn
) -> None:
    """`?replica=any`: the worker holding a standby copy of a key the other worker owns answers
    it itself, as the owner does once the copy applied the changelog; it follows a change (one
    changelog record, which faust alone would keep in its buffer); and it answers while the
    owner cannot."""
    first, second = workers["first"], workers["second"]
    prefix = first.deployment.prefix
    mac = macs_the_stand_in_owns(first, stand_in, 2)[0]
    any_replica = f"{first.url}/devices/{mac}?replica=any"

    def standby_says(count: int) -> bytes | None:
        status, replica, body = raw_get(any_replica, STANDBY_HEADER)
        found = status == 200 and replica == "standby" and json.loads(body)["probe_count"] == count
        return body if found else None

    def owner_says(count: int) -> bytes | None:
        status, _, body = raw_get(f"{second.url}/devices/{mac}")
        return body if status == 200 and json.loads(body)["probe_count"] == count else None

    for count in (1, 2):
        produce_probes(prefix, [probe(mac, T0 + count, f"ssid {count}")])
        owners = wait_for(lambda n=count: owner_says(n), 60, f"probe {count} at the owner")
        from_standby = wait_for(lambda n=count: standby_says(n), 20, f"probe {count} on standby")
        assert from_standby == owners
    owner_answer = raw_get(f"{first.url}/devices/{mac}", STANDBY_HEADER)
    assert owner_answer[0] == 200 and owner_answer[1] is None, "by default the owner answers"
    stand_in.mode = "fail"
    try:
        assert raw_get(f"{first.url}/devices/{mac}", STANDBY_HEADER)[0] != 200
        assert standby_says(2) is not None
    finally:
        stand_in.mode = "forward"
    status, _, body = raw_get(f"{first.url}/devices/{mac}?replica=standby")
    assert status == 400
    assert b"replica must be one of owner, any" in body


def scrape(worker: Worker) -> tuple[str, dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    """The content type of `/metrics` and every sample: (name, labels) → value."""
    with urllib.request.urlopen(f"{worker.url}/metrics", timeout=10) as response:
        content_type = response.headers["Content-Type"]
        text = response.read().decode()
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return content_type, samples


def metric(samples: dict[Any, float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def counters_in_metrics(samples: dict[Any, float]) -> dict[str, int]:
    """/health's counters as /metrics spells them: `<stream>.<outcome>`, `<stream>.rejected.<r>`."""
    found = {}
    for (name, labels), value in samples.items():
        tags = dict(labels)
        if name == "probewatch_events_total":
            found[f"{tags['stream']}.{tags['outcome']}"] = int(value)
        elif name == "probewatch_events_rejected_total":
            found[f"{tags['stream']}.rejected.{tags['reason']}"] = int(value)
    return found


def test_metrics_say_what_the_worker_did(workers: dict[str, Worker]) -> None:
    lone = workers["lone"]
    deployment = lone.deployment
    prefix = deployment.prefix
    macs = [f"f0:18:98:00:3e:{i:02x}" for i in range(5)]
    produce_probes(prefix, [probe(mac, T0 + i, f"net{i % 2}") for i, mac in enumerate(macs)])
    produce(f"{prefix}probes", [(macs[0].encode(), b"not json")])
    markers = produce_markers(prefix, deployment.partitions, T0 + 10)
    for mac in [*macs, *markers]:
        wait_for(lambda m=mac: lone.get(f"/devices/{m}")[0] == 200, 60, f"{mac} counted")
    named = http_json(f"{lone.url}/devices/{macs[0]}/name", "PUT", {"name": "Lone phone"})
    assert named[0] == 200
    for ssid in ("net0", "net1"):
        wait_for(lambda s=ssid: lone.get(f"/ssids/{s}")[0] == 200, 60, f"{ssid} folded")

    lone.wait_flushed()  # table sizes count what the stores hold, written behind the folds
    content_type, samples = scrape(lone)  # the first scrape: table sizes are counted now
    assert content_type.startswith("text/plain")
    assert metric(samples, "probewatch_table_keys", table="devices") == len(macs) + len(markers)
    assert metric(samples, "probewatch_table_keys", table="ssids") == 2
    assert metric(samples, "probewatch_table_keys", table="device-names") == 1

    counted = counters_in_metrics(samples)
    assert counted["probes.accepted"] == len(macs) + len(markers)
    assert counted["probes.rejected.not_json"] == 1
    wait_for(
        lambda: counters_in_metrics(scrape(lone)[1]) == lone.counters(),
        30,
        "every /health counter in /metrics, with the same value",
    )

    topic = f"{prefix}probes"
    partitions = range(deployment.partitions)
    ends = end_offsets(topic, deployment.partitions)
    assert sum(ends.values()) == len(macs) + 1 + len(markers)

    def offsets_shown() -> bool:
        samples = scrape(lone)[1]
        return all(
            metric(samples, "probewatch_consumer_lag", topic=topic, partition=str(p)) == 0
            and metric(samples, "probewatch_committed_offset", topic=topic, partition=str(p))
            == ends[p]
            for p in partitions
        )

    wait_for(offsets_shown, 60, "no lag, and every offset committed")
    group = f"{prefix}probewatch"
    assert committed_offsets(group, topic, deployment.partitions) == ends, "as the broker says"

    labels = {"view": "DeviceView", "status": "404"}
    before = metric(scrape(lone)[1], "probewatch_http_request_seconds_count", **labels) or 0
    for _ in range(3):
        assert lone.get("/devices/00:00:5e:00:53:01")[0] == 404
    samples = scrape(lone)[1]
    after = metric(samples, "probewatch_http_request_seconds_count", **labels)
    assert after == before + 3
    assert metric(samples, "probewatch_http_request_seconds_bucket", le="+Inf", **labels) == after
    assert (metric(samples, "probewatch_http_request_seconds_sum", **labels) or 0) > 0
