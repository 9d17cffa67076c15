"""Probable devices on the dashboard, in a real browser (Debian's chromium, driven by Playwright),
against a real worker fed the labelled captures (one file = one physical device).

The overview shows the probable devices heard today next to the MACs seen today, and charts
them per hour; a device's page names its probable device, whose page lists its MACs and what linked
each. The numbers are checked against what the API serves per MAC and against the probes
themselves (which MACs, which hours).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.eval_groups import LABELS, Crowd, crowd
from bench.eval_pipeline import produce, read_groups
from tests.e2e.conftest import CHROMIUM
from tests.e2e.test_dashboard import WAIT_MS, _shot
from tests.harness import Deployment, Worker, http_json, wait_for
from tests.pcaps import captures, pcaps_dir


@pytest.fixture(scope="module")
def grouped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Worker, Crowd]]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (`make install-test-tools`)")
    captures(*(d.file for d in LABELS))
    made = crowd(LABELS, pcaps_dir(), [0.0] * len(LABELS))
    deployment = Deployment(tmp_path_factory.mktemp("groups"), extra_env={"PROBEWATCH_LAKE": ""})
    with Worker(deployment) as worker:
        produce(deployment, made.probes, deployment.partitions)
        wait_for(
            lambda: worker.counters().get("group-assignments.taken", 0) >= len(made.labels),
            60,
            "every MAC grouped",
        )
        worker.wait_flushed()
        yield worker, made
    deployment.delete_topics()


def test_the_overview_shows_probable_devices_beside_macs_and_a_group_page_its_evidence(
    grouped: tuple[Worker, Crowd], page: Any
) -> None:
    worker, made = grouped
    served, doubtful = read_groups(worker.url, sorted(made.labels))
    day = int(max(p.ts for p in made.probes) // 86400)
    heard_today = {p.mac for p in made.probes if int(p.ts // 86400) == day}
    devices_today = {served[mac] for mac in heard_today} - doubtful
    hours = {int(p.ts // 3600) for p in made.probes}

    page.goto(f"{worker.url}/")
    page.wait_for_selector("#card-probable-today", timeout=WAIT_MS)
    assert page.inner_text("#card-probable-today .value") == str(len(devices_today))
    assert page.inner_text("#card-today .value").replace(",", "") == str(len(heard_today))
    assert len(devices_today) < len(heard_today) / 50, "grouping counts devices, not MACs"
    page.wait_for_selector("#chart-probable svg rect.bar", timeout=WAIT_MS)
    titles = page.locator("#chart-probable svg rect.bar title").evaluate_all(
        "titles => titles.map(t => t.textContent)"
    )
    assert len(titles) == len(hours), "a bar of probable devices for each hour heard"
    per_hour = sum(int(t.split(": ")[1].split()[0]) for t in titles)
    _, answer = http_json(f"{worker.url}/activity?resolution=hour")
    assert per_hour == sum(b["probable_devices"] for b in answer["buckets"])
    _shot(page, "overview-probable-devices")

    members: dict[str, list[str]] = {}
    for mac, group in served.items():
        members.setdefault(group, []).append(mac)
    largest = max(members, key=lambda g: len(members[g]))
    other = sorted(members[largest])[-1]
    page.goto(f"{worker.url}/#/device/{other}")
    page.wait_for_selector("#device-group a", timeout=WAIT_MS)
    assert page.inner_text("#device-group a") == largest
    page.click("#device-group a")
    page.wait_for_selector("#group-members tbody tr", timeout=WAIT_MS)
    rows = page.locator("#group-members tbody tr")
    assert sorted(rows.evaluate_all("rows => rows.map(r => r.dataset.mac)")) == sorted(
        members[largest]
    )
    assert "began the group" in rows.nth(0).inner_text()
    assert all(" after " in text for text in rows.all_inner_texts()[1:])
    facts = page.inner_text("#group-facts")
    assert f"MACs\t{len(members[largest]):,}" in facts.replace("\n", "\t")
    _shot(page, "group")
