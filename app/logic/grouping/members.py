"""A MAC taking its group, and a group gathering its members: the rows outside the shards.

A shard decides; the MAC's own partition keeps what was decided first (`take_group`, on the
device's row: a MAC heard again after `forget_mac_s` of silence is decided afresh, maybe into
another group, and the first decision stands), and tells the group's partition about the MAC
(`member_update`), again whenever the device's row changes. The group's row
(`fold_member`) holds each member's totals as its own partition last sent them (a newer total
replaces an older one, so sending one twice changes nothing), the evidence that linked it,
the SSIDs of all, and the minutes, hours and days any member was heard in, from which each
partition of groups counts the probable devices heard per minute, hour and day (`Sighting`s
for `app.logic.activity.tally`). A group begun in doubt is not counted: its scan is probably
one of the groups it fitted alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

import msgspec

from app.logic.activity import (
    COUNTERS_KEPT,
    MINUTES_PER,
    MINUTES_PER_DAY,
    MINUTES_PER_HOUR,
    Counters,
    Resolution,
    Sighting,
)
from app.logic.grouping.records import Link
from app.logic.grouping.wire import AssignmentRecord, Join, MemberUpdate
from app.logic.mac import is_randomized
from app.logic.stats import iso_utc
from app.models import DeviceState

#: Members a group's row lists one by one; older ones are summed up in `earlier`.
MAX_MEMBERS = 1000
#: SSIDs a group's row keeps.
MAX_GROUP_SSIDS = 100
#: SSIDs of one device a member update carries (those it probed for since the last one).
MAX_UPDATE_SSIDS = 32


class MemberRow(TypedDict):
    """One member of a group, as its partition last told: totals, and how it joined."""

    probes: int
    first_ts: float | None
    last_ts: float | None
    #: The `probes` offset of the device row these totals are from.
    offset: int
    randomized: bool
    decided_ts: float | None
    link: dict[str, Any] | None


class GroupRow(TypedDict):
    """A `groups` row, keyed by the group's id (its first MAC)."""

    fingerprint: str | None
    #: Groups its first scan fitted alike: not empty, the group is in doubt.
    doubt: list[str]
    members: dict[str, MemberRow]
    #: Members no longer listed one by one: [MACs, probes, first ts, last ts].
    earlier: list[float]
    ssids: list[str]
    #: Capture-time minutes, hours and days (since the epoch) a member was heard in, kept
    #: within the windows the counters keep.
    minutes: list[int]
    hours: list[int]
    days: list[int]
    #: The `group-members` offset of the last record applied.
    offset: int


# --- The MAC's side -------------------------------------------------------------------------


def take_group(row: DeviceState, assignment: AssignmentRecord) -> bool:
    """Give the device its group, unless it has one (the first decision stands); True if so."""
    if row.get("group") is not None:
        return False
    row["group"] = assignment.group
    row["group_in_doubt"] = bool(assignment.doubt)
    return True


def member_update(
    mac: str,
    row: DeviceState,
    *,
    ssids: Iterable[str] = (),
    minutes: Iterable[int] = (),
    hours: Iterable[int] = (),
    days: Iterable[int] = (),
    join: Join | None = None,
) -> MemberUpdate | None:
    """What the group of a device's row should know of it now; None without a group."""
    group = row.get("group")
    if group is None:
        return None
    return MemberUpdate(
        group=group,
        mac=mac,
        probes=row["probe_count"],
        first_ts=row["first_seen_ts"],
        last_ts=row["last_seen_ts"],
        offset=row.get("offset", -1),
        randomized=is_randomized(mac),
        fingerprint=row.get("ie_fingerprint"),
        ssids=sorted(ssids)[:MAX_UPDATE_SSIDS],
        minutes=sorted(minutes),
        hours=sorted(hours),
        days=sorted(days),
        join=join,
    )


def erased_member(mac: str, row: DeviceState, expired: bool = False) -> MemberUpdate | None:
    """The update that makes a device's group forget it (the device was erased; `expired`:
    by retention, not by a request)."""
    group = row.get("group")
    if group is None:
        return None
    return MemberUpdate(group=group, mac=mac, erase=True, expired=expired)


