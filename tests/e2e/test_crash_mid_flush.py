"""A worker killed in the middle of a write-behind flush: nothing lost, nothing counted twice,
whether it restarts on its own disk or a new worker rebuilds the tables from the changelogs.

The worker kills itself (SIGKILL, `PROBEWATCH_TEST_CRASH_AT`) at a chosen point of its first
flush that holds probes: with half of the changelog written, with all of it written but the local
store not, or with the store written but no record acknowledged. Offsets are committed once an
hour, so every probe is read again after the kill. The hole this closes: a row in the local store
that its changelog never received would be trusted by the restarted worker (its probes skipped as
"already applied") and missed by any worker that rebuilds the partition.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.harness import Deployment, Worker, http_json, new_prefix
from tests.kafka_io import probe, produce_probes

TS = 1_795_300_000.0
DEVICES = [f"f0:18:98:00:77:{i:02x}" for i in range(40)]
SSIDS = ("home", "work", "café")
PER_DEVICE = 3


def _expected() -> tuple[dict[str, int], Counter[str]]:
    ssids: Counter[str] = Counter()
    for i in range(len(DEVICES)):
        for n in range(PER_DEVICE):
            ssids[SSIDS[(i + n) % len(SSIDS)]] += 1
    return {mac: PER_DEVICE for mac in DEVICES}, ssids


def _counts(worker: Worker, kind: str, keys: Iterable[str]) -> dict[str, int | None]:
    """The probe count the worker serves at `/{kind}/{key}` for each key (None: not served)."""
    found: dict[str, int | None] = {}
    for key in keys:
        status, body = http_json(f"{worker.url}/{kind}/{quote(key)}")
        found[key] = body["probe_count"] if status == 200 else None
    return found


def _wait_exact(worker: Worker, when: str, timeout: float = 90.0) -> None:
    """Until every device's and every SSID's count is exact; fails naming what is not."""
    devices, ssids = _expected()
    deadline = time.monotonic() + timeout
    while True:
        wrong = {m: n for m, n in _counts(worker, "devices", DEVICES).items() if n != devices[m]}
        wrong_ssids = {s: n for s, n in _counts(worker, "ssids", SSIDS).items() if n != ssids[s]}
        if not wrong and not wrong_ssids:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{when}: devices {wrong}, SSIDs {wrong_ssids} (expected {dict(ssids)})")
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
        produce_probes(
            prefix,
            [
                probe(mac, TS + 10 * i + n, SSIDS[(i + n) % len(SSIDS)])
                for n in range(PER_DEVICE)
                for i, mac in enumerate(DEVICES)
            ],
        )
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
