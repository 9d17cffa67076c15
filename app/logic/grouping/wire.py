"""The records grouping sends between partitions: what each topic carries, checked where it
enters (another producer may write to these topics too, so nothing is trusted).

Grouping runs in three places, each keyed so that what must meet does:

- `group-probes`: the probes of `probes`, re-keyed by shard key (`shard_key`, the IE
  fingerprint) so that every MAC that could be one device meets in one partition. A value is a
  JSON array of `[partition, offset, newest, [probe, …]]`: the probes of one `probes` record
  whose shard keys hash to this partition, with the record they were counted in (the shard's
  guard against a record re-keyed twice) and the newest capture time that `probes` partition
  has reported so far (the watermark's input: the list may be empty, to report just that).
  Keyed by the shard key of one of its probes (any: Kafka's default partitioner puts them all
  in one partition), or by the partition's number when it carries none.
- `group-assignments`: what a shard decided, back to each MAC's own partition (that of
  `devices`). A JSON array of assignments, no key, written to the partition of the MACs.
- `group-members`: each MAC that took its group, and its totals, to the group's partition (a
  group's id is its first MAC, so that is the partition of that MAC). A JSON array of member
  updates, no key, written to the partition of the groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import msgspec

from app.logic.grouping.records import Link
from app.logic.limits import MAX_TS, MIN_TS
from app.logic.mac import CANONICAL_MAC_PATTERN
from app.logic.probe import InvalidProbe, decode_record
from app.models import ProbeEvent

#: Items one record of these topics may carry (what the senders pack stays well below).
MAX_ITEMS = 10_000
#: Minutes, hours and days a member update names (a flush's worth, or a device's history).
MAX_BUCKETS = 2_000
#: Groups a scan tied with, SSIDs a member update carries.
MAX_NAMES = 64

Mac = Annotated[str, msgspec.Meta(pattern=CANONICAL_MAC_PATTERN)]
Ts = Annotated[float, msgspec.Meta(ge=MIN_TS, lt=MAX_TS)]
Count = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
Partition = Annotated[int, msgspec.Meta(ge=0, le=100_000)]
Key = Annotated[int, msgspec.Meta(ge=0, le=int(MAX_TS))]
Shard = Annotated[str, msgspec.Meta(min_length=1, max_length=160)]
Text = Annotated[str, msgspec.Meta(max_length=160)]


class InvalidGroupRecord(ValueError):
    """A record of a grouping topic that is not what the topic carries; `reason` is countable."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


# --- group-probes ---------------------------------------------------------------------------

_PROBE_RECORDS = msgspec.json.Decoder(
    Annotated[
        list[tuple[Partition, Count, Ts, msgspec.Raw]],
        msgspec.Meta(min_length=1, max_length=MAX_ITEMS),
    ]
)
_ENCODE = msgspec.json.encode
_EMPTY = (b"[]", b"[ ]")

#: One entry of a `group-probes` value: (`probes` partition, offset, newest capture time that
#: partition reported, the probes).
SourcedProbes = tuple[int, int, float, list[ProbeEvent]]


def encode_group_probes(records: Sequence[tuple[int, int, float, Sequence[ProbeEvent]]]) -> bytes:
    """A `group-probes` value: per `probes` record, its partition, offset, newest capture time
    and probes."""
    return _ENCODE([[p, offset, newest, list(probes)] for p, offset, newest, probes in records])


def decode_group_probes(raw: bytes | None) -> list[SourcedProbes]:
    """The entries of a `group-probes` value, each probe checked as `probes` checks it."""
    if raw is None:
        raise InvalidGroupRecord("empty_value")
    try:
        records = _PROBE_RECORDS.decode(raw)
    except msgspec.MsgspecError as bad:
        raise InvalidGroupRecord("bad_value", str(bad)) from None
    decoded: list[SourcedProbes] = []
    for partition, offset, newest, probes in records:
        if bytes(probes).strip() in _EMPTY:
            decoded.append((partition, offset, newest, []))
            continue
        try:
            record = decode_record(bytes(probes))
        except InvalidProbe as bad:
            raise InvalidGroupRecord(f"bad_probe.{bad.reason}", str(bad)) from None
        if record.rejected:
            index, why, _ = record.rejected[0]
            raise InvalidGroupRecord(f"bad_probe.{why.reason}", f"probe {index}: {why}")
        decoded.append((partition, offset, newest, [probe for _, probe in record.probes]))
    return decoded