# --- The group's side -----------------------------------------------------------------------


def new_group() -> GroupRow:
    return {
        "fingerprint": None,
        "doubt": [],
        "members": {},
        "earlier": [0, 0, 0.0, 0.0],
        "ssids": [],
        "minutes": [],
        "hours": [],
        "days": [],
        "offset": -1,
    }


def fold_member(
    row: GroupRow | None, update: MemberUpdate
) -> tuple[GroupRow | None, list[Sighting]]:
    """The group's row with the update applied (in place when given one; None: nothing left),
    and what it means for the probable devices counted per minute, hour and day."""
    if update.erase:
        if row is None:
            return None, []
        row["members"].pop(update.mac, None)
        left = row["members"] or row["earlier"][0]
        return (row if left else None), []
    if row is None:
        row = new_group()
    member = row["members"].get(update.mac)
    if member is None:
        member = row["members"][update.mac] = {
            "probes": 0,
            "first_ts": None,
            "last_ts": None,
            "offset": -1,
            "randomized": update.randomized,
            "decided_ts": None,
            "link": None,
        }
    if update.offset >= member["offset"]:
        member["probes"] = update.probes
        member["first_ts"] = update.first_ts
        member["last_ts"] = update.last_ts
        member["offset"] = update.offset
    if update.join is not None and member["decided_ts"] is None:
        member["decided_ts"] = update.join.decided_ts
        link = update.join.link
        member["link"] = None if link is None else msgspec.to_builtins(link)
        if update.join.doubt and not row["doubt"]:
            row["doubt"] = list(update.join.doubt)
    if row["fingerprint"] is None:
        row["fingerprint"] = update.fingerprint
    for ssid in update.ssids:
        if len(row["ssids"]) >= MAX_GROUP_SSIDS:
            break
        if ssid and ssid not in row["ssids"]:
            row["ssids"].append(ssid)
    if len(row["members"]) > MAX_MEMBERS:
        _sum_up_oldest(row)
    sightings = _heard(row, update)
    return row, ([] if row["doubt"] else sightings)


def _sum_up_oldest(row: GroupRow) -> None:
    """Move the members heard longest ago past MAX_MEMBERS into `earlier`."""
    members = row["members"]
    by_age = sorted(members, key=lambda mac: (members[mac]["last_ts"] or 0.0, mac))
    earlier = row["earlier"]
    for mac in by_age[: len(members) - MAX_MEMBERS]:
        gone = members.pop(mac)
        first, last = gone["first_ts"], gone["last_ts"]
        earlier[0] += 1
        earlier[1] += gone["probes"]
        if first is not None:
            earlier[2] = first if not earlier[2] else min(earlier[2], first)
        if last is not None:
            earlier[3] = max(earlier[3], last)


