"""`GET /devices` on the real Kafka, two workers: the listing against what the probes sent say,
computed here independently of the app; paging, filters, names and bad parameters."""

from __future__ import annotations

import random
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness import Deployment, Worker, http_json, wait_for
from tests.kafka_io import probe, produce_probes

T0 = 1_790_000_000.0
OUIS = {"apple": "f0:18:98", "samsung": "fc:a1:3e", "randomized": "da:a1:19"}
SSIDS = ["home", "work", "Café Müller", "eduroam"]
SENSORS = ["roof", "lobby"]
DEVICES = 240


def make_probes(seed: int = 11) -> list[dict[str, Any]]:
    """Probes of DEVICES devices: 1-4 each, distinct times, one signal and sensor per probe."""
    rng = random.Random(seed)
    probes = []
    for number in range(DEVICES):
        oui = list(OUIS.values())[number % 3]
        mac = f"{oui}:{number // 256:02x}:{number % 256:02x}:{rng.randrange(256):02x}"
        for repeat in range(rng.randint(1, 4)):
            ts = T0 + rng.randrange(10_000) + repeat * 10_000 + number / 1000
            sent = probe(mac, ts, rng.choice([*SSIDS, ""]), rng.randrange(-90, -30))
            sent["sensor"] = rng.choice(SENSORS)
            probes.append(sent)
    rng.shuffle(probes)
    return probes


