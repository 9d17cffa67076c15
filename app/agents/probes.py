"""Where a probe is counted: fold every record of `probes` into the `devices` table.

A record carries one probe (a JSON object) or several (an array: the sniffer packs the probes of
one partition together). Each device's row is folded in memory and written behind
(`app.worker.write_behind`): once per flush, however many probes the device sent, with the
changelog written before the local store and the record acknowledged only after both. The
`ssids` index is sent each changed device's per-SSID totals with the same flush. Once a record's
devices are folded, its probes go into history too (`app.agents.history`).

Processing is at-least-once, so after a crash faust hands us again records whose effect is
already in the table. Each row remembers the offset of the last record applied to it (a MAC
always lands in the same partition), which makes re-delivery a no-op and the counts exact. All
probes of a record are folded together, before any flush can begin, so one offset covers them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from faust.types import EventT, StreamT

from app.agents import groups
from app.agents.history import DeviceProbes, fold_record_history
from app.logic.alerts import make_alert, should_alert
from app.logic.erasure import InvalidErasure, decode_erasure, looks_like_erasure
from app.logic.forwarding import (
    ForwardedFrom,
    InvalidForward,
    already_applied,
    forwarded_from,
    forwarded_headers,
    record_source,
)
from app.logic.packing import bounded
from app.logic.probe import InvalidProbe, RecordProbes, decode_record
from app.logic.ssids import SsidTally, ssid_totals_message
from app.logic.stats import fold_probe
from app.main import app, settings
from app.models import DeviceState, ProbeEvent
from app.tables.activity import device_activity_table
from app.tables.devices import devices_table
from app.tables.names import device_names_table
from app.tables.staged import fold_each, write_behind
from app.topics import alerts_topic, device_names_topic, probes_topic, ssid_probes_topic
from app.web.routing import OwnerUnknown, TopicUnknown, learn_topic, partition_of
from app.worker import dead_letters
from app.worker.counters import counters
from app.worker.lists import watchlist
from app.worker.pacing import Pacer
from app.worker.write_behind import PACE_EVERY, Message, StagedRows

logger = logging.getLogger(__name__)

STREAM = "probes"
WATCHLIST_WAIT_S = 30.0
#: MAC → partition of `probes`, remembered (murmur2 in Python costs a few µs a call).
PARTITION_CACHE_SIZE = 200_000


@app.agent(probes_topic, name="fold-probes")
async def fold_probes(stream: StreamT[bytes]) -> None:
    """Fold each record into its devices' rows; acknowledge it once the flush made that durable."""
    if not await watchlist.wait_ready(timeout=WATCHLIST_WAIT_S):
        logger.warning("watch list not read within %s s; alerts start once it is", WATCHLIST_WAIT_S)
    await fold_each(stream, STREAM, fold_record)


@dataclass(frozen=True, slots=True)
class Probes:
    """A device's probes in one record: where the record sits, and where it was forwarded from."""

    mac: str
    offset: int
    source: ForwardedFrom | None
    probes: list[tuple[int, ProbeEvent]]
    #: Whether the record is an array; a record of one probe is dead-lettered whole.
    batch: bool


#: Alerts due from a record's probes: (device key, probe, the watch list's reason).
Alerts = list[tuple[bytes, ProbeEvent, str]]
#: Scratch of the current generation: per (partition, device key), the SSIDs it probed for.
PROBED_SSIDS = "probed_ssids"


async def fold_record(event: EventT[bytes]) -> None:
    """Fold one record; a bad probe in it is dead-lettered on its own, the others are counted."""
    message = event.message
    if looks_like_erasure(message.value):
        await erase_device(event)
        return
    try:
        record = decode_record(message.value)
        source = forwarded_from(event.headers)
    except InvalidProbe as bad:
        await dead_letters.reject(event, STREAM, bad.reason, str(bad))
        return
    except InvalidForward as bad:
        await dead_letters.reject(event, STREAM, "bad_header", str(bad))
        return
    for index, why, item in record.rejected:
        part = dead_letters.Part(index, orjson.dumps(item))
        await dead_letters.reject(event, STREAM, why.reason, f"probe {index}: {why}", part=part)
    if record.batch:  # placed MAC by MAC (a single probe's record goes by its key)
        await _know_probes_partitions()
    here, elsewhere = _by_device(event, record)
    for mac, probes in elsewhere.items():
        await _forward(event, mac, probes, record.batch)
    alerts: Alerts = []
    failed: list[Probes] = []
    folded: list[str] = []
    accepted, duplicates = _fold_devices(event, source, record.batch, here, alerts, failed, folded)
    for device in failed:
        accepted += await _refold(event, device, alerts, here)
        folded.append(device.mac)
    if here and settings.history:
        fold_record_history(message.partition, message.offset, source, here, _earlier_probes(event))
    if folded and settings.grouping:
        groups.note_probes(message.partition, message.offset, here, folded)
    for key, probe, reason in alerts:
        alert = make_alert(probe, reason, device_names_table.get(probe.mac))
        await alerts_topic.send(key=key, value=orjson.dumps(alert))
        counters.incr("alerts.emitted")
    if accepted:
        counters.incr(f"{STREAM}.accepted", accepted)
    if duplicates:
        counters.incr(f"{STREAM}.duplicates_skipped", duplicates)


