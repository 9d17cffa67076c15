"""Where a probe is counted: fold every message of `probes` into the `devices` table.

Probes arrive in batches; each batch is grouped by partition and by MAC so that a device's row is
read, folded and written (one store write, one changelog message) once per batch, however many
probes it sent. A table write must happen in the context of an event of its own partition, which
is why the batch is grouped by partition first. Events are acknowledged only after the batch is
written, so a committed offset never runs ahead of the table.
"""

from __future__ import annotations

import logging
import weakref
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import orjson
from faust.streams import _current_event
from faust.types import EventT, StreamT

from app.logic.alerts import make_alert, should_alert
from app.logic.forwarding import (
    ForwardedFrom,
    InvalidForward,
    already_applied,
    forwarded_from,
    forwarded_headers,
    record_source,
)
from app.logic.probe import InvalidProbe, decode_probe
from app.logic.ssids import SsidTally, ssid_probes_message, tally_probe
from app.logic.stats import fold_probe
from app.main import app, settings
from app.models import DeviceState, ProbeEvent
from app.tables.devices import devices_table
from app.tables.names import device_names_table
from app.topics import alerts_topic, probes_topic, ssid_probes_topic
from app.worker import dead_letters
from app.worker.counters import counters
from app.worker.lists import watchlist

logger = logging.getLogger(__name__)

STREAM = "probes"
BATCH_SIZE = 2000
BATCH_WITHIN_S = 0.25
WATCHLIST_WAIT_S = 30.0


@app.agent(probes_topic, name="fold-probes")
async def fold_probes(stream: StreamT[bytes]) -> None:
    """Apply each probe exactly once to its device's row.

    Processing is at-least-once, so after a crash faust hands us again events whose effect is
    already in the table. Each row remembers the offset of the last message applied to it (a MAC
    always lands in the same partition), which makes re-delivery a no-op and the counts exact.
    """
    if not await watchlist.wait_ready(timeout=WATCHLIST_WAIT_S):
        logger.warning("watch list not read within %s s; alerts start once it is", WATCHLIST_WAIT_S)
    batches = stream.take_events(BATCH_SIZE, within=BATCH_WITHIN_S)  # type: ignore[attr-defined]
    async for batch in batches:
        by_partition: dict[int, list[EventT[bytes]]] = defaultdict(list)
        for event in batch:
            by_partition[event.message.partition].append(event)
        for events in by_partition.values():
            with _in_partition_of(events[-1]):
                await _fold_partition(events)


@contextmanager
def _in_partition_of(event: EventT[bytes]) -> Iterator[None]:
    """Make `event` the current event of this task, so table writes go to its partition.

    faust finds a table write's partition through `faust.streams.current_event()`, a context
    variable. Setting it in this task only leaves the stream's own bookkeeping (its background
    take-buffer task has its own context) untouched.
    """
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


async def _fold_partition(events: Sequence[EventT[bytes]]) -> None:
    """Fold one partition's share of a batch: one table read and write per device.

    Whatever goes wrong with one record costs that record: it is dead-lettered and the rest of
    the batch is folded (see `_fold_isolated`).
    """
    arrivals: dict[str, list[Arrival]] = defaultdict(list)
    for event in events:
        try:
            arrival = await _decode(event)
        except Exception as err:
            await dead_letters.failed(event, STREAM, err)
            continue
        if arrival is not None:
            arrivals[arrival.probe.mac].append(arrival)
    accepted = duplicates = 0
    ssid_tallies: dict[str, SsidTally] = defaultdict(dict)
    for mac, device_arrivals in arrivals.items():
        fold = await _fold_isolated(mac, device_arrivals)
        accepted += fold.applied
        duplicates += fold.duplicates
        for ssid, (count, last_ts, offset) in fold.ssids.items():
            ssid_tallies[ssid][mac] = [count, last_ts, offset]
    for ssid, tally in ssid_tallies.items():
        await ssid_probes_topic.send(
            key=ssid.encode(), value=orjson.dumps(ssid_probes_message(tally))
        )
    counters.incr(f"{STREAM}.accepted", accepted)
    if duplicates:
        counters.incr(f"{STREAM}.duplicates_skipped", duplicates)


