"""Poison records cost one record each, and restarts never process anything twice.

Against a real worker on the real Kafka: the records an attacker used to stop probe counting
for good are produced, then fresh probes; every fresh probe is counted exactly, the dead-letter
topic holds exactly the poison, and the worker stops cleanly on SIGTERM. Then a worker whose
`pcap` and `telegram-updates` partitions hold processed records is restarted (SIGTERM, then
kill -9): counts and replies stay as they were. (Records delivered again after a kill -9:
test_kill_9_restart.py.)
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from tests.fake_telegram import FakeBotApiThread, text_update
from tests.harness import Deployment, Worker, http_json, new_prefix, post_webhook, wait_for
from tests.kafka_io import (
    committed_offsets,
    end_offsets,
    probe,
    produce,
    produce_probes,
    read_records,
)

TS = 1795277343.0
WATCHED = "Free WiFi"
POISONED = "f0:18:98:00:66:01"
FRESH = [f"f0:18:98:00:77:{i:02x}" for i in range(10)]
FROM_PCAP = "f0:18:98:00:88:01"
SHUTDOWN_WITHIN_S = 30.0


def _frame(mac: str, **fields: Any) -> bytes:
    """A tshark-ek probe request as the ksqlDB demo's feed writes it."""
    frame = {
        "timestamp": "1795277343000",
        "wlan_fc_type_subtype": ["4"],
        "wlan_sa": [mac],
        "wlan_ssid": ["Home"],
        "wlan_radio_signal_dbm": ["-61"],
        **fields,
    }
    return orjson.dumps(frame)


def _stop_and_time(worker: Worker, sig: int) -> tuple[int, float]:
    assert worker.process is not None
    started = time.monotonic()
    os.killpg(worker.process.pid, sig)
    code = worker.wait_exit(SHUTDOWN_WITHIN_S + 5)
    return code, time.monotonic() - started


def test_poison_records_are_dead_lettered_and_counting_goes_on(tmp_path: Any) -> None:
    deployment = Deployment(tmp_path, prefix=new_prefix("poison"))
    prefix = deployment.prefix
    worker = Worker(deployment).start()
    try:
        worker.wait_ready()
        status, _ = http_json(f"{worker.url}/watchlist/Free%20WiFi", "PUT", {"reason": "bait"})
        assert status == 200

        poison_probes = [
            {"mac": POISONED, "ts": 1, "rssi_dbm": 18446744073709551615},
            {"mac": POISONED, "ts": 1, "rssi_dbm": 18446744073709551615},
            {"mac": POISONED, "ts": 1e300, "ssid": WATCHED},
        ]
        produce(f"{prefix}probes", [(POISONED.encode(), orjson.dumps(p)) for p in poison_probes])
        poison_frames = [
            _frame(FROM_PCAP, timestamp="1e303"),
            _frame(FROM_PCAP, wlan_radio_signal_dbm=["inf"]),
            _frame(FROM_PCAP, wlan_radio_signal_dbm=["1e30"]),
        ]
        produce(f"{prefix}pcap", [(None, frame) for frame in poison_frames])
        poison_tally = orjson.dumps({"devices": {POISONED: [2**64 - 1, 1.0, 5]}})
        produce(f"{prefix}ssid-probes", [(WATCHED.encode(), poison_tally)])

        fresh = [probe(mac, TS + i, "Home") for i in range(5) for mac in FRESH]
        produce_probes(prefix, fresh)
        produce(f"{prefix}pcap", [(None, _frame(FROM_PCAP)), (None, _frame(FROM_PCAP))])

        for mac in FRESH:
            wait_for(lambda m=mac: worker.get(f"/devices/{m}")[0] == 200, 60, f"{mac} counted")
        wait_for(lambda: worker.get(f"/devices/{FROM_PCAP}")[0] == 200, 60, "pcap probe")
        assert {worker.get(f"/devices/{mac}")[1]["probe_count"] for mac in FRESH} == {5}
        assert worker.get(f"/devices/{FROM_PCAP}")[1]["probe_count"] == 2
        assert worker.get(f"/devices/{POISONED}")[0] == 404
        # The SSID index is fed the devices' totals as their rows are flushed: a moment later.
        wait_for(
            lambda: worker.get("/ssids/Home")[1].get("probe_count") == 5 * len(FRESH) + 2,
            30,
            "the SSID index",
        )

        letters = read_records(f"{prefix}dead-letters", expect=7)
        by_stream = Counter(h["probewatch.dlq.stream"].decode() for _k, _v, h in letters)
        assert by_stream == {"probes": 3, "pcap": 3, "ssid-probes": 1}
        values = sorted(v for _k, v, _h in letters if v is not None)
        expected = [orjson.dumps(p) for p in poison_probes] + poison_frames + [poison_tally]
        assert values == sorted(expected)
        for _key, _value, headers in letters:
            assert headers["probewatch.dlq.reason"] == b"bad_field" or (
                headers["probewatch.dlq.stream"] == b"ssid-probes"
            )
            assert headers["probewatch.dlq.error"]
            assert int(headers["probewatch.dlq.offset"]) >= 0
        counters = worker.counters()
        assert counters["probes.dead_lettered"] == 3 and counters["pcap.dead_lettered"] == 3
        assert counters["ssid-probes.dead_lettered"] == 1

        code, took = _stop_and_time(worker, signal.SIGTERM)
        assert code == 0 and took < SHUTDOWN_WITHIN_S
    finally:
        worker.stop(signal.SIGKILL)