async def erase_device(event: EventT[bytes]) -> None:
    """Erase a device (`app.logic.erasure`): its row, its history, its name, and its place in
    the SSID index go, with this record's flush; a record for another partition is sent on."""
    message = event.message
    try:
        erasure = decode_erasure(message.value)
    except InvalidErasure as bad:
        await dead_letters.reject(event, STREAM, "bad_erasure", str(bad))
        return
    key = erasure.mac.encode()
    partition = message.partition
    await _know_probes_partitions()
    if _partition(erasure.mac) != partition or message.key != key:
        await probes_topic.send(key=key, value=message.value)
        counters.incr(f"{STREAM}.rekeyed")
        return
    row: DeviceState | None = write_behind.get(devices_table, partition, key)
    if not erasure.applies_to(None if row is None else row["last_seen_ts"]):
        counters.incr(f"{STREAM}.erasure_skipped.heard_since")
        return
    groups.forget(partition, erasure.mac, row, expired=erasure.unseen_since is not None)
    if row is not None:
        forget = orjson.dumps({"forget": {erasure.mac: message.offset}})
        for ssid in row.get("ssids", []):
            write_behind.send_with_flush(ssid_probes_topic.get_topic_name(), ssid.encode(), forget)
    write_behind.stage(devices_table, partition, key, None)
    write_behind.stage(device_activity_table, partition, key, None)
    if device_names_table.get(erasure.mac) is not None:
        write_behind.send_with_flush(device_names_topic.get_topic_name(), key, None)
    counters.incr(f"{STREAM}.erased.{erasure.by}")


def _by_device(
    event: EventT[bytes], record: RecordProbes
) -> tuple[dict[str, list[tuple[int, ProbeEvent]]], dict[str, list[tuple[int, ProbeEvent]]]]:
    """The record's probes by MAC: those whose rows live in this record's partition, and those
    keyed or placed wrong, which are sent on to their own partition."""
    message = event.message
    here: dict[str, list[tuple[int, ProbeEvent]]] = {}
    elsewhere: dict[str, list[tuple[int, ProbeEvent]]] = {}
    if not record.batch:
        index, probe = record.probes[0]
        key = message.key.decode("utf-8", "replace") if isinstance(message.key, bytes) else None
        (here if key == probe.mac else elsewhere)[probe.mac] = [(index, probe)]
        return here, elsewhere
    partition = message.partition
    partitions = _partitions
    for item in record.probes:
        mac = item[1].mac
        home = partitions.get(mac)
        if home is None:
            home = _partition(mac)
        mine = here if home == partition else elsewhere
        probes = mine.get(mac)
        if probes is None:
            mine[mac] = [item]
        else:
            probes.append(item)
    return here, elsewhere


_partitions: dict[str, int] = {}
_probes_partitions_known = False


async def _know_probes_partitions() -> None:
    """Before the first `_partition`, have the producer know `probes`' partitions: faust declares
    no topic (`probewatch worker` creates them), so nothing looked it up, and a record whose MACs
    cannot be placed would be rejected."""
    global _probes_partitions_known
    if _probes_partitions_known:
        return
    topic = probes_topic.get_topic_name()
    try:
        partition_of(app, topic, b"")
    except TopicUnknown:
        _probes_partitions_known = await learn_topic(app, topic)
    except OwnerUnknown:
        return  # the producer is starting: `_partition` says so
    else:
        _probes_partitions_known = True


