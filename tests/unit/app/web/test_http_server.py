"""The worker's web driver (`app.web.server.Web`) in-process, with timeouts shortened to fractions
of a second: what a client sees and what is logged for bodies, timeouts, errors and bad requests.

The real values are exercised against a running worker in tests/integration/test_http_hardening.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import faust
import pytest
from aiohttp import web as aiohttp_web
from aiokafka.errors import KafkaConnectionError
from faust import web
from faust.exceptions import NotReady

from app.web import server
from app.web.server import WEB_DRIVER, read_body
from app.worker.counters import LOG_FIRST, counters
from app.worker.pacing import answering
from tests.harness import free_port

TIMEOUT_S = 0.5
#: Headers and a body that says it is gzip and is not.
GZIP_ABC = b"Content-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc"


@pytest.fixture()
async def worker(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """A faust app served by the probewatch driver on a free port; its base URL."""
    monkeypatch.setattr(server, "HEADER_TIMEOUT_S", TIMEOUT_S)
    monkeypatch.setattr(server, "BODY_TIMEOUT_S", TIMEOUT_S)
    monkeypatch.setattr(server, "LINGER_S", TIMEOUT_S)
    port = free_port()
    app = faust.App(
        f"unit-http-{port}",
        web=WEB_DRIVER,
        web_port=port,
        web_bind="127.0.0.1",
        store="memory://",
        broker="kafka://localhost:1",
    )
    blueprint = web.Blueprint("test")

    @blueprint.route("/body", name="body")
    class BodyView(web.View):
        async def put(self, request: web.Request) -> web.Response:
            return self.json({"size": len(await read_body(request, limit=100))})

        async def get(self, request: web.Request) -> web.Response:
            return self.json({"ok": True})

    @blueprint.route("/fail/{kind}", name="fail")
    class FailView(web.View):
        async def get(self, request: web.Request, kind: str) -> Any:
            if kind == "kafka":
                raise KafkaConnectionError("broker away")
            if kind == "not-ready":
                raise NotReady("producer not started")
            if kind == "worker":
                raise aiohttp.ClientConnectorError(None, OSError("refused"))  # type: ignore[arg-type]
            if kind == "503":
                return self.json({"error": "busy"}, status=503)
            if kind == "http-503":
                raise aiohttp_web.HTTPServiceUnavailable()
            raise RuntimeError("a bug")

    @blueprint.route("/stream", name="stream")
    class StreamView(web.View):
        async def get(self, request: web.Request) -> Any:
            response = aiohttp_web.StreamResponse()
            await response.prepare(request)  # type: ignore[arg-type]
            for _ in range(8):  # longer than every timeout
                await response.write(b": keep-alive\n\n")
                await asyncio.sleep(TIMEOUT_S / 2)
            await response.write(b"data: done\n\n")
            return response

    @blueprint.route("/answering", name="answering")
    class AnsweringView(web.View):
        async def get(self, request: web.Request) -> web.Response:
            return self.json({"answering": answering.count})

    blueprint.register(app)
    driver = app.web
    assert isinstance(driver, server.Web)
    driver.init_server()
    await driver.start_server()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await driver.stop_server()


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def raw(url: str, data: bytes) -> bytes:
    """Send bytes, read until the server closes (or 5 s). A server that closes with part of
    the request unread resets the connection after its answer: what came before the reset is
    the answer (`reader.read()` to the end would drop it with the error; seen once in CI)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(url))
    writer.write(data)
    await writer.drain()
    answer = bytearray()
    try:
        async with asyncio.timeout(5):
            while chunk := await reader.read(65_536):
                answer += chunk
    except ConnectionResetError:
        pass
    finally:
        writer.close()
    return bytes(answer)


