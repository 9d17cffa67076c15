"""Where a record that cannot be processed goes, so that it costs one record, never a stream.

A record an agent rejects (it is not what the topic carries) or fails on (a bug, a value no
check foresaw) is counted, logged without flooding the log, and kept whole on
`<prefix>dead-letters`: the original key, value and headers, plus headers saying where it came
from and why, in the manner of Kafka Connect's dead-letter queues. The agent then acknowledges it
and goes on with the next record.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from faust.types import EventT, StreamT

from app.topics import dead_letters_topic
from app.worker.counters import counters

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Part:
    """One element of a record that carries many (an array of probes): its index and bytes."""

    index: int
    value: bytes


HEADER_PREFIX = "probewatch.dlq."
MAX_ERROR = 1000
#: Unexpected failures logged with their traceback; later ones are one line (see counters).
TRACEBACKS_LOGGED = 3


async def each_record(
    stream: StreamT[bytes], name: str, handle: Callable[[EventT[bytes]], Awaitable[None]]
) -> None:
    """Hand every record of `stream` to `handle`, in order; a record it raises on is
    dead-lettered (`failed`) and acknowledged like any other, and the stream goes on."""
    async for event in stream.events():
        try:
            await handle(event)
        except Exception as err:
            await failed(event, name, err)


def where(event: EventT[bytes]) -> str:
    message = event.message
    return f"{message.topic}[{message.partition}]@{message.offset}"


async def reject(
    event: EventT[bytes], stream: str, reason: str, detail: str, *, part: Part | None = None
) -> None:
    """A record that is not what its topic carries: count it as `<stream>.rejected.<reason>`.

    With `part`, only that element of a record that carries many is rejected and kept.
    """
    counters.reject(stream, reason, f"{detail} at {where(event)}")
    await _keep(event, stream, reason, detail, part)


async def failed(
    event: EventT[bytes], stream: str, error: BaseException, *, part: Part | None = None
) -> None:
    """A record (or `part` of it) whose processing raised: count it as
    `<stream>.rejected.processing_error`."""
    detail = f"{type(error).__name__}: {error}"[:MAX_ERROR]
    key = f"{stream}.rejected.processing_error"
    if counters.counts[key] < TRACEBACKS_LOGGED:
        logger.error("%s: processing %s failed", stream, where(event), exc_info=error)
    counters.reject(stream, "processing_error", f"{detail} at {where(event)}")
    await _keep(event, stream, "processing_error", detail, part)


async def _keep(
    event: EventT[bytes], stream: str, reason: str, detail: str, part: Part | None = None
) -> None:
    """Produce the record to the dead-letter topic; a failure there is logged, never raised."""
    message = event.message
    ours = {
        "stream": stream,
        "topic": message.topic,
        "partition": str(message.partition),
        "offset": str(message.offset),
        "reason": reason,
        "error": detail[:MAX_ERROR],
    }
    value = message.value
    if part is not None:
        ours["index"] = str(part.index)
        value = part.value
    headers = [*_original_headers(event.headers)]
    headers += [(HEADER_PREFIX + name, text.encode()) for name, text in ours.items()]
    try:
        await dead_letters_topic.send(key=message.key, value=value, headers=headers)
    except Exception as err:
        logger.error("could not keep a dead letter from %s: %r", where(event), err)
        return
    counters.incr(f"{stream}.dead_lettered")


def _original_headers(headers: Mapping[str, bytes | None] | None) -> list[tuple[str, bytes]]:
    return [(name, value or b"") for name, value in (headers or {}).items()]
