"""Every entry point keeps the same rules: what one accepts, the others can find and edit.

On a real worker: an SSID stored from a probe can be queried; one no query could name is
refused where it enters; list-topic records with keys the API could never edit are not listed;
a path whose escapes are not UTF-8 is refused, not stored literally; and a row written before
times were checked is still served.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from app.logic.stats import fold_probe
from app.models import ProbeEvent
from tests.harness import BOOTSTRAP, Deployment, Worker, http_json, new_prefix, wait_for
from tests.kafka_io import probe, produce, produce_probes

T0 = 1_700_000_000.0
DEVICE = "f0:18:98:00:99:01"
LEGACY = "f0:18:98:00:99:02"
LONGEST = "é" * 16  # 32 octets
ESCAPED = "\\xff\\xfeab"  # the sniffer's text form of the octets ff fe 61 62


def _legacy_row() -> dict[str, Any]:
    """A device row as a worker before the range checks could have written it."""
    row: dict[str, Any] = dict(
        fold_probe(None, ProbeEvent(ts=1.0, mac=LEGACY, ssid=""), max_ssids=1)
    )
    return {**row, "first_seen_ts": 1e300, "last_seen_ts": 1e300, "offset": 0}


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """One worker whose devices changelog already holds a row with an impossible time."""
    deployment = Deployment(tmp_path_factory.mktemp("entry"), prefix=new_prefix("entry"))
    changelog = f"{deployment.prefix}probewatch-devices-changelog"
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    topic = NewTopic(changelog, deployment.partitions, 1, config={"cleanup.policy": "compact"})
    admin.create_topics([topic])[changelog].result(30)
    produce(changelog, [(LEGACY.encode(), orjson.dumps(_legacy_row()))])
    with Worker(deployment) as started:
        yield started


def test_a_row_with_an_impossible_time_is_still_served(worker: Worker) -> None:
    wait_for(lambda: worker.get(f"/devices/{LEGACY}")[0] == 200, 60, "the row served")
    stats = worker.get(f"/devices/{LEGACY}")[1]
    assert (stats["first_seen"], stats["last_seen"], stats["probe_count"]) == (None, None, 1)


def test_ssids_stored_from_probes_are_the_ssids_queries_accept(worker: Worker) -> None:
    prefix = worker.deployment.prefix
    too_long = probe(DEVICE, T0, "x" * 256)
    hidden = probe(DEVICE, T0, "evil\u202egnp.exe")
    nul = probe(DEVICE, T0, "a\x00b")
    produce(
        f"{prefix}probes", [(DEVICE.encode(), orjson.dumps(p)) for p in (too_long, hidden, nul)]
    )
    produce_probes(prefix, [probe(DEVICE, T0 + 1, LONGEST), probe(DEVICE, T0 + 2, ESCAPED)])
    wait_for(lambda: worker.get(f"/devices/{DEVICE}")[0] == 200, 60, "the valid probes")
    assert worker.get(f"/devices/{DEVICE}")[1]["ssids"] == sorted([LONGEST, ESCAPED])
    assert worker.counters()["probes.rejected.bad_field"] == 3
    for ssid in (LONGEST, ESCAPED):
        path = f"/ssids/{quote(ssid, safe='')}"
        wait_for(lambda p=path: worker.get(p)[0] == 200, 30, path)
        assert worker.get(path)[1]["devices"][0]["mac"] == DEVICE
    assert worker.get(f"/ssids/{'x' * 33}")[0] == 400
    assert worker.get("/ssids/" + quote("evil\u202egnp.exe"))[0] == 400


def test_list_records_the_api_could_not_edit_are_not_listed(worker: Worker) -> None:
    prefix = worker.deployment.prefix
    reason = orjson.dumps({"reason": "bait"})
    produce(
        f"{prefix}ssid-watchlist",
        [(b"k" * 10_000, reason), (b"a\x00b", reason), (b"\xff", reason), (b"ok", reason)],
    )
    produce(
        f"{prefix}chat-subscriptions",
        [(b"abc", orjson.dumps({"subscribed": True})), (b"42", orjson.dumps({"subscribed": True}))],
    )
    wait_for(lambda: worker.get("/watchlist")[1]["watchlist"], 30, "the valid watch")
    assert worker.get("/watchlist")[1] == {"watchlist": [{"ssid": "ok", "reason": "bait"}]}
    subscribed = wait_for(lambda: worker.get("/subscriptions")[1]["subscriptions"], 30, "chat 42")
    assert subscribed == [{"chat_id": 42, "bot": None}]
    counters = worker.counters()
    assert counters["watchlist.rejected.bad_key"] == 3
    assert counters["subscriptions.rejected.bad_key"] == 1


def test_paths_whose_escapes_are_not_utf8_are_refused(worker: Worker) -> None:
    for method in ("PUT", "DELETE"):
        status, body = http_json(f"{worker.url}/watchlist/%ff%fe", method, {"reason": "x"})
        assert status == 400 and "UTF-8" in body["error"]
    assert worker.get("/ssids/%ff%fe")[0] == 400
    assert all(e["ssid"] != "%FF%FE" for e in worker.get("/watchlist")[1]["watchlist"])
    status, _ = http_json(f"{worker.url}/watchlist/Caf%C3%A9%20M%C3%BCller", "PUT", {})
    assert status == 200
    assert {"ssid": "Café Müller", "reason": ""} in worker.get("/watchlist")[1]["watchlist"]