def _partition(mac: str) -> int:
    partition = _partitions.get(mac)
    if partition is None:
        if len(_partitions) >= PARTITION_CACHE_SIZE:
            _partitions.clear()
        partition = _partitions[mac] = partition_of(
            app, probes_topic.get_topic_name(), mac.encode()
        )
    return partition


async def _forward(
    event: EventT[bytes], mac: str, probes: list[tuple[int, ProbeEvent]], batch: bool
) -> None:
    """Send a device's probes on, keyed by its MAC, saying where they came from, so that sending
    them again after a crash counts them once. A record of one probe is sent on unchanged."""
    message = event.message
    here = ForwardedFrom(STREAM, message.partition, message.offset)
    packed = [probe.as_json_dict() for _, probe in probes] if batch else None
    value = message.value if packed is None else orjson.dumps(packed)
    await probes_topic.send(key=mac.encode(), value=value, headers=forwarded_headers(here))
    counters.incr(f"{STREAM}.rekeyed", len(probes))


def _fold_devices(
    event: EventT[bytes],
    source: ForwardedFrom | None,
    batch: bool,
    here: dict[str, list[tuple[int, ProbeEvent]]],
    alerts: Alerts,
    failed: list[Probes],
    folded: list[str],
) -> tuple[int, int]:
    """Fold each device's probes of one record into its row, with no await between them: (probes
    applied, probes skipped as applied before). A device whose fold raised is left in `failed`,
    its row as it was, for `_refold`; one whose row took them is added to `folded`."""
    partition = event.message.partition
    offset = event.message.offset
    get = write_behind.get
    stage = write_behind.stage
    probed: dict[tuple[int, bytes], set[str]] = write_behind.scratch().setdefault(PROBED_SSIDS, {})
    accepted = duplicates = 0
    for mac, probes in here.items():
        key = mac.encode()
        row: DeviceState | None = get(devices_table, partition, key)
        if row is not None and _applied_before(row, offset, source):
            duplicates += len(probes)
            continue
        due = len(alerts)
        try:
            row = _fold(row, probes, offset, source, alerts)
        except Exception:
            logger.warning("folding a device's probes failed; folding them one by one")
            logger.debug("the device whose fold failed: %s", mac)
            del alerts[due:]
            failed.append(Probes(mac, offset, source, probes, batch))
            continue
        stage(devices_table, partition, key, row)
        _note_ssids(probed, partition, key, probes)
        folded.append(mac)
        accepted += len(probes)
    return accepted, duplicates


def _note_ssids(
    probed: dict[tuple[int, bytes], set[str]],
    partition: int,
    key: bytes,
    probes: list[tuple[int, ProbeEvent]],
) -> None:
    for _, probe in probes:
        if probe.ssid:
            ssids = probed.get((partition, key))
            if ssids is None:
                probed[(partition, key)] = {probe.ssid}
            else:
                ssids.add(probe.ssid)


def _applied_before(row: DeviceState, offset: int, source: ForwardedFrom | None) -> bool:
    return row.get("offset", -1) >= offset or already_applied(row, source)


def _fold(
    row: DeviceState | None,
    probes: list[tuple[int, ProbeEvent]],
    offset: int,
    source: ForwardedFrom | None,
    alerts: Alerts | None,
) -> DeviceState:
    """`row` with the probes applied (in place); alerts due are added to `alerts`."""
    max_ssids = settings.max_ssids_per_device
    for _, probe in probes:
        row = fold_probe(row, probe, max_ssids=max_ssids)
        if probe.ssid and alerts is not None:
            reason = watchlist.get(probe.ssid)
            if reason is None:
                continue
            if should_alert(row, probe, settings.alert_window_s):
                alerts.append((probe.mac.encode(), probe, reason))
            else:
                counters.incr("alerts.folded")
    assert row is not None, "a device's probes are never empty"
    row["offset"] = offset
    if source is not None:
        record_source(row, source)
    return row


