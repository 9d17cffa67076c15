"""Who owns a key: answer locally, or proxy the request to the worker that holds its partition."""

from __future__ import annotations

from faust.exceptions import SameNode
from faust.types import AppT
from faust.web import Request, Response, View
from faust.web.exceptions import ServiceUnavailable


async def routed(
    view: View, request: Request, app: AppT, table_name: str, key: str
) -> Response | None:
    """The owner's response when another worker owns `key`; None when this worker must answer.

    `key` must already be the canonical form the table stores: the router hashes it to find the
    partition. During a rebalance nobody owns it yet, which becomes a 503 the client may retry.
    """
    try:
        return await app.router.route_req(table_name, key, view.web, request)
    except SameNode:
        return None
    except ServiceUnavailable:
        return view.json({"error": "the table is being rebalanced; retry shortly"}, status=503)
