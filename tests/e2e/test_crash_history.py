"""History after a worker is killed in the middle of a write-behind flush: the deployment's
per-minute counts and each device's buckets exact, on the restarted worker and on a new one
that rebuilt every table from the changelogs.

As in test_crash_mid_flush, the worker kills itself (SIGKILL, `PROBEWATCH_TEST_CRASH_AT`) in
its first flush holding probes, and offsets are committed once an hour, so every record is read
again. With half the changelogs written, the partition counters are (they are flushed first)
and the device rows partly: the history rows are folded again, and the counters must not count
those records twice. The expected counts are made here from the probes this test sends.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.harness import Deployment, Worker, new_prefix
from tests.kafka_io import probe, produce_probes

#: 2026-11-23T07:46:40Z; the probes span a few minutes after it, in the worker's past.
TS = 1_795_420_000.0
DEVICES = [f"f0:18:98:00:78:{i:02x}" for i in range(40)]
PER_DEVICE = 3
PROBES = [
    probe(mac, TS + 7 * i + 40 * n, "home", rssi=-40 - i)
    for n in range(PER_DEVICE)
    for i, mac in enumerate(DEVICES)
]


def _expected_minutes() -> dict[int, tuple[int, int, int]]:
    """Per minute start: probes, distinct devices, devices whose first probe is in it."""
    minute = {id(p): int(p["ts"] // 60) * 60 for p in PROBES}
    probes = Counter(minute[id(p)] for p in PROBES)
    devices = {m: len({p["mac"] for p in PROBES if minute[id(p)] == m}) for m in probes}
    firsts = Counter(
        int(min(p["ts"] for p in PROBES if p["mac"] == mac) // 60) * 60 for mac in DEVICES
    )
    return {m: (probes[m], devices[m], firsts[m]) for m in probes}


def _served_minutes(worker: Worker) -> dict[int, tuple[int, int, int]] | None:
    status, answer = worker.get(f"/activity?since={TS - 60}&until={TS + 600}")
    if status != 200:
        return None
    return {
        b["start_ts"]: (b["probes"], b["devices"], b["new_devices"])
        for b in answer["buckets"]
        if b["probes"]
    }


def _wrong_devices(worker: Worker) -> dict[str, object]:
    wrong: dict[str, object] = {}
    for mac in DEVICES:
        status, answer = worker.get(f"/devices/{mac}/activity")
        total = sum(b["probes"] for b in answer["hours"]["buckets"]) if status == 200 else None
        if total != PER_DEVICE:
            wrong[mac] = total
    return wrong


def _caught_up(worker: Worker) -> bool:
    """Every record of `probes` read and everything folded flushed."""
    lag = worker.get("/cluster?scope=local")[1]["probes_lag"]
    return all(behind == 0 for behind in lag.values()) and (
        worker.get("/health")[1]["unflushed_rows"] == 0
    )


def _wait_exact(worker: Worker, when: str, timeout: float = 90.0) -> None:
    """Until the worker has read everything and serves exactly the expected history."""
    expected = _expected_minutes()
    deadline = time.monotonic() + timeout
    while True:
        served, wrong = _served_minutes(worker), _wrong_devices(worker)
        if _caught_up(worker) and served == expected and not wrong:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{when}: minutes {served} (expected {expected}); devices {wrong}")
        time.sleep(0.5)


@pytest.mark.parametrize("point", ["flush-half-produced", "flush-produced", "flush-stored"])
def test_a_crash_in_a_flush_keeps_history_exact(tmp_path: Path, point: str) -> None:
    prefix = new_prefix("crashhist")
    quiet = {"PROBEWATCH_COMMIT_INTERVAL_S": "3600", "PROBEWATCH_SESSION_TIMEOUT_S": "6"}
    crashing = Deployment(
        tmp_path, prefix=prefix, extra_env={**quiet, "PROBEWATCH_TEST_CRASH_AT": point}
    )
    calm = Deployment(tmp_path, prefix=prefix, extra_env=quiet)
    first = Worker(crashing).start()
    try:
        first.wait_ready()
        produce_probes(prefix, PROBES)
        status = first.wait_exit(60)
    finally:
        first.stop()
    assert status == -signal.SIGKILL, f"the worker was to kill itself at {point}"

    try:
        with Worker(calm, port=first.port) as again:
            _wait_exact(again, "after the restart")
        with Worker(calm) as fresh:
            _wait_exact(fresh, "on a rebuilt worker")
    finally:
        calm.delete_topics()
