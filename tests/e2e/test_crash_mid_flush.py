"""A worker killed in the middle of a write-behind flush: nothing lost, nothing counted twice, in
the device rows, the SSID index and the history, whether it restarts on its own disk or a new
worker rebuilds the tables from the changelogs.

The worker kills itself (SIGKILL, `PROBEWATCH_TEST_CRASH_AT`) at a chosen point of its first
flush that holds probes: with half of the changelogs written, with all of them written but the
local store not, or with the store written but no record acknowledged. Offsets are committed
once an hour, so every probe is read again after the kill. The holes this closes: a row in the
local store that its changelog never received would be trusted by the restarted worker (its
probes skipped as "already applied") and missed by any worker that rebuilds the partition; and
with half the changelogs written the partition's history counters are (they are flushed first)
while the device rows are only partly, so the history rows are folded again and must not count
those records twice. The expectations are made here from the probes this test sends.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.harness import Deployment, Worker, new_prefix
from tests.kafka_io import probe, produce_probes

#: 2026-11-23T07:46:40Z; the probes span a few minutes after it, in the worker's past.
TS = 1_795_420_000.0
DEVICES = [f"f0:18:98:00:77:{i:02x}" for i in range(40)]
SSIDS = ("home", "work", "café")
PER_DEVICE = 3
PROBES = [
    probe(mac, TS + 7 * i + 40 * n, SSIDS[(i + n) % len(SSIDS)], rssi=-40 - i)
    for n in range(PER_DEVICE)
    for i, mac in enumerate(DEVICES)
]


def _expected_ssids() -> Counter[str]:
    return Counter(p["ssid"] for p in PROBES)


def _expected_minutes() -> dict[int, tuple[int, int, int]]:
    """Per minute start: probes, distinct devices, devices whose first probe is in it."""
    minute = {id(p): int(p["ts"] // 60) * 60 for p in PROBES}
    probes = Counter(minute[id(p)] for p in PROBES)
    devices = {m: len({p["mac"] for p in PROBES if minute[id(p)] == m}) for m in probes}
    firsts = Counter(
        int(min(p["ts"] for p in PROBES if p["mac"] == mac) // 60) * 60 for mac in DEVICES
    )
    return {m: (probes[m], devices[m], firsts[m]) for m in probes}


def _probe_count(worker: Worker, path: str) -> int | None:
    status, body = worker.get(path)
    return body["probe_count"] if status == 200 else None


def _served_minutes(worker: Worker) -> dict[int, tuple[int, int, int]] | None:
    status, answer = worker.get(f"/activity?since={TS - 60}&until={TS + 600}")
    if status != 200:
        return None
    return {
        b["start_ts"]: (b["probes"], b["devices"], b["new_devices"])
        for b in answer["buckets"]
        if b["probes"]
    }


def _history_total(worker: Worker, mac: str) -> int | None:
    status, answer = worker.get(f"/devices/{mac}/activity")
    return sum(b["probes"] for b in answer["hours"]["buckets"]) if status == 200 else None


def _caught_up(worker: Worker) -> bool:
    """Every record of `probes` read and everything folded flushed."""
    lag = worker.get("/cluster?scope=local")[1]["probes_lag"]
    return all(behind == 0 for behind in lag.values()) and (
        worker.get("/health")[1]["unflushed_rows"] == 0
    )


def _wrong(worker: Worker) -> dict[str, object]:
    """What the worker serves otherwise than expected: nothing, once it is exact."""
    wrong: dict[str, object] = {}
    rows = {mac: _probe_count(worker, f"/devices/{mac}") for mac in DEVICES}
    if bad := {mac: n for mac, n in rows.items() if n != PER_DEVICE}:
        wrong["devices"] = bad
    ssids = {s: _probe_count(worker, f"/ssids/{quote(s)}") for s in SSIDS}
    if ssids != dict(_expected_ssids()):
        wrong["ssids"] = ssids
    history = {mac: _history_total(worker, mac) for mac in DEVICES}
    if bad := {mac: n for mac, n in history.items() if n != PER_DEVICE}:
        wrong["device history"] = bad
    minutes = _served_minutes(worker)
    if minutes != _expected_minutes():
        wrong["minutes"] = minutes
    if not _caught_up(worker):
        wrong["caught up"] = False
    return wrong


def _wait_exact(worker: Worker, when: str, timeout: float = 90.0) -> None:
    """Until the worker has read everything and serves exactly what was sent; fails naming
    what is not."""
    deadline = time.monotonic() + timeout
    while wrong := _wrong(worker):
        if time.monotonic() > deadline:
            pytest.fail(f"{when}: {wrong} (expected minutes {_expected_minutes()})")
        time.sleep(0.5)


@pytest.mark.parametrize("point", ["flush-half-produced", "flush-produced", "flush-stored"])
def test_a_crash_in_a_flush_loses_and_doubles_nothing(tmp_path: Path, point: str) -> None:
    prefix = new_prefix("crash")
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
    assert f"PROBEWATCH_TEST_CRASH_AT={point}" in first.log_text()

    # The same worker again, on its own disk: what its store lacks comes from the changelog,
    # what it holds is skipped when read again.
    with Worker(calm, port=first.port) as again:
        _wait_exact(again, "after the restart")
    # A new worker on an empty disk rebuilds every table from the changelogs alone.
    with Worker(calm) as fresh:
        _wait_exact(fresh, "on a rebuilt worker")
