"""Who owns a key: answer locally, or forward the request to the worker holding its partition.

faust's own `route_req` forwards only the method and headers; a PUT would lose its body, so the
forwarding is done here, with the body, for every method.

The owner of a key is its partition's, and the partition comes from the producer's metadata for
the table's changelog topic. aiokafka fetches that metadata only for topics it has produced to,
so a worker that has not written to a table yet (just started, or quiet) asks for it first.
Until a worker knows who owns a key (starting, rebalancing) the answer is a 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import hdrs
from faust.exceptions import NotReady
from faust.types import AppT
from faust.web import Request, Response, View
from faust.web.exceptions import ServiceUnavailable
from yarl import URL

from app.web.access import worker_headers
from app.web.server import RETRY_AFTER_S
from app.worker.partitions import key_partition

logger = logging.getLogger(__name__)

FORWARD_TIMEOUT_S = 10.0
#: How long a request waits for the partition metadata of a table's changelog topic.
METADATA_TIMEOUT_S = 5.0

#: Metadata requests under way, by topic (a reference keeps each task alive until it is done).
_learning: dict[str, asyncio.Task[bool]] = {}


class OwnerUnknown(ServiceUnavailable):
    """No worker owns the key right now: this worker is starting, or the cluster rebalancing.

    faust answers it as a 503 with Retry-After wherever a view raises it.
    """

    def __init__(self, detail: str = "the table is being rebalanced; retry shortly") -> None:
        super().__init__(detail, headers={"Retry-After": str(RETRY_AFTER_S)})


class TopicUnknown(OwnerUnknown):
    """The producer has no partition metadata for `topic` yet."""

    def __init__(self, topic: str) -> None:
        super().__init__("this worker is still learning the cluster's layout; retry shortly")
        self.topic = topic


class Owners:
    """Who owns each changelog partition, as faust's assignor says, and which partition a key
    hashes to: what faust's `router.key_store` works out on every call (serializing the key,
    hashing it, parsing the owner's URL), ~10 % of the CPU a `GET /devices/{mac}` took. The
    owners are rebuilt whenever the assignor is handed a new assignment (its `tables_metadata()`,
    URL → changelog topic → partitions, is then a new mapping); a key's partition is remembered
    (`app.worker.partitions`).

    Keys are routed as the UTF-8 bytes of their canonical text: every table reached through
    `routed` has raw bytes keys, which is how faust serializes them too (a unit test holds the
    two equal)."""

    def __init__(self) -> None:
        self._from: object = None
        self._owners: dict[tuple[str, int], URL | None] = {}

    def owner(self, app: AppT, topic: str, key: str) -> URL | None:
        """The URL of the worker owning `key` in `topic`, None for this worker; KeyError when
        no worker owns its partition, and what the producer raises while it cannot hash it."""
        partition = key_partition(app, topic, key.encode())
        distribution = app.assignor.tables_metadata()  # the assignor's own mapping, not a copy
        if distribution is not self._from:
            me = URL(str(app.conf.canonical_url))
            self._owners = {
                (changelog, number): None if _same_worker(URL(url), me) else URL(url)
                for url, topics in distribution.items()
                for changelog, numbers in topics.items()
                for number in numbers
            }
            self._from = distribution
        return self._owners[(topic, partition)]


owners = Owners()


def owner_of(app: AppT, table_name: str, key: str) -> URL | None:
    """The owning worker's URL, or None when it is this worker; OwnerUnknown when nobody knows."""
    topic = _changelog_topic(app, table_name)
    try:
        return owners.owner(app, topic, key)
    except KeyError:  # no worker owns the partition: a rebalance is under way
        raise OwnerUnknown() from None
    except NotReady:  # the producer has not started
        raise OwnerUnknown("this worker is starting; retry shortly") from None
    except TypeError:  # aiokafka: no metadata for the changelog topic (None is not iterable)
        raise TopicUnknown(topic) from None


def partition_of(app: AppT, topic: str, key: bytes) -> int:
    """The partition of `topic` that `key` hashes to; OwnerUnknown until the producer knows.

    A missing topic is asked for in the background, so a retry finds it.
    """
    try:
        return int(app.producer.key_partition(topic, key).partition)
    except NotReady:
        raise OwnerUnknown("this worker is starting; retry shortly") from None
    except TypeError:
        _learn_in_background(app, topic)
        raise TopicUnknown(topic) from None