@dataclass(frozen=True, slots=True)
class Arrival:
    """A valid probe, where it sits in `probes`, and where it was forwarded from, if it was."""

    event: EventT[bytes]
    probe: ProbeEvent
    source: ForwardedFrom | None

    @property
    def offset(self) -> int:
        return int(self.event.message.offset)


@dataclass(slots=True)
class DeviceFold:
    """What folding one device's arrivals did: counts, and per SSID [probes, last ts, offset]."""

    applied: int = 0
    duplicates: int = 0
    ssids: SsidTally = field(default_factory=dict)

    def add(self, later: DeviceFold) -> None:
        """Take in the fold of the device's next arrivals."""
        self.applied += later.applied
        self.duplicates += later.duplicates
        for ssid, (count, last_ts, offset) in later.ssids.items():
            seen = self.ssids.setdefault(ssid, [0, last_ts, offset])
            seen[0] += count
            seen[1] = max(seen[1], last_ts)
            seen[2] = offset


async def _decode(event: EventT[bytes]) -> Arrival | None:
    """The valid probe of a record; None when it was rejected or sent on to its right key."""
    message = event.message
    try:
        probe = decode_probe(message.value)
    except InvalidProbe as bad:
        await dead_letters.reject(event, STREAM, bad.reason, str(bad))
        return None
    key = message.key.decode("utf-8", "replace") if isinstance(message.key, bytes) else None
    if key != probe.mac:
        # Keyed otherwise, it sits in the wrong partition for routing: send it on, keyed right,
        # saying where it came from so that sending it again after a crash counts it once.
        here = ForwardedFrom(STREAM, message.partition, message.offset)
        await probes_topic.send(
            key=probe.mac.encode(), value=message.value, headers=forwarded_headers(here)
        )
        counters.incr(f"{STREAM}.rekeyed")
        return None
    try:
        source = forwarded_from(event.headers)
    except InvalidForward as bad:
        await dead_letters.reject(event, STREAM, "bad_header", str(bad))
        return None
    return Arrival(event, probe, source)


async def _fold_isolated(mac: str, arrivals: list[Arrival]) -> DeviceFold:
    """Fold a device's arrivals together; should that raise, fold them one by one, so only the
    record that fails is dead-lettered.

    The row is written only after a fold succeeds, and RocksDB hands out a fresh row on every
    read, so a failed fold leaves the stored row as it was.
    """
    try:
        return await _fold_device(mac, arrivals)
    except Exception:
        logger.warning(
            "folding %d probes of %s failed; folding them one by one", len(arrivals), mac
        )
    total = DeviceFold()
    for arrival in arrivals:
        try:
            fold = await _fold_device(mac, [arrival])
        except Exception as err:
            await dead_letters.failed(arrival.event, STREAM, err)
            continue
        total.add(fold)
    return total


async def _fold_device(mac: str, arrivals: list[Arrival]) -> DeviceFold:
    """Fold one device's new probes into its row and count its SSIDs."""
    state: DeviceState | None = devices_table.get(mac)
    last_applied = -1 if state is None else state.get("offset", -1)
    fold = DeviceFold()
    alerts: list[tuple[ProbeEvent, str]] = []
    for arrival in arrivals:
        probe = arrival.probe
        if arrival.offset <= last_applied or (
            state is not None and already_applied(state, arrival.source)
        ):
            fold.duplicates += 1
            continue
        state = fold_probe(state, probe, max_ssids=settings.max_ssids_per_device)
        if arrival.source is not None:
            record_source(state, arrival.source)
        last_applied = arrival.offset
        fold.applied += 1
        if probe.ssid:
            tally_probe(fold.ssids, probe.ssid, probe.ts, arrival.offset)
            reason = watchlist.get(probe.ssid)
            if reason is not None and should_alert(state, probe, settings.alert_window_s):
                alerts.append((probe, reason))
            elif reason is not None:
                counters.incr("alerts.folded")
    if state is not None and fold.applied:
        state["offset"] = last_applied
        devices_table[mac] = state
    for probe, reason in alerts:
        alert = make_alert(probe, reason, device_names_table.get(probe.mac))
        await alerts_topic.send(key=probe.mac.encode(), value=orjson.dumps(alert))
        counters.incr("alerts.emitted")
    return fold