def expected_devices(probes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per MAC, what the probes say: count, first and last time, last signal, SSIDs, sensors."""
    devices: dict[str, dict[str, Any]] = {}
    for sent in sorted(probes, key=lambda p: p["ts"]):
        device = devices.setdefault(
            sent["mac"],
            {"probe_count": 0, "first_seen_ts": sent["ts"], "ssids": set(), "sensors": set()},
        )
        device["probe_count"] += 1
        device["last_seen_ts"] = sent["ts"]
        device["rssi_last_dbm"] = sent["rssi_dbm"]
        if sent["ssid"]:
            device["ssids"].add(sent["ssid"])
        device["sensors"].add(sent["sensor"])
    return devices


PROBES = make_probes()
EXPECTED = expected_devices(PROBES)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Worker, Worker]]:
    # Six partitions: faust's assignor is sticky up to ceil(partitions / workers) each, so with
    # four the two first workers would keep two each and a third would get none.
    deployment = Deployment(data_dir=tmp_path_factory.mktemp("listing"), partitions=6)
    first, second = Worker(deployment).start(), Worker(deployment).start()
    try:
        first.wait_ready()
        second.wait_ready()
        wait_for(lambda: _owns_devices(first) and _owns_devices(second), 90, "a cluster of two")
        produce_probes(deployment.prefix, PROBES)
        wait_for(
            lambda: all(_count(w) == len(EXPECTED) for w in (first, second)),
            90,
            "every device listed by both workers",
        )
        yield first, second
    finally:
        first.stop()
        second.stop()


def _owns_devices(worker: Worker) -> bool:
    status, _ = worker.get("/devices?scope=local&limit=1")
    return status == 200 and any("probes:" in tp for tp in worker.get("/health")[1]["assigned"])


def _count(worker: Worker) -> int | None:
    status, body = worker.get("/devices?limit=1")
    return body["count"] if status == 200 else None


def listing(worker: Worker, **params: str) -> tuple[list[dict[str, Any]], int]:
    """Every device of a listing, paged through with the cursor, and the count of each page."""
    found: list[dict[str, Any]] = []
    counts: set[int] = set()
    cursor: str | None = None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        status, body = worker.get(f"/devices?{urllib.parse.urlencode(query)}")
        assert status == 200, body
        assert len(body["devices"]) <= int(params.get("limit", "50"))
        found += body["devices"]
        counts.add(body["count"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(counts) == 1, "the count is the same on every page"
    return found, counts.pop()


def order_of(macs: list[str], key: str, descending: bool = True) -> list[str]:
    return sorted(macs, key=lambda mac: (EXPECTED[mac][key], mac), reverse=descending)


def test_paging_lists_every_device_once_newest_first_as_the_probes_say(
    cluster: tuple[Worker, Worker],
) -> None:
    first, second = cluster
    items, count = listing(first, limit="37")
    macs = [item["mac"] for item in items]
    assert count == len(EXPECTED) and len(macs) == len(set(macs)) == len(EXPECTED)
    assert macs == order_of(list(EXPECTED), "last_seen_ts")
    for item in items:
        device = EXPECTED[item["mac"]]
        assert item["probe_count"] == device["probe_count"], item
        assert item["first_seen_ts"] == pytest.approx(device["first_seen_ts"])
        assert item["last_seen_ts"] == pytest.approx(device["last_seen_ts"])
        assert item["rssi_last_dbm"] == device["rssi_last_dbm"]
        assert set(item["ssids"]) == device["ssids"] and set(item["sensors"]) == device["sensors"]
    assert listing(second, limit="37") == (items, count), "either worker answers the same"


@pytest.mark.parametrize(
    ("params", "wanted"),
    [
        ({"randomized": "true"}, lambda mac, d: int(mac[:2], 16) & 2 == 2),
        ({"vendor": "APPLE"}, lambda mac, d: mac.startswith(OUIS["apple"])),
        ({"ssid": "Café Müller"}, lambda mac, d: "Café Müller" in d["ssids"]),
        ({"sensor": "roof"}, lambda mac, d: "roof" in d["sensors"]),
        ({"min_rssi": "-50"}, lambda mac, d: d["rssi_last_dbm"] >= -50),
        (
            {"since": str(int(T0 + 20_000)), "until": "2026-09-22T13:00:00Z"},
            lambda mac, d: T0 + 20_000 <= d["last_seen_ts"] <= 1_790_082_000,
        ),
    ],
)
def test_each_filter_lists_the_devices_it_should(
    cluster: tuple[Worker, Worker], params: dict[str, str], wanted: Any
) -> None:
    first, _second = cluster
    want = order_of([mac for mac, d in EXPECTED.items() if wanted(mac, d)], "last_seen_ts")
    assert want, "the filter picks some devices"
    items, count = listing(first, limit="20", **params)
    assert [item["mac"] for item in items] == want and count == len(want)


def test_the_other_sorts_both_ways(cluster: tuple[Worker, Worker]) -> None:
    _first, second = cluster
    for sort, key in (("probe_count", "probe_count"), ("first_seen", "first_seen_ts")):
        for order in ("asc", "desc"):
            items, _ = listing(second, sort=sort, order=order, limit="100")
            assert [i["mac"] for i in items] == order_of(list(EXPECTED), key, order == "desc")


def test_name_filters_by_substring_and_finds_a_device_not_yet_seen(
    cluster: tuple[Worker, Worker],
) -> None:
    first, second = cluster
    seen = sorted(EXPECTED)[:2]
    ghost = "00:00:5e:00:53:42"
    for mac, name in zip(
        [*seen, ghost], ["Alice phone", "Bob PHONE", "phone of nobody"], strict=True
    ):
        assert http_json(f"{first.url}/devices/{mac}/name", "PUT", {"name": name})[0] == 200
    status, body = second.get("/devices?name=PHONE")
    assert status == 200 and body["name"] == "PHONE" and body["count"] == 3
    assert [d["mac"] for d in body["devices"]] == [*order_of(seen, "last_seen_ts"), ghost]
    assert body["devices"][-1] == {"mac": ghost, "name": "phone of nobody", "probe_count": 0}
    assert [d["mac"] for d in first.get("/devices?name=alice")[1]["devices"]] == [seen[0]]


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("sort=vendor", "sort"),
        ("order=up", "order"),
        ("since=yesterday", "since"),
        ("since=1790000100&until=1790000000", "until"),
        ("min_rssi=-500", "min_rssi"),
        ("randomized=maybe", "randomized"),
        ("cursor=not-a-cursor", "cursor"),
        ("name=", "name"),
        ("colour=red", "colour"),
        ("limit=5&limit=6", "limit"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(
    cluster: tuple[Worker, Worker], query: str, param: str
) -> None:
    first, _second = cluster
    status, body = first.get(f"/devices?{query}")
    assert status == 400 and body["param"] == param and body["reason"], body


def test_a_cursor_is_refused_with_other_filters(cluster: tuple[Worker, Worker]) -> None:
    first, _second = cluster
    cursor = first.get("/devices?limit=5")[1]["next_cursor"]
    status, body = first.get(f"/devices?limit=5&sort=rssi&cursor={cursor}")
    assert status == 400 and body["param"] == "cursor"
    assert first.get(f"/devices?limit=9&cursor={cursor}")[0] == 200, "another limit is fine"


def test_the_most_probed_for_ssids_are_counted_over_both_workers(
    cluster: tuple[Worker, Worker],
) -> None:
    per_ssid = Counter(ssid for device in EXPECTED.values() for ssid in device["ssids"])
    ranked = sorted(per_ssid.items(), key=lambda item: (-item[1], item[0]))
    for worker in cluster:
        for limit in (1, 3, 10):
            status, body = worker.get(f"/ssids?limit={limit}")
            assert status == 200, body
            assert [(s["ssid"], s["devices"]) for s in body["ssids"]] == ranked[:limit]
    status, body = cluster[0].get("/ssids?limit=0")
    assert status == 400 and body["param"] == "limit"


def test_each_sensor_with_its_probes_devices_and_last_probe(
    cluster: tuple[Worker, Worker],
) -> None:
    want = [
        (
            sensor,
            sum(p["sensor"] == sensor for p in PROBES),
            sum(sensor in d["sensors"] for d in EXPECTED.values()),
            max(p["ts"] for p in PROBES if p["sensor"] == sensor),
        )
        for sensor in SENSORS
    ]
    want.sort(key=lambda heard: -heard[3])
    for worker in cluster:
        status, body = worker.get("/sensors")
        assert status == 200, body
        got = [
            (s["sensor"], s["probes"], s["devices"], s["last_probe_ts"]) for s in body["sensors"]
        ]
        assert got == want


def test_answers_are_whole_or_refused_while_a_third_worker_joins(
    cluster: tuple[Worker, Worker],
) -> None:
    """During the rebalance a worker may refuse (503), never list part of the devices; once
    the third has joined, all three list the same. Runs last: it changes the cluster."""
    first, second = cluster
    whole = {path: first.get(path) for path in ("/devices?limit=500", "/ssids", "/sensors")}
    assert all(status == 200 for status, _ in whole.values())
    third = Worker(first.deployment).start()
    answers: Counter[int] = Counter()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            joined = _serving(third)
            workers = (first, second, third) if joined else (first, second)
            results = [(w.get(path), path) for w in workers for path in whole]
            for (status, body), path in results:
                answers[status] += 1
                assert status in (200, 503), (path, status, body)
                assert status == 503 or body == whole[path][1], f"{path}: partial while joining"
            settled = joined and _owns_devices(third)
            if settled and all(status == 200 for (status, _), _ in results):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"the third worker never answered whole: {dict(answers)}")
    finally:
        third.stop()


def _serving(worker: Worker) -> bool:
    try:
        return worker.get("/health")[0] == 200
    except OSError:
        return False
