"""A worker killed with kill -9, and a new one started on an empty disk: what a user sees is the
same, and everything delivered again is shown to be skipped, not merely absent.

Offsets are committed once an hour here, so the kill is sure to leave every record of every input
uncommitted: the new worker reads all of it again (some of it more than once: its stall watchdog
may seek a partition back to the log's start, as nothing was committed). It has no local state
(another port, so another folder), so its tables come from the changelogs alone. One kill and
restart serve the whole module; each test checks one claim against it.
"""

from __future__ import annotations

import json
import signal
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from tests.fake_telegram import FakeBotApiThread, text_update
from tests.harness import Deployment, Worker, http_json, new_prefix, post_webhook, wait_for
from tests.kafka_io import (
    committed_offsets,
    end_offsets,
    group_members,
    probe,
    produce,
    produce_probes,
    read_records,
)

TOKEN = "550612988:FFJhbXgzGL5lNBdWjjWEw4O9T9TPHweh"
SECRET = f"e2e-{uuid.uuid4().hex}"
PATH = f"hook-{uuid.uuid4().hex}"
CHAT = 5202
SUBSCRIBER = 5303  # a chat subscribed to alerts
BOT_ID = 550612988
UPDATES = 12
TS = 1_795_277_343.0
WATCHED = "Free WiFi"
DEVICES = [f"f0:18:98:00:99:{i:02x}" for i in range(6)]
ALERTING = "fc:a1:3e:00:99:aa"
NAMED = DEVICES[0]
FROM_PCAP = "f0:18:98:00:88:02"
FRAMES = 5
SSIDS = ("home", "work", "café")


def _probes() -> list[dict[str, Any]]:
    """Device i sends i + 2 probes, cycling through SSIDS; the alerting one probes WATCHED."""
    sent = [
        probe(mac, TS + 10 * i + n, SSIDS[(i + n) % len(SSIDS)])
        for i, mac in enumerate(DEVICES)
        for n in range(i + 2)
    ]
    return [*sent, probe(ALERTING, TS, WATCHED)]


def _frame(ts_ms: int) -> bytes:
    """A tshark-ek probe request as the ksqlDB demo's feed writes it."""
    return orjson.dumps(
        {
            "timestamp": str(ts_ms),
            "wlan_fc_type_subtype": ["4"],
            "wlan_sa": [FROM_PCAP],
            "wlan_ssid": ["home"],
        }
    )


def _post_update(worker: Worker, update_id: int) -> None:
    post_webhook(f"{worker.url}/telegram/{PATH}", SECRET, text_update(update_id, CHAT, "/help"))


def _text(key: bytes | None) -> str:
    """A changelog key as text: faust writes bytes keys raw and str keys as JSON."""
    text = (key or b"").decode()
    return json.loads(text) if text.startswith('"') else text


def _in_changelog(deployment: Deployment, table: str, want: dict[str, int]) -> bool:
    """Whether the last row of each key in a table's changelog has the probe count wanted."""
    topic = f"{deployment.prefix}probewatch-{table}-changelog"
    last = {_text(k): orjson.loads(v) for k, v, _h in read_records(topic, 1, 10) if v}
    return all(last.get(key, {}).get("probe_count") == count for key, count in want.items())


def _marks(deployment: Deployment) -> tuple[int, int]:
    """Records of `processed-offsets`' changelog: for updates answered, and for alerts sent."""
    topic = f"{deployment.prefix}probewatch-processed-offsets-changelog"
    keys = [_text(k) for k, _v, _h in read_records(topic, 1, 10)]
    return sum("telegram-updates:" in k for k in keys), sum(".alerts:" in k for k in keys)


def _all_committed(deployment: Deployment, topic: str) -> bool:
    name = f"{deployment.prefix}{topic}"
    ends = end_offsets(name, deployment.partitions)
    committed = committed_offsets(f"{deployment.prefix}probewatch", name, deployment.partitions)
    return all(committed.get(p, 0) == end for p, end in ends.items() if end > 0)


