"""Questions whose answer spans partitions: ask every worker for its share, then merge."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
from faust.types import AppT
from faust.web import Request

from app.web.access import worker_headers
from app.web.routing import FORWARD_TIMEOUT_S

LOCAL = "local"


class WorkerUnavailable(Exception):
    """A worker did not give its share; a partial answer would be silently wrong."""


def is_local_request(request: Request) -> bool:
    """True for the per-worker leg of a gathered question (`?scope=local`)."""
    return request.query.get("scope") == LOCAL


def worker_urls(app: AppT) -> list[str]:
    """Every worker that owns active table partitions, this one included."""
    urls = set(app.assignor.tables_metadata().keys())
    urls.add(str(app.conf.canonical_url))
    return sorted(urls)


def owned_partitions(app: AppT, changelog_topic: str) -> set[int]:
    """The partitions of a table this worker is the active owner of."""
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == changelog_topic}


async def gather(app: AppT, request: Request, params: Mapping[str, str] | None = None) -> list[Any]:
    """The JSON answers of every worker to this path with `scope=local` added (and `params`,
    which replace the request's own of the same name)."""
    query = {**request.query, **(params or {}), "scope": LOCAL}

    async def ask(base: str) -> Any:
        url = f"{base.rstrip('/')}{request.url.path}"
        try:
            async with app.http_client.get(
                url,
                params=query,
                headers=worker_headers(),
                timeout=aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_S),
            ) as response:
                if response.status != 200:
                    raise WorkerUnavailable(f"{base} answered {response.status}")
                return await response.json()
        except (aiohttp.ClientError, TimeoutError) as err:
            raise WorkerUnavailable(f"{base} did not answer: {err!r}") from None

    return list(await asyncio.gather(*(ask(url) for url in worker_urls(app))))
