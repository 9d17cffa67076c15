"""The bot's client of probewatch's own HTTP API: devices, names, the watch list, subscriptions,
the reports over the history lake.

The bot asks the API rather than a table because the worker handling a chat rarely owns the
device's partition; any worker's API routes the query to the owner. Edits go through the API too,
so the bot never writes a topic or table itself. Each answer has its own result type, and every
way a call can fail (5xx, timeout, refused connection) becomes `ApiUnavailable`, which the
handlers turn into a clear failure message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote

import aiohttp

from app.models import WatchEntry

#: A device as the API answers, read defensively: all of DeviceStats (`app.models`) from
#: `GET /devices/{mac}`; only mac, name and probe_count for a device named but not yet seen.
DeviceJson = Mapping[str, Any]

#: How many devices a look-up by name lists: more than one Telegram message can show.
NAMED_PAGE = 100
#: How long a report may take: DuckDB reads the lake's files, far slower than a table look-up.
REPORT_TIMEOUT_S = 30.0


class ApiUnavailable(Exception):
    """The API did not answer the query; the message says why, for the user and the log."""


@dataclass(frozen=True)
class DeviceFound:
    """200: the device's statistics."""

    stats: DeviceJson


@dataclass(frozen=True)
class DeviceNotFound:
    """404: no probe from this MAC yet; a normal answer, not a failure."""

    mac: str


@dataclass(frozen=True)
class InvalidQuery:
    """400: the API refused the query; `error` says why."""

    error: str


DeviceLookup = DeviceFound | DeviceNotFound | InvalidQuery


@dataclass(frozen=True)
class DevicesNamed:
    """200 to a look-up by name: the first page of the devices whose name contains it (list
    items, latest first), and how many there are in all."""

    devices: tuple[DeviceJson, ...]
    count: int


NameLookup = DevicesNamed | InvalidQuery


@dataclass(frozen=True)
class EditDone:
    """200: the edit is stored and visible; `body` is the API's answer."""

    body: Mapping[str, Any]


@dataclass(frozen=True)
class EditPending:
    """202: Kafka has the edit, but this worker did not see it applied in time (it will be)."""


@dataclass(frozen=True)
class EditRefused:
    """4xx: the API refused the edit (400 bad input, 404 nothing to edit); `error` says why."""

    status: int
    error: str


EditResult = EditDone | EditPending | EditRefused


@dataclass(frozen=True)
class ReportInfo:
    """One ready report of `GET /analytics`: its name, what it answers, the parameters it takes."""

    name: str
    about: str
    parameters: tuple[str, ...]


@dataclass(frozen=True)
class ReportRows:
    """200 to `GET /analytics/{report}`: the columns, and each row as {column: value}."""

    report: str
    columns: tuple[str, ...]
    rows: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class ReportRefused:
    """400 (a bad report or parameter, named by `parameter`) or 404 (no lake): `error` says why."""

    status: int
    error: str
    parameter: str | None


ReportResult = ReportRows | ReportRefused