@dataclass
class Restarted:
    deployment: Deployment
    worker: Worker
    telegram: FakeBotApiThread
    devices: dict[str, Counter[str]]  # per MAC, probes per SSID, as produced
    ssid_messages: int  # records of `ssid-probes` before the kill


@pytest.fixture(scope="module")
def restarted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Restarted]:
    env = {
        "PROBEWATCH_TELEGRAM_TOKEN": TOKEN,
        "PROBEWATCH_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "PROBEWATCH_TELEGRAM_WEBHOOK_PATH": PATH,
        "PROBEWATCH_TELEGRAM_ALLOWED_CHATS": f"{CHAT},{SUBSCRIBER}",
        "PROBEWATCH_COMMIT_INTERVAL_S": "3600",
        "PROBEWATCH_SESSION_TIMEOUT_S": "6",
    }
    with FakeBotApiThread([TOKEN]) as telegram:
        env["PROBEWATCH_TELEGRAM_API_BASE"] = telegram.base_url
        deployment = Deployment(
            tmp_path_factory.mktemp("kill9"), prefix=new_prefix("kill9"), extra_env=env
        )
        prefix = deployment.prefix
        worker = Worker(deployment).start()
        try:
            worker.wait_ready()
            watch = http_json(f"{worker.url}/watchlist/Free%20WiFi", "PUT", {"reason": "bait"})
            assert watch[0] == 200
            named = http_json(f"{worker.url}/devices/{NAMED}/name", "PUT", {"name": "Kitchen"})
            assert named[0] == 200
            subscribe = f"{worker.url}/subscriptions/{SUBSCRIBER}"
            assert http_json(subscribe, "PUT", {"bot": BOT_ID})[0] == 200
            sent = _probes()
            produce_probes(prefix, sent)
            produce(f"{prefix}pcap", [(None, _frame(1795277343000 + i)) for i in range(FRAMES)])
            for update_id in range(UPDATES):
                _post_update(worker, 90_000 + update_id)

            devices: dict[str, Counter[str]] = {}
            for p in sent:
                devices.setdefault(p["mac"], Counter())[p["ssid"]] += 1
            devices[FROM_PCAP] = Counter({"home": FRAMES})
            counts = {mac: sum(c.values()) for mac, c in devices.items()}
            per_ssid: Counter[str] = Counter()
            for tally in devices.values():
                per_ssid.update(tally)
            wait_for(lambda: len(telegram.messages(CHAT)) == UPDATES, 60, "every update answered")
            wait_for(lambda: len(telegram.messages(SUBSCRIBER)) == 1, 60, "the alert sent")
            # Everything applied is in the changelogs, so all of it is seen again as applied.
            wait_for(lambda: _in_changelog(deployment, "devices", counts), 60, "devices flushed")
            wait_for(lambda: _in_changelog(deployment, "ssids", per_ssid), 60, "ssids flushed")
            wait_for(lambda: _marks(deployment) == (UPDATES, 1), 60, "replies, alert noted")
            ssid_messages = len(read_records(f"{prefix}ssid-probes", 1))

            worker.stop(signal.SIGKILL)
            for topic in ("probes", "pcap", "ssid-probes", "telegram-updates", "alerts"):
                assert not _all_committed(deployment, topic), f"{topic}: nothing left to re-read"

            # Once the group has let the dead worker go, the new one joins in one rebalance.
            group = f"{prefix}probewatch"
            wait_for(lambda: group_members(group) == 0, 60, "the killed worker out of the group")
            worker = Worker(deployment)  # another port, so an empty state folder of its own
            assert not (
                deployment.data_dir / f"{prefix}probewatch" / f"worker-{worker.port}"
            ).exists()
            worker.start().wait_ready()
            yield Restarted(deployment, worker, telegram, devices, ssid_messages)
        finally:
            worker.stop(signal.SIGKILL)


def test_every_update_delivered_again_is_skipped_and_answered_once(restarted: Restarted) -> None:
    worker, telegram = restarted.worker, restarted.telegram
    wait_for(
        lambda: worker.counters().get("telegram.duplicates_skipped", 0) >= UPDATES,
        60,
        "every update delivered again and skipped",
    )
    assert len(telegram.messages(CHAT)) == UPDATES
    assert worker.counters().get("telegram.handled", 0) == 0


