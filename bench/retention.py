"""What retention costs ingest: the same capture ingested with retention off, and with a window
so short that the sweep erases every device while the probes still come in (the worst case: in
use, a sweep erases the few devices unheard for days). Also how fast erasures are applied."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from bench.pipeline import replay_rate, synth_capture
from tests.harness import Deployment, Worker, kafka_reachable, wait_for


def retention(probes: int, devices: int) -> None:
    if not kafka_reachable():
        raise SystemExit("no Kafka at localhost:9092: run `make kafka` first")
    capture = synth_capture(probes, devices)  # captured in 2024: long unheard by now
    scratch = Path(tempfile.mkdtemp(prefix="probewatch-bench-retention-"))
    try:
        off, _ = _ingest(scratch / "off", capture, probes, devices, {})
        on, erasing = _ingest(
            scratch / "on",
            capture,
            probes,
            devices,
            {"PROBEWATCH_RETENTION_DAYS": "1", "PROBEWATCH_RETENTION_SWEEP_S": "1"},
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"retention on ingest, 1 worker: {on:,.0f} probes/s while the sweep erases every device "
        f"as it comes (worst case), {off:,.0f} without retention "
        f"({100 * (1 - on / off):+.0f} % cost); every device erased "
        f"{erasing:.1f} s after the last probe was counted ({devices / max(erasing, 1e-9):,.0f} "
        "erasures/s at most)"
    )


def _ingest(
    data_dir: Path, capture: Path, probes: int, devices: int, env: dict[str, str]
) -> tuple[float, float]:
    """(probes/s end to end, seconds from the last probe counted to every device erased)."""
    deployment = Deployment(data_dir=data_dir, extra_env={"PROBEWATCH_LAKE": "", **env})
    with Worker(deployment) as worker:
        started = time.perf_counter()
        replay_rate(deployment, capture)
        wait_for(
            lambda: worker.counters().get("probes.accepted", 0) >= probes,
            900,
            "every probe counted",
            interval=0.05,
        )
        counted = time.perf_counter()
        erased = 0.0
        if env:
            wait_for(
                lambda: worker.counters().get("probes.erased.retention", 0) >= devices,
                900,
                "every device erased",
                interval=0.1,
            )
            erased = time.perf_counter() - counted
    deployment.delete_topics()
    return probes / (counted - started), erased
