"""Grouping randomized MACs into probable devices, in the cluster (`app.logic.grouping`).

The MACs of one phone land in different partitions of `probes` (each MAC hashes on its own), so
the evidence has to meet. Three hops, each keyed so that what must meet does, each folded with
write-behind rows and guarded like `devices`:

1. **Re-key** (`note_probes`, `_rekey`): the probes fold notes the probes it counted; its flush
   sends them, packed, to `group-probes`, to the partition their shard key (the IE fingerprint)
   hashes to, each record's probes with the `probes` partition and offset they were counted at.
   One record per partition of `group-probes` (or per 250 probes) per flush, however many
   `probes` records the flush covers: the hot path only notes references.
2. **Decide** (`fold_group_probes`): the worker owning a `group-probes` partition folds each
   shard's probes into its state (`group-shards`), skipping what a shard holds already (per
   `probes` partition, the last offset applied: the re-key is sent before the devices'
   changelog, so a crash re-sends it). What the shard decides goes, packed, to
   `group-assignments`, to each MAC's own partition. A shard that falls quiet is moved on by a
   timer (`advance_quiet`) to the time its waiting MACs are due, never further: time is
   capture time throughout, so a replay is grouped as it was captured. A watermark that jumps
   is followed a step at a time, the event loop handed over in between (`_move_on_paced`).
3. **Take and gather** (`apply_assignments`, `_members`, `apply_members`): the worker owning
   the MAC puts the group in the device's row, unless it has one (the first decision stands:
   a MAC heard again after `forget_mac_s` of silence is decided again, maybe otherwise); from
   then on each flush that changes the device's row sends its totals to the group's partition
   (`group-members`, keyed by the group's id, its first MAC, so a group lives where that MAC
   does and `GET /groups/{id}` is routed like `GET /devices/{mac}`). The group's row gathers
   them, with the evidence of each link; the partition counts the probable devices heard per
   minute, hour and day (`group-counters`).

Why a hop back through the MAC's partition, and not a lookup: `GET /devices/{mac}` reads one row
on one worker, the first decision is kept where the MAC's probes are counted, and the group
hears only of members that took it, so a MAC decided twice is never in two groups.

A probe without IE fingerprint has no shard to meet others in (the grouper makes such a MAC a
group of its own): its device takes itself as its group at once, with no re-key.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import orjson
from aiokafka.partitioner import murmur2
from faust.types import TP, AppT, EventT, StreamT

from app.logic.activity import MAX_AHEAD_OF_CLOCK_S, MINUTES_PER_DAY, tally
from app.logic.grouping import DEFAULT_PARAMS, shard_key
from app.logic.grouping.members import (
    erased_member,
    fold_member,
    member_update,
    take_group,
)
from app.logic.grouping.online import (
    ShardRow,
    Sources,
    decode_row,
    due_at,
    due_from,
    expire,
    expires_at,
    fit,
    fold_records,
    is_empty,
    new_row,
    row_from_json,
    run_due,
)
from app.logic.grouping.records import Assignment
from app.logic.grouping.shard import advance_in_steps
from app.logic.grouping.wire import (
    AssignmentRecord,
    InvalidGroupRecord,
    Join,
    MemberUpdate,
    decode_assignments,
    decode_group_probes,
    decode_members,
    encode_assignments,
    encode_group_probes,
    encode_members,
)
from app.logic.limits import MIN_TS
from app.logic.packing import bounded
from app.main import app, settings
from app.models import DeviceState, ProbeEvent
from app.tables.activity import device_activity_row
from app.tables.devices import devices_table
from app.tables.groups import (
    AGENDA_KEY,
    counters_key,
    group_counters_table,
    group_shards_table,
    groups_table,
)
from app.tables.staged import fold_each, ownership, write_behind
from app.topics import group_assignments_topic, group_members_topic, group_probes_topic
from app.web.routing import recovering
from app.worker import dead_letters
from app.worker.counters import counters
from app.worker.pacing import Pacer
from app.worker.write_behind import PACE_EVERY, Message, StagedRows

logger = logging.getLogger(__name__)

PROBES_STREAM = "group-probes"
ASSIGNMENTS_STREAM = "group-assignments"
MEMBERS_STREAM = "group-members"
#: The grouper's thresholds (`app.logic.grouping.params`). Its caps bound a shard's row to what
#: one changelog record holds (`online.fit` trims what still does not fit).
PARAMS = DEFAULT_PARAMS
#: Probes, assignments or member updates packed into one record at most (fewer when they would
#: pass `packing.MAX_RECORD_BYTES`: member updates carrying a long history can). A record is
#: folded without handing the event loop back: with 2,000 a shard's record held it up to 150 ms
#: and the members' up to 300 ms, and one worker ingesting answered `GET /devices` with p99
#: 0.5 to 1.2 s; with 250, 0.28 to 0.48 s, and packed ingest the same within the noise.
PACK = 250
#: Wall seconds a partition of `probes` may report nothing before the watermark leaves it out
#: (`online.Sources`): more than a flush interval, with room for a slow flush.
IDLE_S = max(3.0, 3 * settings.flush_interval_s)
#: Capture seconds the watermark stays behind the partitions' newest probes: probes of one
#: partition arrive roughly, not exactly, in capture order (several sensors).
LATENESS_S = 0.5
#: Wall seconds a shard must hear nothing, while every partition is silent, before the timer
#: moves it past its expiry: by then its MACs are forgotten and its groups closed, and the
#: row is deleted.
EXPIRE_QUIET_S = PARAMS.forget_mac_s
#: How often the timer looks.
TIMER_S = 1.0
#: How often an assignment whose device row is not there yet is sent on again before it is
#: dropped (a worker rebuilding that partition after a crash may not have folded it again).
MAX_ATTEMPTS = 5

# Scratch of a write-behind generation (`WriteBehind.scratch`).
#: (probes partition, offset, probes with a fingerprint) of every record counted.
_REKEY = "groups.rekey"
#: probes partition → [newest capture time, last offset] of the records counted.
_PROGRESS = "groups.progress"
#: (devices partition, MAC key) → [SSIDs probed, minutes heard] since the last flush.
_HEARD = "groups.heard"
#: (devices partition, MAC key) → (Join, minutes, hours, days): MACs that took their group.
_JOINED = "groups.joined"
#: Assignments decided this generation.
_DECIDED = "groups.decided"
#: Member updates to send this generation (erasures).
_LEFT = "groups.left"
#: (partition, shard key) → the live row of a shard changed this generation, not encoded yet.
_DIRTY = "groups.dirty"
#: (partition, shard key) → the shard's row as encoded for this generation.
_ENCODED = "groups.encoded"
#: partition → shard key → its [due, expires] as encoded, or None: deleted.
_AGENDA = "groups.agenda"

T = TypeVar("T")


def _partition(key: str) -> int:
    """The partition of the grouping topics (and of `devices`, `groups`) that `key` hashes
    to: Kafka's default partitioner, over PROBEWATCH_PARTITIONS."""
    home = _homes.get(key)
    if home is None:
        if len(_homes) >= 200_000:
            _homes.clear()
        home = _homes[key] = (murmur2(key.encode()) & 0x7FFFFFFF) % settings.partitions
    return home