class ProbewatchApi:
    """An aiohttp client of one worker's API; the session is opened on first use."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        busy_retry_s: float = 5.0,
        report_timeout: float = REPORT_TIMEOUT_S,
        credential: Callable[[], Mapping[str, str]] = dict,
    ) -> None:
        """`credential()` gives the headers that let the bot in (the workers' own)."""
        self.base_url = base_url.rstrip("/")
        self.credential = credential
        self.timeout = timeout
        self.report_timeout = report_timeout
        #: How long a 503 (a rebalance in progress) is retried before it counts as a failure.
        self.busy_retry_s = busy_retry_s
        self._session: aiohttp.ClientSession | None = None

    async def device(self, mac: str) -> DeviceLookup:
        """One device's statistics, or why there are none."""
        status, body = await self._call("GET", f"/devices/{quote(mac, safe=':')}")
        if status == 200 and isinstance(body, dict):
            return DeviceFound(body)
        if status == 404:
            return DeviceNotFound(mac)
        if status == 400:
            return InvalidQuery(_error(body))
        raise _unexpected(status)

    async def devices_named(self, name: str, limit: int = NAMED_PAGE) -> NameLookup:
        """The devices whose name contains this one (case-insensitive), from all workers."""
        params = {"name": name, "limit": str(limit)}
        status, body = await self._call("GET", "/devices", params=params)
        if status == 200 and isinstance(body, dict) and isinstance(body.get("devices"), list):
            devices = tuple(d for d in body["devices"] if isinstance(d, dict))
            count = body.get("count")
            return DevicesNamed(devices, count if isinstance(count, int) else len(devices))
        if status == 400:
            return InvalidQuery(_error(body))
        raise _unexpected(status)

    async def name_device(self, mac: str, name: str) -> EditResult:
        """Give a device a name (`PUT /devices/{mac}/name`), labelled as set from the bot."""
        path = f"/devices/{quote(mac, safe=':')}/name"
        return _edit(*await self._call("PUT", path, json={"name": name}, params={"source": "bot"}))

    async def erase(self, mac: str) -> EditResult:
        """Erase a device everywhere (`DELETE /devices/{mac}`): where it was found."""
        return _edit(*await self._call("DELETE", f"/devices/{quote(mac, safe=':')}"))

    async def forget_name(self, mac: str) -> EditResult:
        """Forget a device's name (`DELETE /devices/{mac}/name`)."""
        return _edit(*await self._call("DELETE", f"/devices/{quote(mac, safe=':')}/name"))

    async def watchlist(self) -> list[WatchEntry]:
        """The whole SSID watch list, sorted by SSID."""
        status, body = await self._call("GET", "/watchlist")
        if (
            status != 200
            or not isinstance(body, dict)
            or not isinstance(body.get("watchlist"), list)
        ):
            raise _unexpected(status)
        return [
            WatchEntry(str(entry.get("ssid", "")), str(entry.get("reason") or ""))
            for entry in body["watchlist"]
            if isinstance(entry, dict)
        ]

    async def watch(self, ssid: str, reason: str) -> EditResult:
        """Put an SSID on the watch list (or change its reason)."""
        path = f"/watchlist/{quote(ssid, safe='')}"
        return _edit(*await self._call("PUT", path, json={"reason": reason}))

    async def unwatch(self, ssid: str) -> EditResult:
        """Take an SSID off the watch list; 404 when it was not on it."""
        return _edit(*await self._call("DELETE", f"/watchlist/{quote(ssid, safe='')}"))

    async def subscribe(self, chat_id: int, bot_id: int) -> EditResult:
        """Send this chat every alert, through this bot; `changed` is false if it already was."""
        return _edit(*await self._call("PUT", f"/subscriptions/{chat_id}", json={"bot": bot_id}))

    async def unsubscribe(self, chat_id: int) -> EditResult:
        """Send this chat no more alerts; `changed` is false if it was not subscribed."""
        return _edit(*await self._call("DELETE", f"/subscriptions/{chat_id}"))

    async def reports(self) -> list[ReportInfo]:
        """The ready reports over the lake (`GET /analytics`), sorted by name."""
        status, body = await self._call("GET", "/analytics")
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("reports"), list):
            raise _unexpected(status)
        return [
            ReportInfo(
                str(item.get("name", "")),
                str(item.get("about") or ""),
                tuple(str(p) for p in item.get("parameters") or ()),
            )
            for item in body["reports"]
            if isinstance(item, dict)
        ]

    async def report(self, name: str, params: Mapping[str, str]) -> ReportResult:
        """One report's rows (`GET /analytics/{report}`), or why the API refused it."""
        status, body = await self._call(
            "GET",
            f"/analytics/{quote(name, safe='')}",
            params=dict(params),
            timeout=self.report_timeout,
        )
        if status == 200 and isinstance(body, dict):
            columns = tuple(str(c) for c in body.get("columns") or ())
            rows = tuple(r for r in body.get("rows") or () if isinstance(r, dict))
            return ReportRows(str(body.get("report") or name), columns, rows)
        if status in (400, 404):
            parameter = body.get("parameter") if isinstance(body, dict) else None
            return ReportRefused(status, _error(body), str(parameter) if parameter else None)
        raise _unexpected(status)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> tuple[int, Any]:
        """Status and decoded body; a 503 (rebalance) is retried for up to `busy_retry_s`.

        Every call the bot makes is safe to repeat (GETs, and PUT/DELETE of a whole value).
        `timeout` replaces the client's for this call.
        """
        url = f"{self.base_url}{path}"
        deadline = time.monotonic() + self.busy_retry_s
        while True:
            status, body = await self._request(method, url, json, params, timeout or self.timeout)
            if status == 503 and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                continue
            if status == 503:
                raise ApiUnavailable("the cluster is being rebalanced")
            return status, body

    async def _request(
        self,
        method: str,
        url: str,
        json: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
        timeout: float,
    ) -> tuple[int, Any]:
        session = self._open()
        limit = aiohttp.ClientTimeout(total=timeout)
        try:
            async with session.request(
                method, url, json=json, params=params, headers=self.credential(), timeout=limit
            ) as response:
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = None
                return response.status, body
        except TimeoutError:
            raise ApiUnavailable(f"no answer from the API within {timeout:g} s") from None
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


def _error(body: Any) -> str:
    """The `error` of a refusal, or a generic reason when the body has none."""
    error = body.get("error") if isinstance(body, dict) else None
    return str(error or "not a valid query")


def _unexpected(status: int) -> ApiUnavailable:
    return ApiUnavailable(f"the API answered HTTP {status}")


def _edit(status: int, body: Any) -> EditResult:
    """An edit's answer: done, stored but not yet visible, refused, or a failure (raised)."""
    if status == 200 and isinstance(body, dict):
        return EditDone(body)
    if status == 202:
        return EditPending()
    if status in (400, 404):
        return EditRefused(status, _error(body))
    raise _unexpected(status)
