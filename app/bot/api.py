"""The bot's client of probewatch's own HTTP API (`GET /devices/{mac}`).

The bot asks the API rather than a table because the worker handling a chat rarely owns the
device's partition; any worker's API routes the query to the owner. Each answer has its own
result type, and every way the query can fail (5xx, timeout, refused connection) becomes
`ApiUnavailable`, which the handlers turn into a clear failure message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote

import aiohttp

#: One device's statistics as the API serves them (DESIGN.md, "DeviceStats").
DeviceStats = Mapping[str, Any]


class ApiUnavailable(Exception):
    """The API did not answer the query; the message says why, for the user and the log."""


@dataclass(frozen=True)
class DeviceFound:
    """200: the device's statistics."""

    stats: DeviceStats


@dataclass(frozen=True)
class DeviceNotFound:
    """404: no probe from this MAC yet; a normal answer, not a failure."""

    mac: str


@dataclass(frozen=True)
class InvalidQuery:
    """400: the API refused the query; `error` says why."""

    error: str


DeviceLookup = DeviceFound | DeviceNotFound | InvalidQuery


class ProbewatchApi:
    """An aiohttp client of one worker's API; the session is opened on first use."""

    def __init__(self, base_url: str, *, timeout: float = 10.0, busy_retry_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        #: How long a 503 (a rebalance in progress) is retried before it counts as a failure.
        self.busy_retry_s = busy_retry_s
        self._session: aiohttp.ClientSession | None = None

    async def device(self, mac: str) -> DeviceLookup:
        """One device's statistics, or why there are none."""
        url = f"{self.base_url}/devices/{quote(mac, safe=':')}"
        deadline = time.monotonic() + self.busy_retry_s
        while True:
            status, body = await self._get(url)
            if status == 503 and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                continue
            break
        if status == 200 and isinstance(body, dict):
            return DeviceFound(body)
        if status == 404:
            return DeviceNotFound(mac)
        if status == 400:
            error = body.get("error") if isinstance(body, dict) else None
            return InvalidQuery(str(error or "not a valid query"))
        if status == 503:
            raise ApiUnavailable("the device table is being rebalanced")
        raise ApiUnavailable(f"the API answered HTTP {status}")

    async def _get(self, url: str) -> tuple[int, Any]:
        session = self._open()
        try:
            async with session.get(url) as response:
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = None
                return response.status, body
        except TimeoutError:
            raise ApiUnavailable(f"no answer from the API within {self.timeout:g} s") from None
        except aiohttp.ClientError as err:
            raise ApiUnavailable(f"cannot reach the API ({type(err).__name__})") from None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> ProbewatchApi:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
