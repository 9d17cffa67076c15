"""Forwarding a probe exactly once in effect: a forwarded record says where it came from.

An agent that turns one record into a `probes` record (a tshark frame from `pcap`, a probe keyed
by the wrong MAC) may run again over the same input after a crash or a rebalance, and send it
again. The forwarded record carries its source (stream, partition, offset) in a header; the
device's row remembers, per source partition, the last offset applied, and a record sent again
is skipped. A source partition is read in order by one worker at a time, so offsets only grow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.models import DeviceState

SOURCE_HEADER = "probewatch-source"
_SOURCE = re.compile(r"([a-z][a-z0-9-]{0,31}):([0-9]{1,9}):([0-9]{1,18})")


class InvalidForward(ValueError):
    """A source header that is not `<stream>:<partition>:<offset>`."""


@dataclass(frozen=True, slots=True)
class ForwardedFrom:
    stream: str
    partition: int
    offset: int

    @property
    def partition_key(self) -> str:
        return f"{self.stream}:{self.partition}"


def forwarded_headers(source: ForwardedFrom) -> list[tuple[str, bytes]]:
    header = f"{source.stream}:{source.partition}:{source.offset}"
    return [(SOURCE_HEADER, header.encode())]


def forwarded_from(headers: Mapping[str, bytes | None] | None) -> ForwardedFrom | None:
    """The source a record names; None for a record produced directly (the sniffer's)."""
    raw = (headers or {}).get(SOURCE_HEADER)
    if raw is None:
        return None
    match = _SOURCE.fullmatch(raw.decode("ascii", "replace"))
    if match is None:
        raise InvalidForward(f"{SOURCE_HEADER} must be <stream>:<partition>:<offset>")
    stream, partition, offset = match.groups()
    return ForwardedFrom(stream, int(partition), int(offset))


def already_applied(state: Mapping[str, Any], source: ForwardedFrom | None) -> bool:
    """Whether this row already holds the forwarded record (or a later one of its partition)."""
    if source is None:
        return False
    seen: Mapping[str, int] = state.get("sources", {})
    return source.offset <= seen.get(source.partition_key, -1)


def record_source(state: DeviceState, source: ForwardedFrom) -> None:
    state.setdefault("sources", {})[source.partition_key] = source.offset
