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

import orjson
from faust.streams import _current_event
from faust.types import EventT, StreamT

from app.counters import counters
from app.logic.alerts import make_alert, should_alert
from app.logic.probe import InvalidProbe, decode_probe
from app.logic.ssids import SsidTally, ssid_probes_message, tally_probe
from app.logic.stats import DeviceState, fold_probe
from app.main import app, settings
from app.mirrors import watchlist
from app.models import ProbeEvent
from app.tables.devices import devices_table
from app.tables.names import device_names_table
from app.topics import alerts_topic, probes_topic, ssid_probes_topic

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
    """Fold one partition's share of a batch: one table read and write per device."""
    probes: dict[str, list[tuple[int, ProbeEvent]]] = defaultdict(list)
    for event in events:
        message = event.message
        try:
            probe = decode_probe(message.value)
        except InvalidProbe as bad:
            where = f"{message.topic}[{message.partition}]@{message.offset}"
            counters.reject(STREAM, bad.reason, f"{bad} at {where}")
            continue
        key = message.key.decode("utf-8", "replace") if isinstance(message.key, bytes) else None
        if key != probe.mac:
            # Keyed otherwise, it sits in the wrong partition for routing: send it on, keyed right.
            await probes_topic.send(key=probe.mac.encode(), value=message.value)
            counters.incr(f"{STREAM}.rekeyed")
            continue
        probes[probe.mac].append((message.offset, probe))
    accepted = duplicates = 0
    ssid_tallies: dict[str, SsidTally] = defaultdict(dict)
    for mac, arrivals in probes.items():
        applied, skipped = await _fold_device(mac, arrivals, ssid_tallies)
        accepted += applied
        duplicates += skipped
    for ssid, tally in ssid_tallies.items():
        await ssid_probes_topic.send(
            key=ssid.encode(), value=orjson.dumps(ssid_probes_message(tally))
        )
    counters.incr(f"{STREAM}.accepted", accepted)
    if duplicates:
        counters.incr(f"{STREAM}.duplicates_skipped", duplicates)


async def _fold_device(
    mac: str, arrivals: list[tuple[int, ProbeEvent]], ssid_tallies: dict[str, SsidTally]
) -> tuple[int, int]:
    """Fold one device's new probes into its row; count its SSIDs. (applied, duplicates)."""
    state: DeviceState | None = devices_table.get(mac)
    last_applied = -1 if state is None else state.get("offset", -1)
    applied = duplicates = 0
    for offset, probe in arrivals:
        if offset <= last_applied:
            duplicates += 1
            continue
        state = fold_probe(state, probe, max_ssids=settings.max_ssids_per_device)
        last_applied = offset
        applied += 1
        if probe.ssid:
            tally_probe(ssid_tallies[probe.ssid], mac, probe.ts, offset)
            reason = watchlist.get(probe.ssid)
            if reason is not None:
                await _maybe_alert(state, probe, reason)
    if state is not None and applied:
        state["offset"] = last_applied
        devices_table[mac] = state
    return applied, duplicates


async def _maybe_alert(state: DeviceState, probe: ProbeEvent, reason: str) -> None:
    """Emit an Alert unless this device alerted for this SSID within the folding window."""
    if not should_alert(state, probe, settings.alert_window_s):
        counters.incr("alerts.folded")
        return
    alert = make_alert(probe, reason, device_names_table.get(probe.mac))
    await alerts_topic.send(key=probe.mac.encode(), value=orjson.dumps(alert))
    counters.incr("alerts.emitted")
