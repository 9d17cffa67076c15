"""The HTTP server of every worker: timeouts, no 5xx for what a client sends, quiet logs.

faust serves the views of `app.web` with aiohttp. `Web` is faust's aiohttp web driver (selected by
`web=WEB_DRIVER` in `app.main`) with four additions:

* **Timeouts**, aiohttp's own settings. aiohttp bounds with one deadline (`keepalive_timeout`)
  the time from a connection's opening, or from the end of its previous answer, until the next
  request's headers are complete: that is the header timeout and the idle timeout at once
  (HEADER_TIMEOUT_S). A body is read with `read_body`, which gives up after BODY_TIMEOUT_S (408);
  a body no view reads is drained for at most LINGER_S after the answer, then the connection is
  closed. Nothing bounds an answer: the event streams under /stream/* stay open while their
  client listens (they write a keep-alive every 15 s).
* **A guard** around everything that answers a request (routing, the views): what escapes a view
  becomes a client error (400 for an undecodable body, a 417 for an Expect header it cannot
  meet), a 503 with `Retry-After` when Kafka or the cluster is not ready, a 502 when another
  worker does not answer; only a bug is a 500. Every 503 gets a `Retry-After`.
* **Reads first.** Every request counts as being answered from its arrival until its answer's
  headers are sent (an event stream only until it starts): meanwhile the folds and flushes wait
  for it at their hand-overs, up to 20 ms each time (`app.worker.pacing`).
* **One line per rejected request.** aiohttp logs a malformed request, an undecodable body or a
  client gone mid-request as an ERROR with a traceback; here each becomes a counted,
  rate-limited line (`app.worker.counters`: `http.rejected.<reason>`, in /health and /metrics).
  Reasons: `malformed`, `bad_body`, `body_timeout`, `too_large`, `client_gone`, `unavailable`.
  A bug keeps its traceback, rate-limited the same way (`http.errors`). Neither logs a path (the
  webhook's is a secret) nor a header.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, cast

import aiohttp
from aiohttp import hdrs
from aiohttp import web as aiohttp_web
from aiohttp.http_exceptions import HttpProcessingError, PayloadEncodingError
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from aiokafka.errors import KafkaError
from faust.exceptions import NotReady, ProducerSendError
from faust.types import AppT
from faust.web import Request
from faust.web.drivers import DRIVERS
from faust.web.drivers.aiohttp import Web as AiohttpWeb
from faust.web.exceptions import WebError

from app.settings import get_settings
from app.worker.counters import LOG_FIRST, counters
from app.worker.pacing import answering

#: Until a request's headers are complete, counted from the connection's opening or the end of
#: the previous answer on it; also how long an idle keep-alive connection is kept (one aiohttp
#: deadline; `PROBEWATCH_HTTP_HEADER_TIMEOUT_S`). The default, 20 s, is far above what a client
#: needs to send a few hundred bytes of headers, and above the 15 s aiohttp clients keep an idle
#: connection (the workers' forwarding, the bot's API client), so those always close first and
#: never send a request into a connection being closed.
HEADER_TIMEOUT_S = get_settings().http_header_timeout_s
IDLE_TIMEOUT_S = HEADER_TIMEOUT_S
#: Until a body a view reads is complete (`PROBEWATCH_HTTP_BODY_TIMEOUT_S`, 30 s): the bodies
#: here are at most a megabyte (a Telegram update), usually a few hundred bytes.
BODY_TIMEOUT_S = get_settings().http_body_timeout_s
#: How long an unread body is drained after the answer before the connection is closed (aiohttp's
#: `lingering_time`, `PROBEWATCH_HTTP_LINGER_S`, 5 s; it lets the client read the answer
#: instead of meeting a reset).
LINGER_S = get_settings().http_linger_s
#: The largest body a view reads (aiohttp's default `client_max_size`).
MAX_BODY_BYTES = 1024 * 1024
#: What a 503 asks the client to wait: a start or a rebalance takes seconds.
RETRY_AFTER_S = 5
STREAM = "http"
CHUNK = 64 * 1024
WEB_DRIVER = "probewatch-aiohttp://"

logger = logging.getLogger(__name__)
#: The logger aiohttp's connection handlers write to, through `OneLinePerRequest`.
server_logger = logging.getLogger(f"{__name__}.aiohttp")

#: Set on an exception already counted and logged, so the server does not report it again when
#: it drains the body that raised it.
_REPORTED = "_probewatch_reported"
#: Set on a request while it counts as being answered (`app.worker.pacing.answering`).
_ANSWERING = aiohttp_web.RequestKey("probewatch.answering", bool)

Handler = Callable[[BaseRequest], Awaitable[StreamResponse]]


class BodyRejected(WebError):
    """A request body that cannot be used; faust answers it with `code` and closes the connection.

    `reason` is what it was counted as (`<stream>.rejected.<reason>`).
    """

    def __init__(self, reason: str, code: int, detail: str) -> None:
        self.headers = {hdrs.CONNECTION: "close"}
        super().__init__(detail, code=code, headers=self.headers)
        self.reason = reason


async def read_body(
    request: Request, *, limit: int = MAX_BODY_BYTES, stream: str = STREAM, client: object = None
) -> bytes:
    """The request body, decoded (Content-Encoding) and complete, or BodyRejected (counted).

    Read chunk by chunk: a body that is (or claims to be) over `limit` is cut off there instead of
    being buffered whole (413); one not complete within BODY_TIMEOUT_S is a 408, one that cannot
    be decoded a 400; a client that goes away is counted as `client_gone`. Rejections are counted
    under `stream` and logged with `client` (default: the TCP peer).
    """
    raw = cast(aiohttp_web.Request, request)
    who = raw.remote if client is None else client

    def rejected(reason: str, code: int, detail: str) -> BodyRejected:
        counters.reject(stream, reason, f"HTTP {code} to {who}")
        return BodyRejected(reason, code, detail)

    too_large = f"the body is over {limit} bytes"
    if raw.content_length is not None and raw.content_length > limit:
        raise rejected("too_large", 413, too_large)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            async for chunk in raw.content.iter_chunked(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise rejected("too_large", 413, too_large)
                chunks.append(chunk)
    except TimeoutError:
        raise rejected(
            "body_timeout", 408, f"the body did not arrive within {BODY_TIMEOUT_S:g} s"
        ) from None
    except ConnectionError:
        raise rejected("client_gone", 400, "the client went away") from None
    except (aiohttp_web.RequestPayloadError, HttpProcessingError) as bad:
        setattr(bad, _REPORTED, True)
        raise rejected(
            "bad_body", 400, "the body cannot be decoded (Content-Encoding or chunking)"
        ) from None
    return b"".join(chunks)


def guard(handle: Handler) -> Handler:
    """`handle` (aiohttp's routing, middlewares and the views), answering what escapes it."""

    async def guarded(request: BaseRequest) -> StreamResponse:
        if _unmeetable_expectation(request):
            # aiohttp would answer 417 too, but echoes the header and fails (500) on a value
            # that is not UTF-8.
            return aiohttp_web.json_response({"error": "unsupported Expect header"}, status=417)
        request[_ANSWERING] = True
        answering.begin()
        try:
            response = await handle(request)
        except aiohttp_web.HTTPException as answer:  # aiohttp's own 404, 405, 413…
            _ask_to_retry(answer)
            raise
        except Exception as err:
            response = _answer_to(request, err)
        finally:
            _answered(request)
        _ask_to_retry(response)
        return response

    return guarded


def _answered(request: BaseRequest) -> None:
    """The request no longer counts as being answered (its headers are sent, or it failed)."""
    if request.get(_ANSWERING):
        request[_ANSWERING] = False
        answering.end()


async def _headers_sent(request: BaseRequest, response: StreamResponse) -> None:
    _answered(request)


def _unmeetable_expectation(request: BaseRequest) -> bool:
    expect = request.headers.get(hdrs.EXPECT)
    return (
        expect is not None
        and request.version == aiohttp.HttpVersion11
        and expect.lower() != "100-continue"
    )


def _ask_to_retry(response: StreamResponse) -> None:
    if response.status == 503 and not response.prepared:
        response.headers.setdefault(hdrs.RETRY_AFTER, str(RETRY_AFTER_S))


def _answer_to(request: BaseRequest, err: Exception) -> StreamResponse:
    """The answer to a request whose handling raised `err`, which is counted and logged."""
    client = request.remote
    if isinstance(err, ConnectionError):  # also aiohttp's ClientConnectionResetError
        counters.reject(STREAM, "client_gone", f"{type(err).__name__} from {client}")
        return _error(400, "the client went away")
    if isinstance(err, aiohttp_web.RequestPayloadError | HttpProcessingError):
        setattr(err, _REPORTED, True)
        counters.reject(STREAM, "bad_body", f"{type(err).__name__} from {client}")
        return _error(400, "the body cannot be decoded", close=True)
    if isinstance(err, KafkaError | NotReady | ProducerSendError | TimeoutError):
        counters.reject(STREAM, "unavailable", f"{type(err).__name__}, HTTP 503 to {client}")
        return _error(503, "Kafka is not available; retry shortly")
    if isinstance(err, aiohttp.ClientError):
        counters.reject(STREAM, "unavailable", f"{type(err).__name__}, HTTP 502 to {client}")
        return _error(502, "another worker did not answer")
    match_info = getattr(request, "match_info", None)
    resource = match_info.route.resource if match_info is not None else None
    where = resource.canonical if resource is not None else "?"  # a pattern: never a secret path
    log_error(f"unexpected error answering {request.method} {where}", err)
    return _error(500, "internal error")


def _error(status: int, text: str, *, close: bool = False) -> StreamResponse:
    headers = {hdrs.CONNECTION: "close"} if close else None
    return aiohttp_web.json_response({"error": text}, status=status, headers=headers)


def log_error(message: str, err: BaseException) -> None:
    """Log a bug with its traceback, at most as often as `app.worker.counters` logs a rejection."""
    if _error_to_log():
        logger.error(message, exc_info=err)


def _error_to_log() -> bool:
    """Count one more bug (`http.errors`): True for the first few, then every 1000th."""
    name = f"{STREAM}.errors"
    counters.incr(name)
    seen = counters.counts[name]
    return seen <= LOG_FIRST or seen % 1000 == 0


def rejection_reason(err: BaseException) -> str | None:
    """What a request aiohttp complains about was, by the exception (or what caused it)."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, aiohttp_web.RequestPayloadError | PayloadEncodingError):
            return "bad_body"
        if isinstance(seen, HttpProcessingError):
            return "malformed"
        if isinstance(seen, ConnectionError):
            return "client_gone"
        seen = seen.__cause__ or seen.__context__
    return None


class OneLinePerRequest(logging.Filter):
    """aiohttp's reports of bad requests and vanished clients as counted one-line entries.

    aiohttp's connection handler logs them with `logger.exception` (a traceback each). A record
    whose exception is a client's doing is counted and logged by `app.worker.counters` instead; one
    already reported is dropped; any other exception is a bug and keeps its traceback,
    rate-limited.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        err = record.exc_info[1] if record.exc_info else None
        if err is None:
            return True
        if getattr(err, _REPORTED, False):
            return False
        reason = rejection_reason(err)
        if reason is None:
            return _error_to_log()
        counters.reject(STREAM, reason, f"{type(err).__name__} ({record.getMessage()})")
        return False


server_logger.addFilter(OneLinePerRequest())


def server_options() -> dict[str, Any]:
    """aiohttp's per-connection settings (`RequestHandler` keyword arguments)."""
    return {
        "keepalive_timeout": HEADER_TIMEOUT_S,
        "lingering_time": LINGER_S,
        "logger": server_logger,
    }


class Web(AiohttpWeb):
    """faust's aiohttp web driver with this module's timeouts, guard and server log, and
    without faust's index page (`GET /` is the dashboard, `app.web.dashboard`)."""

    production_blueprints: ClassVar[list[tuple[str, Any]]] = []
    #: Further (bind, port) pairs the same server listens on: the webhook's own listener, whose
    #: requests `app.web.access` lets reach the webhook only.
    extra_listeners: ClassVar[list[tuple[str, int]]] = []

    def __init__(self, app: AppT, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.web_app.on_response_prepare.append(_headers_sent)
        self._runner = aiohttp_web.AppRunner(self.web_app, access_log=None, **server_options())

    async def start_server(self) -> None:
        """Start the web server, every request going through `guard`."""
        await self._runner.setup()
        server = self._runner.server
        assert server is not None  # set by setup()
        server.request_handler = guard(server.request_handler)
        await self._create_site().start()
        for bind, port in self.extra_listeners:
            await aiohttp_web.TCPSite(self._runner, bind, port, reuse_address=True).start()


DRIVERS.aliases.setdefault(WEB_DRIVER.partition(":")[0], f"{__name__}:Web")
