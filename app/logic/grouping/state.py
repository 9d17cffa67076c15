"""The state of one shard, as plain msgspec values a changelog-backed table can hold.

A shard is every probe with one shard key (an IE fingerprint). Its state is what later decisions
need and nothing more: the MACs heard lately (those not yet decided, and the decided ones for
their late probes), the scans not yet decided, and the groups that may still be continued.
Finished groups are forgotten here; who belongs to which group is the output
(`records.Assignment`), kept by whoever stores it.
"""

from __future__ import annotations

import msgspec

from app.logic.grouping.records import Link


class MacState(msgspec.Struct):
    """One MAC of the shard: its span, sequence numbers, strongest signal and SSIDs."""

    mac: str
    randomized: bool
    first_ts: float
    last_ts: float
    #: Sequence number of the earliest and of the latest probe (by capture time).
    first_seq: int | None
    last_seq: int | None
    probes: int = 0
    #: Per radio (sensor and channel, `evidence.radio`), the strongest signal of this MAC (dBm).
    peaks: dict[str, int] = msgspec.field(default_factory=dict)
    #: Named SSIDs it asked for (wildcard probes add none).
    ssids: list[str] = msgspec.field(default_factory=list)
    #: Its scan once its burst is over, its group once the scan is decided.
    scan: str | None = None
    group: str | None = None


class ScanState(msgspec.Struct):
    """MACs of one scan: randomized MACs that followed one another within `scan_gap_s` with
    signals that agree. A scan joins a group, or starts one, as a whole once it is over: the
    signal of a dozen MACs is a steadier witness than the one or two frames of each."""

    scan: str
    randomized: bool
    first_ts: float
    last_ts: float
    #: Its first MAC's first sequence number, its last MAC's last one.
    first_seq: int | None
    last_seq: int | None
    last_mac: str
    macs: list[str] = msgspec.field(default_factory=list)
    #: Per radio, the strongest signal of each of its MACs (bounded).
    peaks: dict[str, list[int]] = msgspec.field(default_factory=dict)
    ssids: list[str] = msgspec.field(default_factory=list)
    #: Its MAC changes that continued the sequence counter, and those that did not.
    seq_kept: int = 0
    seq_reset: int = 0
    #: How each MAC after the first joined it.
    links: dict[str, Link] = msgspec.field(default_factory=dict)
    #: Begun by a MAC that fitted several open scans alike: no other MAC joins it.
    doubt: bool = False


class GroupState(msgspec.Struct):
    """An open group: what a MAC that continues it has to match."""

    group: str
    #: False when any member is a fixed (globally administered) MAC.
    randomized: bool
    first_ts: float
    last_ts: float
    #: The member heard last, and the sequence number of its latest probe.
    last_mac: str
    last_seq: int | None
    members: int = 1
    #: Of the MAC changes it has seen (members joined by a link), how many continued the
    #: sequence counter, and how many did not.
    seq_kept: int = 0
    seq_reset: int = 0
    #: Per radio, the signal of each recent scan (the median of its MACs' strongest), oldest
    #: first, bounded.
    peaks: dict[str, list[int]] = msgspec.field(default_factory=dict)
    ssids: list[str] = msgspec.field(default_factory=list)
    #: A scan that fitted these groups alike began it: it is one of them, not a device of its
    #: own, so no scan continues it and it is not counted as a device.
    doubt: list[str] = msgspec.field(default_factory=list)


class ShardState(msgspec.Struct):
    """Everything the grouper keeps for one shard key."""

    key: str
    #: The newest capture time seen in this shard: the shard's own clock.
    clock: float = 0.0
    #: MACs whose burst may still go on: not in a scan yet.
    pending: dict[str, MacState] = msgspec.field(default_factory=dict)
    #: Scans that may still gain MACs, or are not decided yet, by their first MAC.
    scans: dict[str, ScanState] = msgspec.field(default_factory=dict)
    #: MACs in a scan, decided or not, heard lately (late probes still update their group).
    macs: dict[str, MacState] = msgspec.field(default_factory=dict)
    #: Groups that may still be continued, by id.
    groups: dict[str, GroupState] = msgspec.field(default_factory=dict)
    #: The clock when forgotten MACs and closed groups were last swept out.
    swept: float = 0.0
    #: No open scan is over before this clock (`shard.advance` looks through the scans only
    #: once it is reached); 0 when not known, as in a row written before it was kept, and the
    #: largest float when no scan is open (rows are JSON too: no infinities).
    scans_over_from: float = 0.0
    #: No pending MAC is due to be placed before this clock (the same, for `pending`).
    pending_due_from: float = 0.0
    #: No MAC in `macs` was last heard before this (a lower bound, 0 when not known): a sweep
    #: looks for MACs to forget only once `forget_mac_s` has passed since.
    macs_heard_from: float = 0.0


_ENCODE = msgspec.msgpack.Encoder().encode
_DECODE = msgspec.msgpack.Decoder(ShardState).decode


def encode_shard(state: ShardState) -> bytes:
    """The state as bytes (msgpack), for a table or a changelog."""
    return _ENCODE(state)


def decode_shard(raw: bytes) -> ShardState:
    """The state `encode_shard` wrote."""
    return _DECODE(raw)