async def closed_within(url: str, opening: bytes, drip: bytes = b"") -> float:
    """Seconds until the server closes a connection that sent `opening`, then `drip` slowly."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(url))
    began = time.monotonic()
    writer.write(opening)
    try:
        while time.monotonic() - began < 10:
            if drip:
                writer.write(drip[:1])
                drip = drip[1:] or drip
            try:
                if not await asyncio.wait_for(reader.read(65536), TIMEOUT_S / 5):
                    return time.monotonic() - began
            except TimeoutError:
                continue
            except ConnectionError:
                return time.monotonic() - began
        raise AssertionError("still open after 10 s")
    finally:
        writer.close()


def status_of(answer: bytes) -> int:
    return int(answer.split(b"\r\n", 1)[0].split()[1])


def rejected(reason: str) -> int:
    return counters.counts[f"http.rejected.{reason}"]


async def test_a_body_is_read_whole_within_its_limit(worker: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.put(f"{worker}/body", data=b"x" * 100) as response:
            assert (response.status, await response.json()) == (200, {"size": 100})
        gzipped = gzip.compress(b"y" * 50)
        headers = {"Content-Encoding": "gzip"}
        async with session.put(f"{worker}/body", data=gzipped, headers=headers) as response:
            assert (response.status, await response.json()) == (200, {"size": 50})


async def test_bodies_that_cannot_be_used_are_4xx_and_counted(worker: str) -> None:
    before = {r: rejected(r) for r in ("too_large", "bad_body", "body_timeout", "client_gone")}
    async with aiohttp.ClientSession() as session:
        async with session.put(f"{worker}/body", data=b"x" * 101) as response:
            assert response.status == 413 and response.headers["Connection"] == "close"
        headers = {"Content-Encoding": "gzip"}
        async with session.put(f"{worker}/body", data=b"not gzip", headers=headers) as response:
            assert response.status == 400 and response.headers["Connection"] == "close"
    answer = await raw(worker, b"PUT /body HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
    assert answer.startswith(b"HTTP/1.1 408 ")
    _, writer = await asyncio.open_connection("127.0.0.1", port_of(worker))
    writer.write(b"PUT /body HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.transport.abort()  # gone mid-body
    for _ in range(50):
        if rejected("client_gone") > before["client_gone"]:
            break
        await asyncio.sleep(0.05)
    assert {r: rejected(r) - n for r, n in before.items()} == {
        "too_large": 1,
        "bad_body": 1,
        "body_timeout": 1,
        "client_gone": 1,
    }


async def test_slow_and_idle_connections_are_closed_but_a_long_answer_is_not(worker: str) -> None:
    limit = TIMEOUT_S + 0.5
    slow_header = closed_within(worker, b"GET /body HTTP/1.1\r\n", b"X-Slow: header\r\n")
    nothing = closed_within(worker, b"")
    slow_body = closed_within(
        worker, b"PUT /body HTTP/1.1\r\nHost: x\r\nContent-Length: 90\r\n\r\n", b"x"
    )
    idle = closed_within(worker, b"GET /body HTTP/1.1\r\nHost: x\r\n\r\n")
    unread = closed_within(
        worker, b"GET /body HTTP/1.1\r\nHost: x\r\nContent-Length: 90\r\n\r\n", b"x"
    )
    stream = raw(worker, b"GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    results = await asyncio.gather(slow_header, nothing, idle, slow_body, unread, stream)
    header, silent, kept, body, drained, streamed = results
    assert header < limit and silent < limit and kept < limit
    assert body < TIMEOUT_S + server.LINGER_S + 0.5 and drained < limit
    assert streamed.count(b": keep-alive") == 8 and b"data: done" in streamed


async def test_errors_escaping_a_view_are_4xx_or_503_with_retry_after(
    worker: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with aiohttp.ClientSession() as session:
        for kind, status in [
            ("kafka", 503),
            ("not-ready", 503),
            ("503", 503),
            ("http-503", 503),
            ("worker", 502),
            ("bug", 500),
        ]:
            async with session.get(f"{worker}/fail/{kind}") as response:
                assert response.status == status, kind
                if status == 503:
                    assert response.headers["Retry-After"] == str(server.RETRY_AFTER_S), kind
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert [r.getMessage() for r in tracebacks] == ["unexpected error answering GET /fail/{kind}"]


async def test_an_expect_header_it_cannot_meet_is_a_417_on_any_path(worker: str) -> None:
    for path in (b"/body", b"/nothing"):
        answer = await raw(
            worker, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nExpect: \x80\xff\r\n\r\n"
        )
        assert answer.startswith(b"HTTP/1.1 417 "), answer
    answer = await raw(
        worker,
        b"PUT /body HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
        b"Connection: close\r\n\r\n{}",
    )
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 "), answer


async def test_bad_requests_are_one_line_each_and_rate_limited(
    worker: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bad = [  # (request, status, counted as)
        (b"GET /body HTTP/1.1\r\nBad Header: x\r\n\r\n", 400, "malformed"),
        (b"GET /body HTTP/1.1\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n", 400, "malformed"),
        (b"GET /body HTTP/1.1 x\r\n\r\n", 400, "malformed"),
        # broken chunk framing: aiohttp's parser refuses it as it parses the message
        (
            b"PUT /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            400,
            "malformed",
        ),
        (
            b"PUT /body HTTP/1.1\r\nHost: x\r\n" + GZIP_ABC,
            400,
            "bad_body",
        ),
        # a body nobody reads is found undecodable when it is drained after the answer
        (
            b"GET /body HTTP/1.1\r\nHost: x\r\n" + GZIP_ABC,
            200,
            "bad_body",
        ),
    ]
    reasons = {reason for _, _, reason in bad}
    before = {reason: rejected(reason) for reason in reasons}
    rounds = LOG_FIRST + 5
    for _ in range(rounds):
        for request, status, _ in bad:
            answer = await raw(worker, request)
            assert status_of(answer) == status, (request[:40], answer[:100])
    for reason in reasons:
        expected = rounds * sum(1 for _, _, r in bad if r == reason)
        assert rejected(reason) - before[reason] == expected, reason
        logged = [
            r.getMessage()
            for r in caplog.records
            if r.getMessage().startswith(f"rejected http message ({reason}, #")
        ]
        assert len(logged) == max(0, LOG_FIRST - before[reason]), reason
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_a_request_counts_as_being_answered_until_its_headers_are_sent(worker: str) -> None:
    """What the folds give way to (`app.worker.pacing`): each request until its answer's headers
    go out, whatever the answer; an event stream only until it starts."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{worker}/answering") as response:
            assert await response.json() == {"answering": 1}
        for path in ("/body", "/fail/bug", "/fail/kafka", "/fail/http-503", "/nowhere"):
            async with session.get(f"{worker}{path}") as response:
                await response.read()
            assert answering.count == 0, path
        async with session.get(f"{worker}/stream") as streaming:
            assert streaming.status == 200  # its headers are here; it goes on for seconds
            async with session.get(f"{worker}/answering") as response:
                assert await response.json() == {"answering": 1}
            await streaming.read()
    assert answering.count == 0


async def test_a_request_whose_client_goes_away_is_not_counted_for_ever(worker: str) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", port_of(worker))
    writer.write(b"PUT /body HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nabc")
    await writer.drain()
    await asyncio.sleep(0.1)
    assert answering.count == 1  # the view waits for the rest of the body
    writer.close()
    await asyncio.sleep(0.3)
    assert answering.count == 0