def test_device_counts_are_exact_and_every_probe_delivered_again_was_skipped(
    restarted: Restarted,
) -> None:
    worker = restarted.worker
    direct = sum(sum(c.values()) for mac, c in restarted.devices.items() if mac != FROM_PCAP)
    # Each tshark frame comes back twice: its forwarded probe, and the frame forwarded again.
    skipped = direct + 2 * FRAMES
    seen: dict[str, int] = {}

    def all_skipped() -> bool:
        seen.update(worker.counters())
        return seen.get("probes.duplicates_skipped", 0) >= skipped

    try:
        wait_for(all_skipped, 60, "every probe delivered again and skipped")
    except TimeoutError:
        probes = {name: n for name, n in seen.items() if name.startswith(("probes.", "pcap."))}
        cluster = worker.get("/cluster?scope=local")[1]
        pytest.fail(
            f"{skipped} probes to skip again; the worker's counters: {probes}; "
            f"its partitions: {cluster}\n{worker.log_tail(80)}"
        )
    assert worker.counters().get("probes.accepted", 0) == 0, "a probe delivered again applied"
    for mac, tally in restarted.devices.items():
        status, stats = worker.get(f"/devices/{mac}")
        assert status == 200
        assert stats["probe_count"] == sum(tally.values()), mac
        assert sorted(stats["ssids"]) == sorted(tally), mac
    assert worker.get(f"/devices/{NAMED}")[1]["name"] == "Kitchen"
    assert worker.get("/watchlist")[1]["watchlist"] == [{"ssid": WATCHED, "reason": "bait"}]


def test_ssid_counts_are_exact_and_every_tally_delivered_again_was_skipped(
    restarted: Restarted,
) -> None:
    worker = restarted.worker
    wait_for(
        lambda: (
            worker.counters().get("ssid-probes.duplicates_skipped", 0) >= restarted.ssid_messages
        ),
        60,
        "every ssid-probes record delivered again and skipped",
    )
    assert worker.counters().get("ssid-probes.applied", 0) == 0, "a tally delivered again applied"
    for ssid in (*SSIDS, WATCHED):
        want = {mac: c[ssid] for mac, c in restarted.devices.items() if c[ssid]}
        status, body = worker.get(f"/ssids/{urllib.parse.quote(ssid)}")
        assert status == 200, ssid
        assert body["probe_count"] == sum(want.values()), ssid
        assert {d["mac"]: d["probe_count"] for d in body["devices"]} == want, ssid
        assert body["device_count"] == len(want), ssid


def test_an_alert_delivered_again_is_not_sent_again(restarted: Restarted) -> None:
    worker, telegram = restarted.worker, restarted.telegram
    wait_for(
        lambda: worker.counters().get("alerts.duplicates_skipped", 0) >= 1,
        60,
        "the alert delivered again and skipped",
    )
    assert len(telegram.messages(SUBSCRIBER)) == 1
    assert worker.counters().get("alerts.notified", 0) == 0


def test_alert_folding_survives_the_restart(restarted: Restarted) -> None:
    """The device alerted at TS before the kill; within the window it is folded, after it, a new
    alert. Its alerts keep one partition, in order: once the later one is there, a wrong one
    for the folded probe would be before it. (The module's last test: it adds probes.)"""
    worker, prefix = restarted.worker, restarted.deployment.prefix
    produce_probes(prefix, [probe(ALERTING, TS + 60, WATCHED), probe(ALERTING, TS + 400, WATCHED)])
    alerts = read_records(f"{prefix}alerts", expect=2)
    times = [orjson.loads(v)["ts"] for k, v, _h in alerts if k == ALERTING.encode() and v]
    assert times == [TS, TS + 400]
    assert worker.counters().get("alerts.folded") == 1
    wait_for(lambda: len(restarted.telegram.messages(SUBSCRIBER)) == 2, 60, "the new alert sent")
