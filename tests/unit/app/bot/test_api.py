"""The bot's client of our HTTP API: one result per answer, one exception for every failure."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from app.bot.api import (
    ApiUnavailable,
    DeviceFound,
    DeviceNotFound,
    DevicesNamed,
    EditDone,
    EditPending,
    EditRefused,
    InvalidQuery,
    ProbewatchApi,
    ReportRefused,
    ReportRows,
    WatchEntry,
)
from tests.harness import free_port
from tests.unit.app.bot.conftest import MAC, STATS, FakeApi, serve


async def test_found(fake_api: FakeApi) -> None:
    async with ProbewatchApi(fake_api.url) as api:
        assert await api.device(MAC) == DeviceFound(STATS)


async def test_not_found(fake_api: FakeApi) -> None:
    async with ProbewatchApi(fake_api.url) as api:
        assert await api.device("00:00:5e:00:53:01") == DeviceNotFound("00:00:5e:00:53:01")


async def test_invalid(fake_api: FakeApi) -> None:
    async with ProbewatchApi(fake_api.url) as api:
        assert await api.device("bad") == InvalidQuery("not a MAC address: 'bad'")


async def test_server_error(fake_api: FakeApi) -> None:
    fake_api.fail_with.append(500)
    async with ProbewatchApi(fake_api.url) as api:
        with pytest.raises(ApiUnavailable, match="HTTP 500"):
            await api.device(MAC)


async def test_a_rebalance_is_waited_out(fake_api: FakeApi) -> None:
    fake_api.fail_with.extend([503, 503])
    async with ProbewatchApi(fake_api.url, busy_retry_s=5) as api:
        assert await api.device(MAC) == DeviceFound(STATS)


async def test_a_long_rebalance_is_a_failure(fake_api: FakeApi) -> None:
    fake_api.fail_with.extend([503] * 10)
    async with ProbewatchApi(fake_api.url, busy_retry_s=0.2) as api:
        with pytest.raises(ApiUnavailable, match="rebalanced"):
            await api.device(MAC)


async def test_connection_refused() -> None:
    async with ProbewatchApi(f"http://127.0.0.1:{free_port()}") as api:
        with pytest.raises(ApiUnavailable, match="cannot reach the API"):
            await api.device(MAC)


async def test_timeout() -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response(STATS)

    app = web.Application()
    app.router.add_get("/devices/{mac}", slow)
    async with serve(app) as url, ProbewatchApi(url, timeout=0.2) as api:
        with pytest.raises(ApiUnavailable, match=r"within 0\.2 s"):
            await api.device(MAC)
        release.set()


async def test_devices_by_name(fake_api: FakeApi) -> None:
    fake_api.devices[MAC]["name"] = "Alice phone"
    async with ProbewatchApi(fake_api.url) as api:
        found = await api.devices_named("ALICE")
        assert isinstance(found, DevicesNamed) and [d["mac"] for d in found.devices] == [MAC]
        assert found.count == 1
        assert fake_api.requests[-1][1] == "/devices?name=ALICE&limit=100"
        assert await api.devices_named("nobody") == DevicesNamed((), 0)
        assert await api.devices_named(" ") == InvalidQuery(
            "name: must not be empty (leave it out to not filter)"
        )


async def test_name_edits(fake_api: FakeApi) -> None:
    async with ProbewatchApi(fake_api.url) as api:
        named = await api.name_device(MAC, "Alice")
        assert named == EditDone({"mac": MAC, "name": "Alice", "seen": True})
        assert fake_api.requests[-1][1] == f"/devices/{MAC}/name?source=bot"
        unseen = await api.name_device("00:00:5e:00:53:01", "x")
        assert unseen == EditDone({"mac": "00:00:5e:00:53:01", "name": "x", "seen": False})
        assert await api.name_device(MAC, "") == EditRefused(400, "a name must not be empty")
        assert await api.forget_name(MAC) == EditDone({"mac": MAC, "name": None})
        assert await api.forget_name(MAC) == EditRefused(404, f"{MAC} has no name")


async def test_watch_list_edits(fake_api: FakeApi) -> None:
    async with ProbewatchApi(fake_api.url) as api:
        assert await api.watchlist() == []
        done = await api.watch("Free WiFi ☕", "bait")
        assert done == EditDone({"ssid": "Free WiFi ☕", "reason": "bait", "watched": True})
        assert await api.watchlist() == [WatchEntry("Free WiFi ☕", "bait")]
        assert await api.watch("x" * 33, "") == EditRefused(400, "an SSID has at most 32 bytes")
        assert isinstance(await api.unwatch("Free WiFi ☕"), EditDone)
        not_watched = EditRefused(404, "'Free WiFi ☕' is not on the watch list")
        assert await api.unwatch("Free WiFi ☕") == not_watched


async def test_subscriptions(fake_api: FakeApi) -> None:
    async with ProbewatchApi(fake_api.url) as api:
        first = await api.subscribe(-100123, 42)
        assert first == EditDone({"chat_id": -100123, "subscribed": True, "changed": True})
        assert fake_api.requests[-1] == ("PUT", "/subscriptions/-100123", {"bot": 42})
        again = await api.subscribe(-100123, 42)
        assert isinstance(again, EditDone) and again.body["changed"] is False
        gone = await api.unsubscribe(-100123)
        assert gone == EditDone({"chat_id": -100123, "subscribed": False, "changed": True})


async def test_an_edit_not_applied_in_time_is_pending(fake_api: FakeApi) -> None:
    fake_api.fail_with.append(202)
    async with ProbewatchApi(fake_api.url) as api:
        assert await api.watch("x", "") == EditPending()


async def test_an_edit_that_keeps_failing_raises(fake_api: FakeApi) -> None:
    fake_api.fail_with.extend([500, 503, 503, 503])
    async with ProbewatchApi(fake_api.url, busy_retry_s=0.2) as api:
        with pytest.raises(ApiUnavailable, match="HTTP 500"):
            await api.subscribe(1, 2)
        with pytest.raises(ApiUnavailable, match="being rebalanced"):
            await api.watchlist()


async def test_reports_are_listed(fake_api: FakeApi) -> None:
    async with ProbewatchApi(fake_api.url) as api:
        reports = {r.name: r for r in await api.reports()}
    assert reports["presence"].parameters == ("since", "until", "mac", "gap_minutes")
    assert reports["messages-per-day"].about == "Messages per day (edits not counted)."


async def test_a_report_s_rows_and_refusals(fake_api: FakeApi) -> None:
    async with ProbewatchApi(fake_api.url) as api:
        rows = await api.report("messages-per-day", {"since": "2026-11-18"})
        assert rows == ReportRows(
            "messages-per-day",
            ("day", "messages"),
            ({"day": "2026-11-18", "messages": 4}, {"day": "2026-11-19", "messages": 12}),
        )
        assert fake_api.requests[-1][1] == "/analytics/messages-per-day?since=2026-11-18"
        assert await api.report("presence", {"mac": "nope"}) == ReportRefused(
            400, "mac: give the device's MAC, aa:bb:cc:dd:ee:ff", "mac"
        )
        refused = await api.report("no such/report", {})
        assert isinstance(refused, ReportRefused) and refused.parameter == "report"
        assert fake_api.requests[-1][1] == "/analytics/no%20such%2Freport"
        fake_api.lake = False
        assert await api.report("messages-per-day", {}) == ReportRefused(
            404, "there is no lake (PROBEWATCH_LAKE is empty)", None
        )


async def test_a_report_that_fails_or_takes_too_long_is_unavailable(fake_api: FakeApi) -> None:
    async with ProbewatchApi(fake_api.url) as api:
        fake_api.fail_with = [500]
        with pytest.raises(ApiUnavailable, match="HTTP 500"):
            await api.report("messages-per-day", {})
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({"report": "x", "columns": [], "rows": []})

    app = web.Application()
    app.router.add_get("/analytics/{report}", slow)
    async with serve(app) as url, ProbewatchApi(url, timeout=5, report_timeout=0.2) as api:
        with pytest.raises(ApiUnavailable, match=r"within 0\.2 s"):
            await api.report("messages-per-day", {})
        release.set()