def _heard(row: GroupRow, update: MemberUpdate) -> list[Sighting]:
    """Note the minutes, hours and days of the update in the group's row; a Sighting for each
    that is new to the group (a minute's hour and day come with it)."""
    minutes, hours, days = set(row["minutes"]), set(row["hours"]), set(row["days"])
    sightings = []
    for minute in update.minutes:
        hour, day = minute // MINUTES_PER_HOUR, minute // MINUTES_PER_DAY
        new = (minute not in minutes, hour not in hours, day not in days)
        minutes.add(minute)
        hours.add(hour)
        days.add(day)
        if any(new):
            sightings.append(Sighting(minute, *new, False, None))
    for hour in update.hours:
        day = hour * MINUTES_PER_HOUR // MINUTES_PER_DAY
        new_hour, new_day = hour not in hours, day not in days
        hours.add(hour)
        days.add(day)
        if new_hour or new_day:
            sightings.append(
                Sighting(hour * MINUTES_PER_HOUR, False, new_hour, new_day, False, None)
            )
    for day in update.days:
        if day not in days:
            days.add(day)
            sightings.append(Sighting(day * MINUTES_PER_DAY, False, False, True, False, None))
    if sightings:
        newest = max(max(minutes, default=0), max(hours, default=0) * 60, max(days) * 1440)
        row["minutes"] = sorted(m for m in minutes if m > newest - COUNTERS_KEPT["minute"])
        row["hours"] = sorted(h for h in hours if h > newest // 60 - COUNTERS_KEPT["hour"])
        row["days"] = sorted(d for d in days if d > newest // 1440 - COUNTERS_KEPT["day"])
    return sightings


# --- What GET /groups/{id} shows ------------------------------------------------------------


def group_view(group: str, row: GroupRow) -> dict[str, Any]:
    """A group for people: its MACs and their spans, its totals, SSIDs and the evidence of each
    link."""
    members = row["members"]
    earlier_macs, earlier_probes, earlier_first, earlier_last = row["earlier"]
    firsts = [m["first_ts"] for m in members.values() if m["first_ts"] is not None]
    lasts = [m["last_ts"] for m in members.values() if m["last_ts"] is not None]
    if earlier_macs:
        firsts.append(earlier_first)
        lasts.append(earlier_last)
    first, last = (min(firsts) if firsts else None), (max(lasts) if lasts else None)
    listed = sorted(members.items(), key=lambda item: (item[1]["first_ts"] or 0.0, item[0]))
    return {
        "group": group,
        "in_doubt": bool(row["doubt"]),
        "doubt_with": list(row["doubt"]),
        "fingerprint": row["fingerprint"],
        "randomized": all(m["randomized"] for m in members.values()),
        "macs": len(members) + int(earlier_macs),
        "probe_count": sum(m["probes"] for m in members.values()) + int(earlier_probes),
        "first_seen": iso_utc(first) if first is not None else None,
        "last_seen": iso_utc(last) if last is not None else None,
        "first_seen_ts": first,
        "last_seen_ts": last,
        "ssids": list(row["ssids"]),
        "members": [_member_view(mac, member) for mac, member in listed],
        "earlier_macs": int(earlier_macs),
    }


def _member_view(mac: str, member: MemberRow) -> dict[str, Any]:
    first, last, decided = member["first_ts"], member["last_ts"], member["decided_ts"]
    return {
        "mac": mac,
        "probe_count": member["probes"],
        "first_seen": iso_utc(first) if first is not None else None,
        "last_seen": iso_utc(last) if last is not None else None,
        "first_seen_ts": first,
        "last_seen_ts": last,
        "decided": iso_utc(decided) if decided is not None else None,
        "decided_ts": decided,
        "joined_by": _link_view(member["link"]),
    }


def _link_view(link: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if link is None:
        return None
    known = msgspec.convert(link, Link)
    return {
        "kind": known.kind,
        "strength": known.strength,
        "follows": known.follows,
        "rivals": known.rivals,
        "evidence": known.evidence(),
    }


def is_device(row: GroupRow) -> bool:
    """Whether a group counts as a probable device: it has members and was not begun in doubt."""
    return bool(row["members"] or row["earlier"][0]) and not row["doubt"]


# --- Probable devices next to distinct MACs (GET /activity) ---------------------------------


def probable_devices(counters: Counters | None, resolution: Resolution) -> dict[int, int]:
    """Per bucket start (epoch seconds), the probable devices heard in it: the devices column
    of the groups' counters (`tally`ed from `fold_member`'s sightings)."""
    if counters is None:
        return {}
    size = MINUTES_PER[resolution]
    level = {"minute": counters["minutes"], "hour": counters["hours"], "day": counters["days"]}
    base = counters["origin"] * MINUTES_PER_DAY // size
    return {(key + base) * size * 60: devices for key, _, devices, _ in level[resolution]}


def add_probable_devices(
    activity: dict[str, Any], counters: Counters | None, resolution: Resolution, on: bool
) -> dict[str, Any]:
    """`GET /activity`'s series with each bucket's `probable_devices` (null with grouping off)."""
    counts = probable_devices(counters, resolution)
    for bucket in activity["buckets"]:
        bucket["probable_devices"] = counts.get(bucket["start_ts"], 0) if on else None
    return activity
