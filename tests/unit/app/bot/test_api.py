"""The bot's client of our HTTP API: one result per answer, one exception for every failure."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from app.bot.api import (
    ApiUnavailable,
    DeviceFound,
    DeviceNotFound,
    InvalidQuery,
    ProbewatchApi,
)
from tests.harness import free_port
from tests.unit.app.bot.conftest import MAC, STATS, DevicesApi, serve


async def test_found(devices_api: DevicesApi) -> None:
    async with ProbewatchApi(devices_api.url) as api:
        assert await api.device(MAC) == DeviceFound(STATS)


async def test_not_found(devices_api: DevicesApi) -> None:
    async with ProbewatchApi(devices_api.url) as api:
        assert await api.device("00:00:5e:00:53:01") == DeviceNotFound("00:00:5e:00:53:01")


async def test_invalid(devices_api: DevicesApi) -> None:
    async with ProbewatchApi(devices_api.url) as api:
        assert await api.device("bad") == InvalidQuery("not a MAC address: 'bad'")


async def test_server_error(devices_api: DevicesApi) -> None:
    devices_api.fail_with.append(500)
    async with ProbewatchApi(devices_api.url) as api:
        with pytest.raises(ApiUnavailable, match="HTTP 500"):
            await api.device(MAC)


async def test_a_rebalance_is_waited_out(devices_api: DevicesApi) -> None:
    devices_api.fail_with.extend([503, 503])
    async with ProbewatchApi(devices_api.url, busy_retry_s=5) as api:
        assert await api.device(MAC) == DeviceFound(STATS)


async def test_a_long_rebalance_is_a_failure(devices_api: DevicesApi) -> None:
    devices_api.fail_with.extend([503] * 10)
    async with ProbewatchApi(devices_api.url, busy_retry_s=0.2) as api:
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