TOKEN = "440501877:EEIgaWfyFK4kZMAcViiVDv3N8SEOGvdz"
BOT_ID = 440501877
SECRET = f"e2e-{uuid.uuid4().hex}"
PATH = f"hook-{uuid.uuid4().hex}"
CHAT = 5101
UPDATES = 16
#: How often the stall watchdog looks (5 s by default).
STALL_CHECK_S = 1.0


@pytest.fixture()
def telegram() -> Iterator[FakeBotApiThread]:
    with FakeBotApiThread([TOKEN]) as fake:
        yield fake


def _post_update(worker: Worker, update_id: int) -> None:
    post_webhook(f"{worker.url}/telegram/{PATH}", SECRET, text_update(update_id, CHAT, "/help"))


def _all_committed(deployment: Deployment, topic: str) -> bool:
    """Whether the group has committed every message of `topic` it has read."""
    name = f"{deployment.prefix}{topic}"
    ends = end_offsets(name, deployment.partitions)
    committed = committed_offsets(f"{deployment.prefix}probewatch", name, deployment.partitions)
    return all(committed.get(p, 0) == end for p, end in ends.items() if end > 0)


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_a_restart_never_reads_processed_partitions_again(
    tmp_path: Any, telegram: FakeBotApiThread, how: int
) -> None:
    env = {
        "PROBEWATCH_TELEGRAM_TOKEN": TOKEN,
        "PROBEWATCH_TELEGRAM_API_BASE": telegram.base_url,
        "PROBEWATCH_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "PROBEWATCH_TELEGRAM_WEBHOOK_PATH": PATH,
        "PROBEWATCH_TELEGRAM_ALLOWED_CHATS": str(CHAT),
        "PROBEWATCH_STALL_CHECK_S": str(STALL_CHECK_S),
    }
    deployment = Deployment(tmp_path, prefix=new_prefix("rewind"), extra_env=env)
    worker = Worker(deployment).start()
    try:
        worker.wait_ready()
        produce(f"{deployment.prefix}pcap", [(None, _frame(FROM_PCAP))])
        for update_id in range(UPDATES):
            _post_update(worker, 70_000 + update_id)
        wait_for(lambda: len(telegram.messages(CHAT)) == UPDATES, 60, "every update answered")
        wait_for(lambda: worker.get(f"/devices/{FROM_PCAP}")[0] == 200, 60, "the pcap probe")
        for topic in ("pcap", "telegram-updates", "probes"):
            wait_for(lambda t=topic: _all_committed(deployment, t), 30, f"{topic} committed")

        if how == signal.SIGKILL:
            worker.stop(signal.SIGKILL)
        else:
            code, _took = _stop_and_time(worker, how)
            assert code == 0
        worker = Worker(deployment, port=worker.port).start()
        worker.wait_ready()
        # Nothing must happen now; the stall watchdog acts on its second look, so three of its
        # periods and more show whether it rewinds anything.
        time.sleep(3.5 * STALL_CHECK_S)
        assert worker.get(f"/devices/{FROM_PCAP}")[1]["probe_count"] == 1
        assert len(telegram.messages(CHAT)) == UPDATES
        assert "is not being fetched" not in worker.log_text()
        assert worker.counters().get("partitions.restarted", 0) == 0
    finally:
        worker.stop()