_homes: dict[str, int] = {}


def _packed(
    topic: str,
    items: dict[int, list[T]],
    key_of: Callable[[T], str],
    encode: Callable[[list[T]], bytes],
) -> list[Message]:
    """One record per partition (per PACK items, or fewer to stay within the record limit),
    keyed by its first item's key: Kafka's default partitioner puts it where all its items hash
    to."""
    messages: list[Message] = []
    for chunk in (
        part[at : at + PACK] for part in items.values() for at in range(0, len(part), PACK)
    ):
        for piece, value in bounded(chunk, encode):
            messages.append((topic, key_of(piece[0]).encode(), value))
    return messages


# --- 1. Re-key: noted by the probes fold, sent by its flush --------------------------------


def note_probes(
    partition: int,
    offset: int,
    here: dict[str, list[tuple[int, ProbeEvent]]],
    folded: Iterable[str],
) -> None:
    """Note the probes the probes fold counted in one record (`folded`: the MACs whose rows
    took them), for the flush to re-key; a device whose probe has no fingerprint takes itself
    as its group."""
    scratch = write_behind.scratch()
    rekey: list[ProbeEvent] = []
    heard: dict[tuple[int, bytes], list[set[Any]]] = scratch.setdefault(_HEARD, {})
    newest = -1.0
    # As history does: a probe from a sensor whose clock is days ahead counts in no minute.
    latest = time.time() + MAX_AHEAD_OF_CLOCK_S
    for mac in folded:
        probes = here.get(mac)
        if not probes:
            continue
        key = mac.encode()
        noted = heard.get((partition, key))
        if noted is None:
            noted = heard[(partition, key)] = [set(), set()]
        ssids, minutes = noted
        alone = False
        for _, probe in probes:
            if probe.ssid:
                ssids.add(probe.ssid)
            if probe.ts > newest:
                newest = probe.ts
            if probe.ts <= latest:
                minutes.add(int(probe.ts // 60))
            if probe.ie_fingerprint:
                rekey.append(probe)
            else:
                alone = True
        if alone:
            _alone(partition, key, probes[0][1])
    if rekey:
        scratch.setdefault(_REKEY, []).append((partition, offset, rekey))
    if newest >= 0:
        progress: dict[int, list[float]] = scratch.setdefault(_PROGRESS, {})
        held = progress.get(partition)
        progress[partition] = [newest if held is None else max(held[0], newest), offset]


def _alone(partition: int, key: bytes, probe: ProbeEvent) -> None:
    """A MAC heard without a fingerprint is a group of its own, at once (as in its own shard)."""
    row: DeviceState | None = write_behind.get(devices_table, partition, key)
    if row is None:
        return
    mac = key.decode()
    record = AssignmentRecord(
        mac=mac,
        group=mac,
        decided_ts=row["last_seen_ts"],
        first_ts=row["first_seen_ts"],
        last_ts=row["last_seen_ts"],
        shard=f"mac:{mac}",
    )
    if take_group(row, record):
        _note_join(partition, key, record)
        counters.incr("groups.alone")


async def _rekey(rows: StagedRows, scratch: dict[str, Any], pacer: Pacer) -> list[Message]:
    """The generation's counted probes, by shard partition: packed `group-probes` records;
    every partition of it is told how far each `probes` partition got (its watermark)."""
    progress: dict[int, list[float]] = scratch.get(_PROGRESS, {})
    if not progress:
        return []
    noted: list[tuple[int, int, list[ProbeEvent]]] = scratch.get(_REKEY, [])
    by_partition: dict[int, dict[tuple[int, int], list[ProbeEvent]]] = defaultdict(dict)
    shard_of: dict[str, int] = {}
    count = 0
    for number, (partition, offset, probes) in enumerate(noted):
        for probe in probes:
            fingerprint = probe.ie_fingerprint or ""
            home = shard_of.get(fingerprint)
            if home is None:
                home = shard_of[fingerprint] = _partition(shard_key(probe))
            by_partition[home].setdefault((partition, offset), []).append(probe)
            count += 1
        if number % PACE_EVERY == 0:
            await pacer.pace()
    topic = group_probes_topic.get_topic_name()
    messages: list[Message] = []
    for home in range(settings.partitions):
        records = by_partition.get(home, {})
        chunk: list[tuple[int, int, float, list[ProbeEvent]]] = []
        size = 0
        for (partition, offset), probes in records.items():
            chunk.append((partition, offset, progress[partition][0], probes))
            size += len(probes)
            if size >= PACK:
                messages += _group_probes_messages(topic, home, _without_progress(chunk))
                chunk, size = [], 0
        told = {entry[0] for entry in chunk}
        for source, (newest, last) in sorted(progress.items()):
            if source not in told:
                chunk.append((source, int(last), newest, []))
        messages += _group_probes_messages(topic, home, chunk)
        await pacer.pace()
    counters.incr("groups.rekeyed", count)
    return messages


def _without_progress(
    chunk: list[tuple[int, int, float, list[ProbeEvent]]],
) -> list[tuple[int, int, float, list[ProbeEvent]]]:
    """A record with more of the flush to come for its partition tells no progress (`MIN_TS`:
    the shard keeps what it had): a source's newest capture time is true of the whole flush, and
    told early it moved the shard's watermark past the probes of the records still to come,
    which were then decided late (at 2,000 probes a record, whenever a flush sent more to one
    partition: under load). The last record of the flush tells every source's progress."""
    return [(source, offset, MIN_TS, probes) for source, offset, _, probes in chunk]


def _group_probes_messages(
    topic: str, home: int, chunk: list[tuple[int, int, float, list[ProbeEvent]]]
) -> list[Message]:
    """Each keyed by a shard key of its probes, or, with none, by a key that hashes to `home`.
    A `probes` record's probes stay in one record (the shard skips a record it holds)."""
    messages: list[Message] = []
    for piece, value in bounded(chunk, encode_group_probes):
        first = next((probes[0] for *_, probes in piece if probes), None)
        key = shard_key(first) if first is not None else _key_of(home)
        messages.append((topic, key.encode(), value))
    return messages


def _key_of(home: int) -> str:
    """A key Kafka's default partitioner puts in partition `home` (found once, then kept)."""
    key = _home_keys.get(home)
    if key is None:
        number = 0
        while _partition(f"partition-{home}-{number}") != home:
            number += 1
        key = _home_keys[home] = f"partition-{home}-{number}"
    return key


_home_keys: dict[int, str] = {}


# --- 2. Decide: the shards ----------------------------------------------------------------


@app.agent(group_probes_topic, name="fold-group-probes")
async def fold_group_probes(stream: StreamT[bytes]) -> None:
    """Fold each record's probes into their shards; acknowledged once the flush made the
    shards and what they decided durable."""
    await fold_each(stream, PROBES_STREAM, apply_group_probes)


#: This worker's shards, decoded once: (partition, shard key) → row. A row staged for a flush
#: is an encoded copy (`online.fit`), so the object here can go on changing.
_live: dict[tuple[int, str], ShardRow] = {}
#: Per partition, each live shard's [due, expires], as this worker schedules them.
_agendas: dict[int, dict[str, list[float | None]]] = {}
#: Per partition, the agenda row as the generations flushed so far leave it.
_kept_agendas: dict[int, dict[str, list[float | None]]] = {}
#: A shard changed in a generation not flushed yet → that generation's scratch (`_seal`).
_unsealed: dict[tuple[int, str], dict[str, Any]] = {}
#: (partition, shard key) → when this worker last heard a probe of it (monotonic seconds).
_heard_at: dict[tuple[int, str], float] = {}
#: Per partition, what each partition of `probes` reported: its watermark.
_sources: dict[int, Sources] = {}


def _sources_of(partition: int, now: float) -> Sources:
    sources = _sources.get(partition)
    if sources is None:
        sources = _sources[partition] = Sources(settings.partitions, now, IDLE_S, LATENESS_S)
    return sources


async def apply_group_probes(event: EventT[bytes]) -> None:
    message = event.message
    try:
        records = decode_group_probes(message.value)
    except InvalidGroupRecord as bad:
        await dead_letters.reject(event, PROBES_STREAM, bad.reason, str(bad))
        return
    partition = message.partition
    now = time.monotonic()
    sources = _sources_of(partition, now)
    shards: dict[str, list[tuple[int, int, list[ProbeEvent]]]] = {}
    misplaced = 0
    for source, offset, newest, probes in records:
        sources.report(source, newest, now)
        mine: dict[str, list[ProbeEvent]] = {}
        for probe in probes:
            key = shard_key(probe)
            if _partition(key) != partition:
                misplaced += 1
                continue
            mine.setdefault(key, []).append(probe)
        for key, probes_of_shard in mine.items():
            shards.setdefault(key, []).append((source, offset, probes_of_shard))
    if misplaced:
        await dead_letters.reject(
            event,
            PROBES_STREAM,
            "misplaced",
            f"{misplaced} probes whose shard key hashes to another partition (is "
            "PROBEWATCH_PARTITIONS the partition count of the grouping topics?)",
        )
    applied = skipped = 0
    for key, held in shards.items():
        row = _load(partition, key)
        done, again = fold_records(row, held, PARAMS)
        applied += done
        skipped += again
        _heard_at[(partition, key)] = now
    await _move_on_paced(partition, sources.watermark(now), now, set(shards))
    if applied:
        counters.incr(f"{PROBES_STREAM}.accepted", applied)
    if skipped:
        counters.incr(f"{PROBES_STREAM}.duplicates_skipped", skipped)


def _move_on(partition: int, watermark: float | None, now: float, touched: set[str]) -> int:
    """Advance the partition's shards to the watermark (those with something due by then, or
    expired), and stage every shard changed; with no watermark (every partition of `probes`
    silent), move each waiting shard to its due time, and delete those quiet past their expiry.
    How many shards were moved. (The timer's way: the fold's is `_move_on_paced`.)"""
    moved = 0
    for key in _in_turn(partition, touched):
        steps = _steps(partition, key, watermark, now, key in touched)
        decided = None if steps is None else [a for step in steps for a in step]
        if decided is not None:
            moved += 1
        if decided is not None or key in touched:
            _settle(partition, key, _load(partition, key), decided or [])
    return moved


async def _move_on_paced(
    partition: int, watermark: float | None, now: float, touched: set[str]
) -> None:
    """`_move_on`, handing the event loop over between the steps of a shard's decisions: a
    watermark that jumps can leave one shard thousands of scans to decide, which held the loop
    for up to 76 to 170 ms at once. Each step is staged before the loop is handed over, and the
    shard is sealed for a flush that began meanwhile before the next step changes it (`_load`),
    so every flush holds a shard whole, with what it decided. The timer leaves the partition
    alone meanwhile."""
    _moving.add(partition)
    try:
        for key in _in_turn(partition, touched):
            steps = _steps(partition, key, watermark, now, key in touched)
            if steps is None:
                if key in touched:
                    _settle(partition, key, _load(partition, key), [])
                continue
            stepped = False
            row = _load(partition, key)
            for step in steps:
                stepped = True
                _settle(partition, key, row, step)
                if _live.get((partition, key)) is not row:
                    break  # emptied and deleted: nothing is left to decide
                await _pacer.pace()
                row = _load(partition, key)
            if not stepped:
                _settle(partition, key, _load(partition, key), [])
    finally:
        _moving.discard(partition)


#: Partitions whose shards the fold is moving on, a step at a time (`_move_on_paced`).
_moving: set[int] = set()
#: The grouping fold's own pacer (one per task).
_pacer = Pacer()


def _in_turn(partition: int, touched: set[str]) -> list[str]:
    """The shards to look at: those a record just changed, then every other on the agenda."""
    return [*touched, *(k for k in _agenda(partition) if k not in touched)]


def _steps(
    partition: int, key: str, watermark: float | None, now: float, touched: bool
) -> Iterator[list[Assignment]] | None:
    """How the shard moves on, as steps of what it decides; None if it has nothing to do.

    A touched shard's expiry is the one its last encoding found (`_seal`): it only grows as
    probes are heard, and scanning every MAC for it on each record cost more than the fold."""
    agenda = _agenda(partition)
    due, expires = agenda.get(key, (None, None))
    if touched:
        due = due_from(_load(partition, key).state)
    if due is not None and (watermark is None or due <= watermark):
        # The agenda and the bounds may be early: look for the exact time.
        due = due_at(_load(partition, key).state, PARAMS)
        if key in agenda:
            agenda[key] = [due, agenda[key][1]]
    if watermark is None:
        if due is not None:
            return iter([run_due(_load(partition, key).state, PARAMS)])
        if expires is not None and now - _heard_at.setdefault((partition, key), now) >= (
            EXPIRE_QUIET_S
        ):
            return iter([expire(_load(partition, key).state, PARAMS)])
    elif (due is not None and due <= watermark) or (expires is not None and expires <= watermark):
        return advance_in_steps(_load(partition, key).state, watermark, PARAMS)
    return None


def _load(partition: int, key: str) -> ShardRow:
    """The shard's row, ready to be changed: this worker's decoded copy, or the stored one, or
    a new one. A copy changed in a generation now being flushed is encoded for it first."""
    slot = (partition, key)
    changed_in = _unsealed.get(slot)
    if changed_in is not None and changed_in is not write_behind.scratch():
        _seal(slot, changed_in)
    row = _live.get(slot)
    if row is None:
        stored = write_behind.get(group_shards_table, partition, key.encode())
        if isinstance(stored, orjson.Fragment):
            row = decode_row(orjson.dumps(stored))
        elif stored is not None:
            row = row_from_json(stored)
        else:
            row = new_row(key)
        _live[slot] = row
    return row


def _agenda(partition: int) -> dict[str, list[float | None]]:
    """The partition's shards with their [due, expires], as this worker schedules them."""
    agenda = _agendas.get(partition)
    if agenda is None:
        agenda = _agendas[partition] = _stored_agenda(partition)
    return agenda


def _stored_agenda(partition: int) -> dict[str, list[float | None]]:
    stored = write_behind.get(group_shards_table, partition, AGENDA_KEY)
    return dict(stored.get("shards", {})) if stored else {}


def _settle(partition: int, key: str, row: ShardRow, decided: list[Assignment]) -> None:
    """Note the shard as changed in this generation (its flush encodes it once, `_seal`), or
    stage its deletion; and what it decided."""
    slot = (partition, key)
    agenda = _agenda(partition)
    scratch = write_behind.scratch()
    if is_empty(row.state):
        write_behind.stage(group_shards_table, partition, key.encode(), None)
        _live.pop(slot, None)
        _heard_at.pop(slot, None)
        agenda.pop(key, None)
        scratch.get(_DIRTY, {}).pop(slot, None)
        _unsealed.pop(slot, None)
        scratch.setdefault(_AGENDA, {}).setdefault(partition, {})[key] = None
    else:
        held = agenda.get(key)
        agenda[key] = [due_from(row.state), None if held is None else held[1]]
        scratch.setdefault(_DIRTY, {})[slot] = row
        _unsealed[slot] = scratch
    if decided:
        _decide(scratch, key, decided)


def _decide(scratch: dict[str, Any], key: str, decided: list[Assignment]) -> None:
    records: list[AssignmentRecord] = scratch.setdefault(_DECIDED, [])
    records.extend(
        AssignmentRecord(
            mac=a.mac,
            group=a.group,
            decided_ts=a.decided_ts,
            first_ts=a.first_ts,
            last_ts=a.last_ts,
            shard=key,
            link=a.link,
            doubt=list(a.doubt),
        )
        for a in decided
    )
    counters.incr("groups.decided", len(decided))


def _seal(slot: tuple[int, str], scratch: dict[str, Any]) -> None:
    """Encode a shard changed in the generation of `scratch` (trimmed to fit a record; what the
    trimming decides is that generation's), and note its [due, expires] for the agenda."""
    _unsealed.pop(slot, None)  # already gone when its partition was given away meanwhile
    row: ShardRow = scratch[_DIRTY].pop(slot)
    partition, key = slot
    encoded, trimmed, halvings = fit(row, PARAMS)
    if halvings:
        counters.incr("groups.shards_trimmed")
        _decide(scratch, key, trimmed)
    scratch.setdefault(_ENCODED, {})[slot] = orjson.Fragment(encoded)
    entry = [due_at(row.state, PARAMS), expires_at(row.state, PARAMS)]
    _agenda(partition)[key] = entry
    scratch.setdefault(_AGENDA, {}).setdefault(partition, {})[key] = entry


async def _stage_shards(rows: StagedRows, scratch: dict[str, Any], pacer: Pacer) -> list[Message]:
    """Put the generation's shards, each encoded once, and the agendas they changed in its
    rows (before `_assignments`, which sends what the encoding's trimming decided)."""
    dirty: dict[tuple[int, str], ShardRow] = scratch.get(_DIRTY, {})
    for slot in list(dirty):
        if slot in dirty:  # not sealed meanwhile by a fold about to change it
            _seal(slot, scratch)
        await pacer.pace()
    name = group_shards_table.name
    for (partition, key), encoded in scratch.get(_ENCODED, {}).items():
        rows.setdefault((name, partition), {})[key.encode()] = encoded
    changes: dict[int, dict[str, list[float | None] | None]] = scratch.get(_AGENDA, {})
    for partition, entries in changes.items():
        kept = _kept_agendas.get(partition)
        if kept is None:
            kept = _kept_agendas[partition] = _stored_agenda(partition)
        before = dict(kept)
        for key, entry in entries.items():
            if entry is None:
                kept.pop(key, None)
            else:
                kept[key] = entry
        if kept != before:
            rows.setdefault((name, partition), {})[AGENDA_KEY] = {"shards": dict(kept)}
    return []


def advance_quiet(partitions: Iterable[int], now: float) -> int:
    """Move the shards of `partitions` on as their watermark allows now (a partition of
    `probes` that fell silent no longer holds it back; when all are, waiting shards go to
    their due time); how many shards were moved."""
    return sum(
        _move_on(partition, _sources_of(partition, now).watermark(now), now, set())
        for partition in partitions
        if partition not in _moving
    )


@app.timer(interval=TIMER_S)  # type: ignore[untyped-decorator]
async def _move_quiet_shards() -> None:
    """Decide what the passing of time lets be decided in the shards this worker owns (not
    while its tables are being read back: a shard not read yet would look new)."""
    if ownership.partitions is None or recovering(app):
        return
    topic = group_probes_topic.get_topic_name()
    mine = [partition for name, partition in ownership.partitions if name == topic]
    if not mine:
        return
    try:
        moved = advance_quiet(mine, time.monotonic())
    except Exception:  # never let one bad shard stop the timer for every other
        counters.incr("groups.timer_failed")
        logger.exception("moving quiet shards on failed; trying again in %s s", TIMER_S)
        return
    if moved:
        counters.incr("groups.moved_by_timer", moved)


@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def _forget_given_away(app: AppT, revoked: set[TP], **_: Any) -> None:
    """A shard's next owner reads it from the changelog: drop this worker's copies, once the
    flush that gives the partitions away has encoded them (the order of the receivers of
    faust's signal is not defined, so this flush waits for that one, or is it)."""
    topic = group_probes_topic.get_topic_name()
    gone = {tp.partition for tp in revoked if tp.topic == topic}
    if not gone:
        return
    await write_behind.flush()
    for partition in gone:
        _agendas.pop(partition, None)
        _kept_agendas.pop(partition, None)
        _sources.pop(partition, None)
    for held in (_live, _heard_at, _unsealed):
        for slot in [slot for slot in held if slot[0] in gone]:
            del held[slot]


async def _assignments(rows: StagedRows, scratch: dict[str, Any], pacer: Pacer) -> list[Message]:
    """The generation's assignments, packed per MAC partition."""
    decided: list[AssignmentRecord] = scratch.get(_DECIDED, [])
    if not decided:
        return []
    by_partition: dict[int, list[AssignmentRecord]] = defaultdict(list)
    for record in decided:
        by_partition[_partition(record.mac)].append(record)
    await pacer.pace()
    return _packed(
        group_assignments_topic.get_topic_name(),
        by_partition,
        lambda record: record.mac,
        encode_assignments,
    )


# --- 3. Take and gather ---------------------------------------------------------------------


@app.agent(group_assignments_topic, name="fold-group-assignments")
async def fold_group_assignments(stream: StreamT[bytes]) -> None:
    """Give each device the group its shard decided, unless it has one."""
    await fold_each(stream, ASSIGNMENTS_STREAM, apply_assignments)


async def apply_assignments(event: EventT[bytes]) -> None:
    message = event.message
    try:
        records = decode_assignments(message.value)
    except InvalidGroupRecord as bad:
        await dead_letters.reject(event, ASSIGNMENTS_STREAM, bad.reason, str(bad))
        return
    partition = message.partition
    taken = kept = misplaced = 0
    for record in records:
        if _partition(record.mac) != partition:
            misplaced += 1
            continue
        key = record.mac.encode()
        row: DeviceState | None = write_behind.get(devices_table, partition, key)
        if row is None:
            _retry(record)
            continue
        if take_group(row, record):
            write_behind.stage(devices_table, partition, key, row)
            _note_join(partition, key, record)
            taken += 1
        else:
            kept += 1
    if misplaced:
        await dead_letters.reject(
            event,
            ASSIGNMENTS_STREAM,
            "misplaced",
            f"{misplaced} assignments of MACs of another partition",
        )
    if taken:
        counters.incr(f"{ASSIGNMENTS_STREAM}.taken", taken)
    if kept:
        counters.incr(f"{ASSIGNMENTS_STREAM}.first_kept", kept)


def _retry(record: AssignmentRecord) -> None:
    """A device not (yet) in its partition: send the assignment on again with the next flush,
    a few times (a worker rebuilding the partition may not have folded its probes again)."""
    if record.attempt >= MAX_ATTEMPTS:
        counters.incr(f"{ASSIGNMENTS_STREAM}.no_device")
        return
    again = AssignmentRecord(**{**_fields(record), "attempt": record.attempt + 1})
    write_behind.send_with_flush(
        group_assignments_topic.get_topic_name(), record.mac.encode(), encode_assignments([again])
    )
    counters.incr(f"{ASSIGNMENTS_STREAM}.retried")


def _fields(record: AssignmentRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__struct_fields__}


def _note_join(partition: int, key: bytes, record: AssignmentRecord) -> None:
    """Remember that the device took its group, and when it was heard (its history), for the
    member update the flush sends."""
    minutes: list[int] = []
    hours: list[int] = []
    days: list[int] = []
    held = device_activity_row(partition, key.decode()) if settings.history else None
    if held is not None:
        history = held["activity"]
        origin = history["origin"]
        minutes = [bucket[0] + origin * MINUTES_PER_DAY for bucket in history["minutes"]]
        hours = [bucket[0] + origin * 24 for bucket in history["hours"]]
        days = [bucket[0] + origin for bucket in history["days"]]
    else:
        latest = time.time() + MAX_AHEAD_OF_CLOCK_S
        ends = (record.first_ts, record.last_ts)
        minutes = sorted({int(ts // 60) for ts in ends if ts <= latest})
    join = Join(decided_ts=record.decided_ts, link=record.link, doubt=list(record.doubt))
    write_behind.scratch().setdefault(_JOINED, {})[(partition, key)] = (join, minutes, hours, days)


def keep_group(row: DeviceState, live: DeviceState | None) -> None:
    """A device row rebuilt from its last flush (`probes._refold`) keeps the group its live
    row took since."""
    if live is not None and live.get("group") is not None and row.get("group") is None:
        row["group"] = live["group"]
        row["group_in_doubt"] = live.get("group_in_doubt", False)


def forget(partition: int, mac: str, row: DeviceState | None, expired: bool = False) -> None:
    """The device is being erased (`expired`: by retention): its group forgets it, with the
    erasure's flush."""
    if row is None:
        return
    update = erased_member(mac, row, expired)
    if update is not None:
        write_behind.scratch().setdefault(_LEFT, []).append(update)
    scratch = write_behind.scratch()
    for name in (_HEARD, _JOINED):
        scratch.get(name, {}).pop((partition, mac.encode()), None)


async def _members(rows: StagedRows, scratch: dict[str, Any], pacer: Pacer) -> list[Message]:
    """For every device row of the generation that has a group, its member update, packed per
    group partition; and the erasures."""
    heard: dict[tuple[int, bytes], list[set[Any]]] = scratch.get(_HEARD, {})
    joined: dict[tuple[int, bytes], tuple[Join, list[int], list[int], list[int]]] = scratch.get(
        _JOINED, {}
    )
    by_partition: dict[int, list[MemberUpdate]] = defaultdict(list)
    for update in scratch.get(_LEFT, []):
        by_partition[_partition(update.group)].append(update)
    if settings.grouping:
        for (name, partition), staged in rows.items():
            if name != devices_table.name:
                continue
            for number, (key, row) in enumerate(staged.items()):
                if number % PACE_EVERY == 0:
                    await pacer.pace()
                if row is None or row.get("group") is None:
                    continue
                ssids, minutes = heard.get((partition, key)) or (set(), set())
                join = joined.get((partition, key))
                hours: Sequence[int] = ()
                days: Sequence[int] = ()
                if join is not None:
                    minutes = minutes | set(join[1])
                    hours, days = join[2], join[3]
                update = member_update(
                    key.decode(),
                    row,
                    ssids=ssids,
                    minutes=minutes,
                    hours=hours,
                    days=days,
                    join=None if join is None else join[0],
                )
                if update is not None:
                    by_partition[_partition(update.group)].append(update)
    if not by_partition:
        return []
    return _packed(
        group_members_topic.get_topic_name(),
        by_partition,
        lambda update: update.group,
        encode_members,
    )


@app.agent(group_members_topic, name="fold-group-members")
async def fold_group_members(stream: StreamT[bytes]) -> None:
    """Gather each group's members into its row, and count the probable devices heard."""
    await fold_each(stream, MEMBERS_STREAM, apply_members)


async def apply_members(event: EventT[bytes]) -> None:
    message = event.message
    try:
        updates = decode_members(message.value)
    except InvalidGroupRecord as bad:
        await dead_letters.reject(event, MEMBERS_STREAM, bad.reason, str(bad))
        return
    partition, offset = message.partition, message.offset
    tally_key = counters_key(partition)
    tallied = write_behind.get(group_counters_table, partition, tally_key)
    counting = tallied is None or tallied["offset"] < offset
    counts = None if tallied is None else tallied["counters"]
    touched: set[bytes] = set()
    applied = skipped = misplaced = 0
    for update in updates:
        if _partition(update.group) != partition:
            misplaced += 1
            continue
        key = update.group.encode()
        row = write_behind.get(groups_table, partition, key)
        if key not in touched:
            if row is not None and row["offset"] >= offset:
                skipped += 1
                continue
            touched.add(key)
        row, sightings = fold_member(row, update)
        if row is not None:
            row["offset"] = offset
        write_behind.stage(groups_table, partition, key, row)
        if counting:
            for sighting in sightings:
                counts = tally(counts, sighting)
        applied += 1
    if counting and touched:
        write_behind.stage(
            group_counters_table, partition, tally_key, {"counters": counts, "offset": offset}
        )
    if misplaced:
        await dead_letters.reject(
            event,
            MEMBERS_STREAM,
            "misplaced",
            f"{misplaced} updates of groups of another partition",
        )
    if applied:
        counters.incr(f"{MEMBERS_STREAM}.applied", applied)
    if skipped:
        counters.incr(f"{MEMBERS_STREAM}.duplicates_skipped", skipped)


write_behind.derive(_rekey)
write_behind.derive(_stage_shards)
write_behind.derive(_assignments)
write_behind.derive(_members)
