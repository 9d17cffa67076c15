"""The dashboard in a real browser (Debian's chromium, driven by Playwright) against a real
worker on the real Kafka, with a real capture replayed: what it shows is checked against tshark.

Screenshots of every page are saved under var/test-artifacts/dashboard/ for a person to look at;
the assertions are on the page's content.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CHROMIUM
from tests.harness import REPO_ROOT, Deployment, Worker, http_json, wait_for
from tests.kafka_io import probe, produce_probes
from tests.pcaps import capture
from tests.tshark import DeviceTruth, devices_by_tshark

ARTIFACTS = REPO_ROOT / "var" / "test-artifacts" / "dashboard"
CAPTURE = "probe-request-project__position_2"
#: Long enough for a view to fetch and draw; every wait is for a condition, never a fixed sleep.
WAIT_MS = 15_000


def _randomized(mac: str) -> bool:
    """The locally administered bit of the first octet, computed here, not by the product."""
    return bool(int(mac[:2], 16) & 0x02)


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Worker, dict[str, Any]]]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (`make install-test-tools`)")
    deployment = Deployment(data_dir=tmp_path_factory.mktemp("dashboard"))
    pcap = capture(CAPTURE)
    truth = devices_by_tshark(pcap)
    with Worker(deployment) as worker:
        result = deployment.sniffer("replay", "--no-progress", str(pcap))
        assert result.returncode == 0, result.stderr
        total = sum(device.count for device in truth.values())
        wait_for(
            lambda: worker.counters().get("probes.accepted", 0) >= total, 120, "every probe folded"
        )
        worker.wait_flushed()
        yield worker, {"truth": truth, "deployment": deployment}
    deployment.delete_topics()


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _busiest(truth: dict[str, DeviceTruth], n: int) -> list[tuple[str, DeviceTruth]]:
    return sorted(truth.items(), key=lambda item: (-item[1].count, item[0]))[:n]


def test_the_overview_counts_what_tshark_sees_and_charts_it(
    replayed: tuple[Worker, dict[str, Any]], page: Any
) -> None:
    worker, facts = replayed
    truth = facts["truth"]
    page.goto(f"{worker.url}/")
    page.wait_for_selector("#card-devices", timeout=WAIT_MS)
    assert page.inner_text("#card-devices .value").replace(",", "") == str(len(truth))
    share = round(100 * sum(map(_randomized, truth)) / len(truth))
    assert page.inner_text("#card-randomized .value") == f"{share} %"
    page.wait_for_selector("#chart-probes svg rect.bar", timeout=WAIT_MS)
    assert page.locator("#chart-devices svg rect.bar").count() > 0
    assert page.locator("#device-table tbody tr").count() == min(10, len(truth))
    per_ssid = Counter(ssid for device in truth.values() for ssid in device.ssids)
    top = sorted(per_ssid.items(), key=lambda item: (-item[1], item[0]))[:10]
    page.wait_for_selector("#top-ssids tbody tr", timeout=WAIT_MS)
    shown = [row.split("\t") for row in page.locator("#top-ssids tbody tr").all_inner_texts()]
    assert [(ssid, int(n.replace(",", ""))) for ssid, n in shown] == top
    [sensor] = page.locator("#sensors tbody tr").all_inner_texts()
    name, last, probes, devices = sensor.split("\t")
    assert name == facts["deployment"].env()["PROBEWATCH_SENSOR"]
    newest = max(device.last for device in truth.values())
    assert last == time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(newest)) + " UTC"
    assert int(probes.replace(",", "")) == sum(device.count for device in truth.values())
    assert int(devices.replace(",", "")) == len(truth)
    _shot(page, "overview")


def test_the_list_shows_each_device_with_its_count_and_sorts_and_filters(
    replayed: tuple[Worker, dict[str, Any]], page: Any
) -> None:
    worker, facts = replayed
    truth: dict[str, DeviceTruth] = facts["truth"]
    page.goto(f"{worker.url}/#/devices?sort=probe_count&limit=500")
    page.wait_for_selector("#device-table tbody tr", timeout=WAIT_MS)
    expected = f"{len(truth):,} matching device" + ("" if len(truth) == 1 else "s")
    assert page.inner_text("#list-summary") == expected
    rows = page.locator("#device-table tbody tr")
    shown = [rows.nth(i).get_attribute("data-mac") for i in range(min(rows.count(), 3))]
    assert shown == [mac for mac, _ in _busiest(truth, 3)]
    for mac, device in _busiest(truth, 3):
        cell = page.locator(f'#device-table tr[data-mac="{mac}"] td.probes')
        assert cell.inner_text().replace(",", "") == str(device.count)
    _shot(page, "devices-by-probe-count")

    page.select_option("select[name=randomized]", "false")
    page.click("#filters button[type=submit]")
    fixed = [mac for mac in truth if not _randomized(mac)]
    summary = f"{len(fixed):,} matching device" + ("" if len(fixed) == 1 else "s")
    page.wait_for_function(
        "text => document.querySelector('#list-summary')?.textContent === text",
        arg=summary,
        timeout=WAIT_MS,
    )
    listed = page.locator("#device-table tbody tr").evaluate_all(
        "rows => rows.map(row => row.dataset.mac)"
    )
    assert set(listed) == set(fixed)
    assert "sort=probe_count" in page.url and "randomized=false" in page.url


def test_a_device_page_shows_its_ssids_and_charts_and_its_name_can_be_edited(
    replayed: tuple[Worker, dict[str, Any]], page: Any
) -> None:
    worker, facts = replayed
    truth: dict[str, DeviceTruth] = facts["truth"]
    mac, device = next((m, d) for m, d in _busiest(truth, len(truth)) if d.ssids)
    page.goto(f"{worker.url}/#/device/{mac.upper().replace(':', '-')}")
    page.wait_for_selector("#device-ssids li", timeout=WAIT_MS)
    assert set(page.locator("#device-ssids li").all_inner_texts()) == device.ssids
    page.wait_for_selector("#activity-minutes svg rect.bar, #activity-hours svg rect.bar")
    _shot(page, "device")

    page.fill("#name-form input[name=name]", "  Lobby   tablet ")
    page.click("#name-form button[type=submit]")
    page.wait_for_selector("#name-form >> text=saved: Lobby tablet", timeout=WAIT_MS)
    status, body = http_json(f"{worker.url}/devices/{mac}")
    assert status == 200 and body["name"] == "Lobby tablet"


def test_an_ssid_page_lists_the_devices_that_probe_for_it(
    replayed: tuple[Worker, dict[str, Any]], page: Any
) -> None:
    worker, facts = replayed
    truth: dict[str, DeviceTruth] = facts["truth"]
    by_ssid: dict[str, set[str]] = {}
    for mac, device in truth.items():
        for ssid in device.ssids:
            by_ssid.setdefault(ssid, set()).add(mac)
    ssid, macs = max(by_ssid.items(), key=lambda item: (len(item[1]), item[0]))
    page.goto(f"{worker.url}/")
    page.fill("#search input", ssid)
    page.press("#search input", "Enter")
    page.get_by_role("link", name=ssid, exact=True).click(timeout=WAIT_MS)
    page.wait_for_selector("#ssid-devices tbody tr", timeout=WAIT_MS)
    listed = set(page.locator("#ssid-devices tbody tr td:first-child").all_inner_texts())
    assert listed == macs
    _shot(page, "ssid")


def test_a_probe_sent_while_the_live_view_is_open_appears_without_a_reload(
    replayed: tuple[Worker, dict[str, Any]], page: Any
) -> None:
    worker, facts = replayed
    page.goto(f"{worker.url}/#/live")
    page.wait_for_selector("#live-state >> text=Following", timeout=WAIT_MS)
    mac = "02:00:5e:10:20:30"
    produce_probes(facts["deployment"].prefix, [probe(mac, time.time(), ssid="CafeGuest")])
    page.wait_for_selector(f"#live-probes >> text={mac}", timeout=WAIT_MS)
    assert "CafeGuest" in page.inner_text("#live-probes tbody tr:first-child")
    _shot(page, "live")


def test_the_watch_list_can_be_edited_and_the_cluster_is_shown(
    replayed: tuple[Worker, dict[str, Any]], page: Any
) -> None:
    worker, _ = replayed
    page.goto(f"{worker.url}/#/watchlist")
    page.fill("#watch-form input[name=ssid]", "Free WiFi")
    page.fill("#watch-form input[name=reason]", "phishing bait")
    page.click("#watch-form button[type=submit]")
    page.wait_for_selector("#watch-table >> text=phishing bait", timeout=WAIT_MS)
    wait_for(
        lambda: (
            http_json(f"{worker.url}/watchlist")[1]["watchlist"]
            == [{"ssid": "Free WiFi", "reason": "phishing bait"}]
        ),
        15,
        "the watch list to hold the SSID",
    )
    _shot(page, "watchlist")
    page.goto(f"{worker.url}/#/cluster")
    page.wait_for_selector("#cluster-table tbody tr", timeout=WAIT_MS)
    assert worker.url in page.inner_text("#cluster-table")
    _shot(page, "cluster")


def test_the_page_is_readable_on_a_phone(
    replayed: tuple[Worker, dict[str, Any]], browser: Any
) -> None:
    worker, _ = replayed
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = context.new_page()
    phone.goto(f"{worker.url}/#/devices")
    phone.wait_for_selector("#device-table tbody tr", timeout=WAIT_MS)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px screen"
    _shot(phone, "devices-phone")
    context.close()


def test_nothing_the_page_loads_comes_from_elsewhere(
    replayed: tuple[Worker, dict[str, Any]], page: Any
) -> None:
    worker, _ = replayed
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{worker.url}/")
    page.wait_for_selector("#card-devices", timeout=WAIT_MS)
    assert requested and all(url.startswith(worker.url) for url in requested), requested
