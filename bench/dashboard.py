"""How fast the dashboard shows up: the overview in Debian's chromium (Playwright), over a worker
holding the `make run` sample (50,000 probes, 2,000 devices).

Printed: first contentful paint (the browser's own measure) and the time until the overview's
data is drawn (cards, charts, top SSIDs and sensors), median and worst of ten loads, with the
browser's cache emptied for each (a new context)."""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path

from bench.pipeline import synth_capture
from tests.harness import Deployment, Worker, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LOADS = 10


def dashboard(probes: int = 50_000, devices: int = 2_000) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("dashboard: skipped (playwright is not installed: make install-test-tools)")
        return
    if not Path(CHROMIUM).exists():
        print("dashboard: skipped (Debian's chromium is not installed: make install-test-tools)")
        return
    capture = synth_capture(probes, devices, seed=7)
    deployment = Deployment(data_dir=Path(f"/tmp/probewatch-bench-dashboard-{time.time_ns()}"))
    try:
        with Worker(deployment) as worker:
            done = deployment.sniffer("replay", "--no-progress", str(capture))
            assert done.returncode == 0, done.stderr
            wait_for(
                lambda: worker.counters().get("probes.accepted", 0) >= probes, 300, "the sample"
            )
            worker.wait_flushed()
            paints, drawn = [], []
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                for _ in range(LOADS):
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    page = context.new_page()
                    started = time.perf_counter()
                    page.goto(f"{worker.url}/")
                    page.wait_for_selector("#sensors tbody tr, #sensors p", timeout=30_000)
                    page.wait_for_selector("#chart-probes svg", timeout=30_000)
                    drawn.append(time.perf_counter() - started)
                    paints.append(
                        page.evaluate(
                            "performance.getEntriesByName('first-contentful-paint')[0].startTime"
                        )
                        / 1000
                    )
                    context.close()
                browser.close()
    finally:
        deployment.delete_topics()
        shutil.rmtree(deployment.data_dir, ignore_errors=True)
    print(
        f"dashboard overview over {devices:,} devices, {probes:,} probes: first contentful paint "
        f"median {1000 * statistics.median(paints):.0f} ms (worst {1000 * max(paints):.0f} ms), "
        f"overview drawn median {1000 * statistics.median(drawn):.0f} ms "
        f"(worst {1000 * max(drawn):.0f} ms), {LOADS} loads, cache empty"
    )
