"""Who may use the HTTP API: every request passes here after routing, before its view.

A request brings a token (`app.logic.tokens`) as `Authorization: Bearer …`, or, from the
dashboard, in the `probewatch_token` cookie that `POST /login` sets (HttpOnly, SameSite=Strict,
so a page's script cannot read it and another site cannot send it; a cookie alone never
authorises a change from another origin either). Reading needs the `read` capability, anything
else `admin`; a few routes are public (`app.logic.tokens.needed`). The answers: 401 without a
valid token, 403 when its role cannot, 503 while this worker is still reading the tokens.

PROBEWATCH_API_AUTH: `auto` asks for tokens once any exists (the API is open until then, and
the log says so at start), `required` always, `localhost-open` always except for requests from
a loopback address. Requests arriving on the webhook's own listener (PROBEWATCH_WEBHOOK_PORT)
reach Telegram's webhook and nothing else (404).

Workers forward requests to each other (`app.web.routing`, `app.web.gather`), and the bot calls
its worker, with the internal credential derived from the cluster key (`worker_headers`).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable

from aiohttp import hdrs
from aiohttp import web as aiohttp_web

from app.logic.tokens import (
    READ_METHODS,
    WEBHOOK_ROUTE,
    Capability,
    StoredToken,
    capabilities,
    internal_credential,
    needed,
)
from app.main import settings
from app.web.server import Web
from app.worker.counters import counters
from app.worker.lists import cluster_key, tokens

logger = logging.getLogger(__name__)

COOKIE = "probewatch_token"
#: How long a request waits, at start, for this worker to have read the tokens (a second or
#: three after its start) before it is answered 503.
TOKENS_WAIT_S = 10.0
STREAM = "http.auth"
Handler = Callable[[aiohttp_web.Request], Awaitable[aiohttp_web.StreamResponse]]


def open_api() -> bool:
    """Whether the API is open to anyone now (`auto` with no token yet)."""
    if settings.api_auth != "auto":
        return False
    return not any(isinstance(entry, StoredToken) for _, entry in tokens.items())


def internal() -> str | None:
    key = cluster_key()
    return internal_credential(key) if key is not None else None


def worker_headers() -> dict[str, str]:
    """Headers a worker sends another worker (or the bot its worker) to be let in."""
    credential = internal()
    return {hdrs.AUTHORIZATION: f"Bearer {credential}"} if credential else {}


def presented_token(request: aiohttp_web.Request) -> tuple[str | None, bool]:
    """The token a request brings, and whether it came in the cookie."""
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    cookie = request.cookies.get(COOKIE)
    return (cookie, True) if cookie else (None, False)


def check(token: str) -> frozenset[Capability] | None:
    return capabilities(token, dict(tokens.items()), internal())


def _from_loopback(request: aiohttp_web.Request) -> bool:
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def _same_origin(request: aiohttp_web.Request) -> bool:
    origin = request.headers.get(hdrs.ORIGIN)
    return origin is not None and origin == f"{request.scheme}://{request.host}"


def _on_webhook_listener(request: aiohttp_web.Request) -> bool:
    if settings.webhook_port is None or request.transport is None:
        return False
    local = request.transport.get_extra_info("sockname")
    return isinstance(local, tuple) and len(local) >= 2 and local[1] == settings.webhook_port


def _refuse(status: int, reason: str, text: str) -> aiohttp_web.Response:
    counters.incr(f"{STREAM}.{reason}")
    headers = {hdrs.WWW_AUTHENTICATE: 'Bearer realm="probewatch"'} if status == 401 else None
    return aiohttp_web.json_response({"error": text}, status=status, headers=headers)


@aiohttp_web.middleware
async def access(request: aiohttp_web.Request, handler: Handler) -> aiohttp_web.StreamResponse:
    """Let a request through to its view, or answer 401/403/404/503 (see the module)."""
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else None
    if _on_webhook_listener(request) and route != WEBHOOK_ROUTE:
        return _refuse(404, "webhook_listener", "404: Not Found")
    if route is None:
        return await handler(request)  # aiohttp's own 404
    want = needed(request.method, route)
    if want is None:
        return await handler(request)
    token, from_cookie = presented_token(request)
    if token is None and settings.api_auth == "localhost-open" and _from_loopback(request):
        return await handler(request)  # open whatever the tokens say: no need to wait for them
    if not tokens.ready and not await tokens.wait_ready(timeout=TOKENS_WAIT_S):
        return _refuse(503, "not_ready", "this worker is still reading the API tokens; retry")
    if token is None:
        if open_api():
            return await handler(request)
        return _refuse(401, "no_token", "a token is required: Authorization: Bearer <token>")
    granted = check(token)
    if granted is None:
        return _refuse(401, "bad_token", "this token is not valid (unknown, revoked or mistyped)")
    if from_cookie and request.method not in READ_METHODS and not _same_origin(request):
        return _refuse(403, "cross_origin", "a change with the cookie must come from this origin")
    if want not in granted:
        return _refuse(403, "forbidden", f"this token's role cannot do this (needs {want!r})")
    return await handler(request)


def install(web_app: aiohttp_web.Application) -> None:
    """Put the check in front of every view, open the webhook's own listener if asked, and say
    at start how open the API is."""
    web_app.middlewares.append(access)
    if settings.webhook_port is not None:
        Web.extra_listeners.append((settings.webhook_bind, settings.webhook_port))
    if settings.api_auth == "localhost-open":
        logger.warning(
            "PROBEWATCH_API_AUTH=localhost-open: requests from this host need no token "
            "(development only; never behind a tunnel)"
        )