# --- group-assignments ----------------------------------------------------------------------


class AssignmentRecord(msgspec.Struct, frozen=True):
    """A MAC decided by its shard (`records.Assignment`), on its way to the MAC's partition.

    `attempt` counts how often it was sent on because the MAC's row was not there yet (a
    worker rebuilding that partition after a crash may not have folded its probes again)."""

    mac: Mac
    group: Mac
    decided_ts: Ts
    first_ts: Ts
    last_ts: Ts
    shard: Shard
    link: Link | None = None
    doubt: Annotated[list[Mac], msgspec.Meta(max_length=MAX_NAMES)] = []
    attempt: Annotated[int, msgspec.Meta(ge=0, le=100)] = 0


_ASSIGNMENTS = msgspec.json.Decoder(
    Annotated[list[AssignmentRecord], msgspec.Meta(min_length=1, max_length=MAX_ITEMS)]
)


def encode_assignments(assignments: Sequence[AssignmentRecord]) -> bytes:
    return _ENCODE(list(assignments))


def decode_assignments(raw: bytes | None) -> list[AssignmentRecord]:
    if raw is None:
        raise InvalidGroupRecord("empty_value")
    try:
        return _ASSIGNMENTS.decode(raw)
    except msgspec.MsgspecError as bad:
        raise InvalidGroupRecord("bad_value", str(bad)) from None


# --- group-members --------------------------------------------------------------------------


class Join(msgspec.Struct, frozen=True):
    """How a member came into its group: when it was decided, the link that put it there (None
    for the MAC the group began with), and the groups its scan fitted alike (a group begun in
    doubt)."""

    decided_ts: Ts
    link: Link | None = None
    doubt: Annotated[list[Mac], msgspec.Meta(max_length=MAX_NAMES)] = []


Buckets = Annotated[list[Key], msgspec.Meta(max_length=MAX_BUCKETS)]


class MemberUpdate(msgspec.Struct, frozen=True):
    """A MAC of a group, as its own partition knows it: its totals (which replace what the
    group held of it, unless older: `offset` is its row's last `probes` offset), the SSIDs it
    probed for and the minutes, hours and days it was heard in since the last update (added),
    and, once, how it joined. `erase`: the MAC was erased; the group forgets it. `expired`
    with it: retention forgot the device (unheard for `PROBEWATCH_RETENTION_DAYS`), nobody
    asked; the lake keeps its history until the lake's own retention (`app.lake.zones`)."""

    group: Mac
    mac: Mac
    probes: Count = 0
    first_ts: Ts | None = None
    last_ts: Ts | None = None
    offset: int = -1
    randomized: bool = True
    fingerprint: Text | None = None
    ssids: Annotated[list[Text], msgspec.Meta(max_length=MAX_NAMES)] = []
    minutes: Buckets = []
    hours: Buckets = []
    days: Buckets = []
    join: Join | None = None
    erase: bool = False
    expired: bool = False


_MEMBERS = msgspec.json.Decoder(
    Annotated[list[MemberUpdate], msgspec.Meta(min_length=1, max_length=MAX_ITEMS)]
)


def encode_members(updates: Sequence[MemberUpdate]) -> bytes:
    return _ENCODE(list(updates))


def decode_members(raw: bytes | None) -> list[MemberUpdate]:
    if raw is None:
        raise InvalidGroupRecord("empty_value")
    try:
        return _MEMBERS.decode(raw)
    except msgspec.MsgspecError as bad:
        raise InvalidGroupRecord("bad_value", str(bad)) from None