async def _refold(
    event: EventT[bytes], device: Probes, alerts: Alerts, here: dict[str, DeviceProbes]
) -> int:
    """Rebuild a row whose fold raised and left it half changed: from the row as flushed, fold
    again what this generation's earlier records brought it (skipping what failed then, and was
    dead-lettered then), then this record's probes one at a time, dead-lettering each that fails.
    How many of this record's probes were applied; `here` is left with those alone, for history."""
    partition = event.message.partition
    key = device.mac.encode()
    live: DeviceState | None = write_behind.get(devices_table, partition, key)
    row: DeviceState | None = write_behind.committed(devices_table, partition, key)
    for earlier in _earlier_in_generation(event, device.mac):
        if row is None or not _applied_before(row, earlier.offset, earlier.source):
            row = _fold_each_alone(row, earlier, None, [])
    failures: list[tuple[int, ProbeEvent, Exception]] = []
    row = _fold_each_alone(row, device, alerts, failures)
    for index, probe, err in failures:
        part = None
        if device.batch:
            part = dead_letters.Part(index, orjson.dumps(probe.as_json_dict()))
        await dead_letters.failed(event, STREAM, err, part=part)
    dropped = {index for index, _, _ in failures}
    kept = here[device.mac] = [item for item in device.probes if item[0] not in dropped]
    if row is None:
        return 0
    groups.keep_group(row, live)
    write_behind.stage(devices_table, partition, key, row)
    _note_ssids(write_behind.scratch().setdefault(PROBED_SSIDS, {}), partition, key, kept)
    return len(kept)


def _fold_each_alone(
    row: DeviceState | None,
    device: Probes,
    alerts: Alerts | None,
    failures: list[tuple[int, ProbeEvent, Exception]],
) -> DeviceState | None:
    """Fold the device's probes one at a time, each onto a copy, so one that raises changes
    nothing; it is added to `failures`."""
    for item in device.probes:
        due = len(alerts) if alerts is not None else 0
        try:
            copy = orjson.loads(orjson.dumps(row)) if row is not None else None
            row = _fold(copy, [item], device.offset, device.source, alerts)
        except Exception as err:
            if alerts is not None:
                del alerts[due:]
            failures.append((item[0], item[1], err))
    return row


def _earlier_in_generation(event: EventT[bytes], mac: str) -> Iterable[Probes]:
    """The device's probes in the records of `event`'s partition folded since the last flush
    began, in order, read again from the records."""
    message = event.message
    for earlier in write_behind.held():
        held = earlier.message
        if held.topic != message.topic or held.partition != message.partition:
            continue
        try:
            record = decode_record(held.value)
            source = forwarded_from(earlier.headers)
        except (InvalidProbe, InvalidForward):
            continue
        probes = _by_device(earlier, record)[0].get(mac)
        if probes:
            yield Probes(mac, held.offset, source, probes, record.batch)


def _earlier_probes(
    event: EventT[bytes],
) -> Callable[[str], Iterable[tuple[int, ForwardedFrom | None, DeviceProbes]]]:
    """A device's probes in this generation's earlier records of `event`'s partition."""

    def earlier(mac: str) -> Iterable[tuple[int, ForwardedFrom | None, DeviceProbes]]:
        return (
            (held.offset, held.source, held.probes) for held in _earlier_in_generation(event, mac)
        )

    return earlier


async def _ssid_totals(rows: StagedRows, scratch: dict[str, Any], pacer: Pacer) -> list[Message]:
    """Per SSID, the totals of every device whose probes for it this generation folded."""
    staged = {
        partition: partition_rows
        for (name, partition), partition_rows in rows.items()
        if name == devices_table.name
    }
    totals: dict[str, SsidTally] = defaultdict(dict)
    probed: dict[tuple[int, bytes], set[str]] = scratch.get(PROBED_SSIDS, {})
    for number, ((partition, key), ssids) in enumerate(probed.items()):
        if number % PACE_EVERY == 0:
            await pacer.pace()
        row: DeviceState | None = staged.get(partition, {}).get(key)
        if row is None:
            continue
        ssid_probes = row.get("ssid_probes", {})
        mac = key.decode()
        for ssid in ssids:
            total = ssid_probes.get(ssid)
            if total is not None:
                totals[ssid][mac] = [total[0], total[1], row["offset"]]
    topic = ssid_probes_topic.get_topic_name()
    messages: list[Message] = []
    for number, (ssid, tally) in enumerate(totals.items()):
        # An SSID probed for by a crowd in one flush is split: each MAC's total replaces its
        # own share, under its own offset, so the parts add up to the whole.
        for _, value in bounded(list(tally.items()), _ssid_totals_value):
            messages.append((topic, ssid.encode(), value))
        if number % PACE_EVERY == 0:
            await pacer.pace()
    return messages


def _ssid_totals_value(shares: list[tuple[str, list[Any]]]) -> bytes:
    return orjson.dumps(ssid_totals_message(dict(shares)))


write_behind.derive(_ssid_totals)
