"""Who owns a key: answer locally, or forward the request to the worker holding its partition.

faust's own `route_req` forwards only the method and headers; a PUT would lose its body, so the
forwarding is done here, with the body, for every method.
"""

from __future__ import annotations

import aiohttp
from faust.types import AppT
from faust.web import Request, Response, View
from yarl import URL

FORWARD_TIMEOUT_S = 10.0


class OwnerUnknown(Exception):
    """No worker owns the key right now (a rebalance is under way)."""


def owner_of(app: AppT, table_name: str, key: str) -> URL | None:
    """The owning worker's URL, or None when it is this worker."""
    try:
        url = app.router.key_store(table_name, key)
    except KeyError:
        raise OwnerUnknown(key) from None
    return None if _same_worker(url, URL(str(app.conf.canonical_url))) else url


def _same_worker(a: URL, b: URL) -> bool:
    return (a.host, a.port) == (b.host, b.port)


async def forward(view: View, request: Request, owner: URL, body: bytes | None = None) -> Response:
    """The owner's answer to the same method, path, query and body."""
    target = request.url.with_scheme(owner.scheme or "http").with_host(owner.host or "localhost")
    target = target.with_port(owner.port)
    headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
    try:
        async with view.app.http_client.request(
            request.method,
            target,
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_S),
        ) as response:
            return view.text(
                await response.text(), content_type=response.content_type, status=response.status
            )
    except (aiohttp.ClientError, TimeoutError) as err:
        return view.json(
            {"error": f"the worker owning this key ({owner}) did not answer: {err!r}"}, status=502
        )


async def routed(
    view: View, request: Request, table_name: str, key: str, body: bytes | None = None
) -> Response | None:
    """The owner's response when another worker owns `key`; None when this worker must answer.

    `key` must already be the canonical form the table stores: the router hashes it to find the
    partition. During a rebalance nobody owns it yet, which becomes a 503 the client may retry.
    """
    try:
        owner = owner_of(view.app, table_name, key)
    except OwnerUnknown:
        return view.json({"error": "the table is being rebalanced; retry shortly"}, status=503)
    if owner is None:
        return None
    return await forward(view, request, owner, body)