async def find_owner(app: AppT, table_name: str, key: str) -> URL | None:
    """`owner_of`, first fetching the changelog topic's metadata if the producer lacks it."""
    try:
        return owner_of(app, table_name, key)
    except TopicUnknown as unknown:
        if not _assigned(app):
            raise OwnerUnknown("this worker is starting; retry shortly") from None
        await learn_topic(app, unknown.topic)
        return owner_of(app, table_name, key)


async def learn_topic(app: AppT, topic: str) -> bool:
    """Have the producer fetch `topic`'s partition metadata; False if it could not."""
    task = _learning.get(topic)
    if task is None or task.done():
        task = _learning[topic] = asyncio.ensure_future(_fetch_metadata(app, topic))
    return await asyncio.shield(task)


def _assigned(app: AppT) -> bool:
    """True once the group has assigned partitions (the changelog topics exist by then)."""
    return bool(app.assignor.tables_metadata())


def _learn_in_background(app: AppT, topic: str) -> None:
    if not _assigned(app):
        return
    if topic not in _learning or _learning[topic].done():
        _learning[topic] = asyncio.ensure_future(_fetch_metadata(app, topic))


async def _fetch_metadata(app: AppT, topic: str) -> bool:
    # faust keeps its AIOKafkaProducer behind `_ensure_producer()`, the accessor its own
    # `key_partition` uses; `partitions_for` is aiokafka's public way to fetch a topic's metadata.
    try:
        producer: Any = app.producer._ensure_producer()  # type: ignore[attr-defined]
        await asyncio.wait_for(producer.partitions_for(topic), METADATA_TIMEOUT_S)
    except Exception as err:  # not started, Kafka away: the caller answers 503
        logger.info("no partition metadata for %s yet: %s", topic, type(err).__name__)
        return False
    return True


def _changelog_topic(app: AppT, table_name: str) -> str:
    return str(app.tables[table_name].changelog_topic.get_topic_name())


def _same_worker(a: URL, b: URL) -> bool:
    return (a.host, a.port) == (b.host, b.port)


async def forward(view: View, request: Request, owner: URL, body: bytes | None = None) -> Response:
    """The owner's answer to the same method, path, query and body.

    The target is built from the owner's address and the request's path and query exactly as
    received (not from the client's Host header); the body is JSON whatever the client said.
    This worker has let the request in: the owner is asked with the workers' own credential.
    """
    rel = request.rel_url
    target = URL.build(
        scheme=owner.scheme or "http",
        host=owner.host or "localhost",
        port=owner.port,
        path=rel.raw_path,
        query_string=rel.raw_query_string,
        encoded=True,
    )
    try:
        async with view.app.http_client.request(
            request.method,
            target,
            data=body,
            headers={"Content-Type": "application/json", **worker_headers()},
            timeout=aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_S),
        ) as response:
            # The owner's bytes and Content-Type (charset included) as they are: no decoding.
            return view.bytes(
                await response.read(),
                status=response.status,
                headers={hdrs.CONTENT_TYPE: response.headers.get(hdrs.CONTENT_TYPE, "text/plain")},
            )
    except (aiohttp.ClientError, TimeoutError) as err:
        return view.json(
            {"error": f"the worker owning this key ({owner}) did not answer: {err!r}"}, status=502
        )


async def routed(
    view: View,
    request: Request,
    table_name: str,
    key: str,
    body: bytes | None = None,
    *,
    from_standby: Callable[[], Response | None] | None = None,
) -> Response | None:
    """The owner's response when another worker owns `key`; None when this worker must answer.

    `key` must already be the canonical form the table stores: the router hashes it to find the
    partition. While nobody owns it (start-up, rebalance), or this worker owns it but is still
    recovering its tables, OwnerUnknown is raised, which faust answers as a 503 with Retry-After.
    When another worker owns it, `from_standby` may answer instead, from this worker's standby
    copy (`app.web.replicas`); if it gives None, the owner answers.
    """
    owner = await find_owner(view.app, table_name, key)
    if owner is None:
        if recovering(view.app):
            raise OwnerUnknown("this worker is reading its tables back from Kafka; retry shortly")
        return None
    if from_standby is not None:
        answer = from_standby()
        if answer is not None:
            return answer
    return await forward(view, request, owner, body)


def recovering(app: AppT) -> bool:
    """Whether this worker's tables are still being rebuilt from their changelogs: a key it owns
    may be missing until then, and a 404 would be a false answer."""
    return bool(app.in_recovery) or not app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]
