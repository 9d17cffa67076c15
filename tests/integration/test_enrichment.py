"""Names, the SSID watch list, alerts, push streams and SSID → devices, on the real Kafka."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import orjson
import pytest

from tests.harness import Deployment, Worker, http_json, wait_for
from tests.kafka_io import probe, produce, produce_probes, read_all, read_records

ALICE = "f0:18:98:00:00:a1"  # Apple OUI
BOB = "fc:a1:3e:00:00:b2"  # Samsung OUI
T0 = 1_700_000_000.0


def send(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    return http_json(url, method, body, timeout=20)


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Deployment, Worker, Worker]]:
    """Two workers of one deployment, so that some keys are owned by the other one."""
    deployment = Deployment(data_dir=tmp_path_factory.mktemp("enrich"), partitions=4)
    first, second = Worker(deployment).start(), Worker(deployment).start()
    try:
        first.wait_ready()
        second.wait_ready()
        wait_for(lambda: _balanced(first, second), 60, "both workers own probe partitions")
        produce_probes(deployment.prefix, [probe(ALICE, T0, "home"), probe(BOB, T0 + 1, "work")])
        wait_for(
            lambda: all(
                w.get(f"/devices/{m}")[0] == 200 for w in (first, second) for m in (ALICE, BOB)
            ),
            60,
            "both devices served",
        )
        for worker in (first, second):  # the listing (`?name=`) shows rows once flushed
            worker.wait_flushed()
        yield deployment, first, second
    finally:
        first.stop()
        second.stop()


def _balanced(*workers: Worker) -> bool:
    return all(
        any(
            tp.startswith(f"{w.deployment.prefix}probes:") for tp in w.get("/health")[1]["assigned"]
        )
        for w in workers
    )


def test_name_set_renamed_deleted_and_found_by_name_from_any_worker(cluster: Any) -> None:
    _deployment, first, second = cluster
    status, body = send(
        "PUT", f"{first.url}/devices/F0-18-98-00-00-A1/name", {"name": "  Alice's   iPhone "}
    )
    assert status == 200 and body == {"mac": ALICE, "name": "Alice's iPhone", "seen": True}
    for worker in (first, second):
        assert worker.get(f"/devices/{ALICE}")[1]["name"] == "Alice's iPhone"
        status, found = worker.get("/devices?name=alice%27s%20IPHONE")
        assert status == 200 and [d["mac"] for d in found["devices"]] == [ALICE]
        assert found["devices"][0]["probe_count"] == 1

    assert send("PUT", f"{second.url}/devices/{ALICE}/name", {"name": "Kitchen tablet"})[0] == 200
    for worker in (first, second):
        assert worker.get("/devices?name=Alice's%20iPhone")[1]["devices"] == []
        assert [d["mac"] for d in worker.get("/devices?name=kitchen%20tablet")[1]["devices"]] == [
            ALICE
        ]

    assert send("PUT", f"{first.url}/devices/{BOB}/name", {"name": "Kitchen Tablet"})[0] == 200
    both = first.get("/devices?name=KITCHEN%20TABLET")[1]["devices"]
    assert sorted(d["mac"] for d in both) == sorted([ALICE, BOB])

    assert send("DELETE", f"{second.url}/devices/{ALICE}/name")[0] == 200
    assert first.get(f"/devices/{ALICE}")[1]["name"] is None
    assert [d["mac"] for d in second.get("/devices?name=kitchen%20tablet")[1]["devices"]] == [BOB]
    assert send("DELETE", f"{first.url}/devices/{ALICE}/name")[0] == 404


def test_bad_name_edits_get_clear_errors(cluster: Any) -> None:
    _deployment, first, second = cluster
    ghost = "00:00:5e:00:53:99"
    status, body = send("PUT", f"{first.url}/devices/{ghost}/name", {"name": "ghost"})
    assert (status, body) == (200, {"mac": ghost, "name": "ghost", "seen": False})
    assert second.get("/devices?name=GHOST")[1]["devices"] == [
        {"mac": ghost, "name": "ghost", "probe_count": 0}
    ]
    assert first.get(f"/devices/{ghost}")[0] == 404
    assert send("PUT", f"{first.url}/devices/not-a-mac/name", {"name": "x"})[0] == 400
    assert send("PUT", f"{first.url}/devices/{BOB}/name", {"name": ""})[0] == 400
    assert send("PUT", f"{first.url}/devices/{BOB}/name", {"name": "x" * 65})[0] == 400
    assert send("PUT", f"{first.url}/devices/{BOB}/name", b"not json")[0] == 400
    assert first.get("/devices?name=")[0] == 400


def test_names_import_feeds_the_same_topic(cluster: Any, tmp_path: Any) -> None:
    deployment, first, _second = cluster
    inventory = tmp_path / "inventory.csv"
    inventory.write_text(f"mac,name\n{BOB.upper()},Bob laptop\nnot-a-mac,Nobody\n")
    result = deployment.probewatch("names-import", str(inventory), timeout=60)
    assert result.returncode == 1, "a skipped row is reported in the exit code"
    assert "line 3" in result.stderr and "1 of 1 names sent" in result.stdout
    wait_for(lambda: first.get(f"/devices/{BOB}")[1]["name"] == "Bob laptop", 30, "imported name")


def test_malformed_name_and_watchlist_values_are_skipped(cluster: Any) -> None:
    deployment, first, second = cluster
    produce(
        f"{deployment.prefix}device-names", [(BOB.encode(), b"{oops"), (b"nope", b'{"name": "x"}')]
    )
    produce(f"{deployment.prefix}ssid-watchlist", [(b"cafe", b"[not an object]")])
    wait_for(
        lambda: (
            sum(w.counters().get("names.rejected.InvalidName", 0) for w in (first, second)) == 1
        ),
        30,
        "bad name value counted",
    )
    wait_for(
        lambda: first.counters().get("watchlist.rejected.bad_value") == 1, 30, "bad watch value"
    )
    assert sum(w.counters().get("names.rejected.InvalidMac", 0) for w in (first, second)) == 1
    assert "cafe" not in [e["ssid"] for e in first.get("/watchlist")[1]["watchlist"]]


def test_watchlist_edits_change_alerting_without_restart(cluster: Any) -> None:
    deployment, first, second = cluster
    status, body = send(
        "PUT", f"{first.url}/watchlist/Free%20WiFi%20%E2%98%95", {"reason": "phishing bait"}
    )
    assert status == 200 and body["ssid"] == "Free WiFi ☕"
    # The other worker reads the edit from the list's topic "within milliseconds" (README).
    wait_for(
        lambda: (
            {"ssid": "Free WiFi ☕", "reason": "phishing bait"}
            in second.get("/watchlist")[1]["watchlist"]
        ),
        5,
        "the other worker to watch the SSID",
    )

    produce_probes(
        deployment.prefix,
        [
            probe(ALICE, T0 + 10, "Free WiFi ☕", rssi=-41),
            probe(ALICE, T0 + 20, "Free WiFi ☕"),  # within the 300 s window: folded
            probe(BOB, T0 + 30, "Free WiFi ☕"),
            probe(ALICE, T0 + 400, "Free WiFi ☕"),  # after the window: a new alert
            probe(ALICE, T0 + 401, "other"),
        ],
    )
    alerts = read_all(f"{deployment.prefix}alerts", expect=3)
    assert sorted((a["mac"], a["ts"]) for _k, a in alerts) == [
        (ALICE, T0 + 10),
        (ALICE, T0 + 400),
        (BOB, T0 + 30),
    ]
    first_alert = next(a for _k, a in alerts if a["ts"] == T0 + 10)
    assert first_alert["reason"] == "phishing bait" and first_alert["rssi_dbm"] == -41
    assert first_alert["vendor"] == "Apple, Inc."
    assert sum(w.counters().get("alerts.folded", 0) for w in (first, second)) == 1

    assert send("DELETE", f"{second.url}/watchlist/Free%20WiFi%20%E2%98%95")[0] == 200
    assert send("DELETE", f"{second.url}/watchlist/Free%20WiFi%20%E2%98%95")[0] == 404
    # Unwatched now: no alert. A device's probes and alerts each keep one partition, in order,
    # so once an alert for a later probe of BOB is there, one for this probe would be before it.
    assert send("PUT", f"{first.url}/watchlist/still-watched", {"reason": "marker"})[0] == 200
    produce_probes(
        deployment.prefix,
        [probe(BOB, T0 + 900, "Free WiFi ☕"), probe(BOB, T0 + 901, "still-watched")],
    )
    records = read_records(f"{deployment.prefix}alerts", expect=4)
    later = [orjson.loads(v) for _k, v, _h in records if v is not None]
    assert sorted((a["ssid"], a["ts"]) for a in later if a["mac"] == BOB) == [
        ("Free WiFi ☕", T0 + 30),
        ("still-watched", T0 + 901),
    ]
    assert len(records) == 4
    assert send("DELETE", f"{first.url}/watchlist/still-watched")[0] == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("", 404),  # `/watchlist/` names no SSID: no such resource
        ("x" * 33, 400),  # 33 octets
        ("%C3%A9" * 17, 400),  # 17 characters, but 34 octets
        ("%00bad", 400),  # a control character: not how a probe carries an SSID
    ],
)
def test_empty_or_oversized_ssids_are_refused(cluster: Any, path: str, status: int) -> None:
    _deployment, first, second = cluster
    # Each worker reads the watch list from its topic: a change an earlier test made may reach
    # one before the other.
    wait_for(
        lambda: first.get("/watchlist")[1] == second.get("/watchlist")[1],
        30,
        "both workers to hold the same watch list",
    )
    before = first.get("/watchlist")[1]["watchlist"]
    got, body = send("PUT", f"{first.url}/watchlist/{path}", {"reason": "x"})
    assert got == status
    if status == 400:
        assert "error" in body
    assert first.get("/watchlist")[1]["watchlist"] == before, "nothing was watched"
    assert second.get("/watchlist")[1]["watchlist"] == before, "nothing was watched"


def test_ssid_lists_the_devices_that_probed_for_it(cluster: Any) -> None:
    deployment, first, second = cluster
    produce_probes(
        deployment.prefix,
        [
            probe(ALICE, T0 + 50, "eduroam"),
            probe(ALICE, T0 + 51, "eduroam"),
            probe(BOB, T0 + 52, "eduroam"),
        ],
    )

    def eduroam() -> Any:
        status, body = second.get("/ssids/eduroam")
        return body if status == 200 and body["probe_count"] == 3 else None

    body = wait_for(eduroam, 30, "eduroam's devices")
    assert body["devices"] == [
        {"mac": ALICE, "probe_count": 2, "last_seen_ts": T0 + 51},
        {"mac": BOB, "probe_count": 1, "last_seen_ts": T0 + 52},
    ]
    assert first.get("/ssids/eduroam")[1] == body
    assert first.get("/ssids/never-probed")[0] == 404


async def _sse_events(
    url: str, count: int, started: asyncio.Event, timeout: float = 30
) -> list[Any]:
    events: list[Any] = []
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        async for line in response.content:
            if line.startswith(b": listening"):
                started.set()
            if line.startswith(b"data: "):
                events.append(json.loads(line[6:]))
                if len(events) == count:
                    return events
    return events


async def test_probe_stream_sends_what_matches_its_filter_and_nothing_else(cluster: Any) -> None:
    deployment, first, _second = cluster
    started = asyncio.Event()
    listener = asyncio.ensure_future(
        _sse_events(f"{first.url}/stream/probes?mac={BOB.upper()}", 2, started)
    )
    await asyncio.wait_for(started.wait(), 30)
    await asyncio.to_thread(
        produce_probes,
        deployment.prefix,
        [
            probe(ALICE, T0 + 60, "a"),
            probe(BOB, T0 + 61, "b"),
            probe(ALICE, T0 + 62, "c"),
            probe(BOB, T0 + 63, "d"),
        ],
    )
    events = await asyncio.wait_for(listener, 30)
    assert [(e["mac"], e["ssid"]) for e in events] == [(BOB, "b"), (BOB, "d")]


async def test_alert_stream_and_vanished_clients_leave_nothing_behind(cluster: Any) -> None:
    deployment, first, second = cluster
    assert send("PUT", f"{first.url}/watchlist/airport-free", {"reason": "travel"})[0] == 200
    before = second.broker_connections()
    for _ in range(3):  # clients that connect and vanish
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{second.url}/stream/alerts") as response,
        ):
            assert (await response.content.readline()).startswith(b": listening")
    started = asyncio.Event()
    listener = asyncio.ensure_future(
        _sse_events(f"{second.url}/stream/alerts?ssid=airport-free", 1, started)
    )
    await asyncio.wait_for(started.wait(), 30)
    # The stream's own Kafka consumer runs while anybody listens.
    streaming = second.broker_connections() - before
    assert streaming, "the alert stream reads Kafka while a client listens"
    await asyncio.to_thread(
        produce_probes, deployment.prefix, [probe(BOB, T0 + 2000, "airport-free")]
    )
    [alert] = await asyncio.wait_for(listener, 30)
    assert (alert["mac"], alert["ssid"], alert["reason"]) == (BOB, "airport-free", "travel")

    # Every client has gone now; the worker notices at its next write to each (an event, or
    # the keep-alive within 15 s): one more alert makes that now. Then no subscriber is left,
    # so the consumer is stopped and its connections closed.
    await asyncio.to_thread(
        produce_probes, deployment.prefix, [probe(BOB, T0 + 2400, "airport-free")]
    )
    await asyncio.to_thread(
        wait_for,
        lambda: not second.broker_connections() & streaming,
        30,
        "the stream's consumer stopped once its clients were gone",
    )
