"""Activity over time, by capture time: a device's probes and signal per minute, hour and day
(`GET /devices/{mac}/activity`), and the deployment's probes, devices and new devices per
minute, hour and day (`GET /activity`), as compact JSON rows folded one probe at a time.

Time is capture time throughout, so a replayed capture lands where it was captured. A row's
windows end at the newest capture time it has seen, never at the wall clock (which would leave a
replay of last year's capture empty, and would make a row depend on when it was folded): a
device's row is a function of the multiset of its probes, in any order. An answer ends its
windows at the later of the `now` it is given and the row's newest capture time, so it is always
complete.

A device's row (`DeviceActivity`, keyed by MAC) keeps each probe in exactly one bucket, the
finest its age allows: per minute for the last hour, per hour for the last week, per day for the
last year. As the device's newest capture time moves on, its minutes roll into their hour and its
hours into their day, so a row holds at most 60 + 168 + 365 buckets, and a device seen once is
one bucket. Days are kept for a year: MACs are personal data (bounded retention), a year is the
longest span a chart of days shows, and it bounds the row to tens of kilobytes at worst.

A partition's counters (`Counters`, one row per input partition) keep each resolution on its own
(distinct devices per hour are not a sum of distinct devices per minute): per minute for the last
24 hours, per hour for the last week, per day for the last year. A MAC always lands in the same
partition, so the rows of all partitions add up (`merge_counters`). They are updated from what a
device's fold reports (`Sighting`), never from other rows.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any, Literal, NamedTuple, TypedDict

from app.logic.limits import MAX_TS, MIN_TS
from app.logic.stats import iso_utc

Resolution = Literal["minute", "hour", "day"]
#: [key, probes] when no probe of the bucket had a signal, [key, probes, rssi sum, min, max] when
#: all had one, [key, probes, rssi sum, min, max, probes without a signal] otherwise.
SignalBucket = list[int]
#: [key, probes, devices, new devices].
CountBucket = list[int]

MINUTES_PER_HOUR = 60
MINUTES_PER_DAY = 1440
MINUTES_PER = {"minute": 1, "hour": MINUTES_PER_HOUR, "day": MINUTES_PER_DAY}
#: A device's row: minutes of the last hour, hours of the last week, days of the last year.
DEVICE_KEPT = {"minute": 60, "hour": 168, "day": 365}
#: A partition's counters: minutes of the last day, hours of the last week, days of the last year.
COUNTERS_KEPT = {"minute": 1440, "hour": 168, "day": 365}
_COUNTER_MINUTES = COUNTERS_KEPT["minute"]
_COUNTER_HOURS = COUNTERS_KEPT["hour"]
_COUNTER_DAYS = COUNTERS_KEPT["day"]
#: `GET /activity` without `since`: this many buckets (fewer when the data starts later).
DEFAULT_SPAN = {"minute": 60, "hour": 168, "day": 365}
#: Keys count from an origin day, the newest capture time's day rounded down to a multiple of
#: this: minute keys of 5 digits instead of 8, and the same origin for the same probes in any
#: order. A row is re-keyed when its newest capture time passes into the next such period.
ORIGIN_STEP_DAYS = 32
ORIGIN_STEP_MINUTES = ORIGIN_STEP_DAYS * MINUTES_PER_DAY
#: A capture time further ahead of the worker's clock than this stays out of history: one probe
#: from a sensor whose clock says 2099 would otherwise push every window of its partition past
#: all real data.
MAX_AHEAD_OF_CLOCK_S = 86_400.0
#: `since` and `until`: epoch seconds, or ISO-8601 (`2024-01-01`, `2024-01-01T10:00:00Z`).
_EPOCH_SECONDS = re.compile(r"[0-9]{1,20}(\.[0-9]{1,9})?")
_MAX_MOMENT_CHARS = 40
_KEY = itemgetter(0)
_RESOLUTIONS: dict[str, Resolution] = {"minute": "minute", "hour": "hour", "day": "day"}


class DeviceActivity(TypedDict):
    """A device's activity row; keys count minutes, hours and days from `origin`."""

    #: The origin, in days since the epoch (a multiple of ORIGIN_STEP_DAYS).
    origin: int
    #: The device's first capture time ever, in minutes from the origin (kept past retention:
    #: it decides in which minute the device counts as new).
    first: int
    #: Sorted by key; the last one holds the newest capture time, the row's "now".
    minutes: list[SignalBucket]
    hours: list[SignalBucket]
    days: list[SignalBucket]


class Counters(TypedDict):
    """A partition's counters row, or their sum over partitions; keys as in DeviceActivity."""

    origin: int
    #: Sorted by key; the last one holds the newest capture time.
    minutes: list[CountBucket]
    hours: list[CountBucket]
    days: list[CountBucket]


class Sighting(NamedTuple):
    """What one probe means for its partition's counters, as its device's fold found it.

    Exact where the device's row still holds the probe's minute (the last 60 minutes before the
    device's newest probe), hour (the last week) and day (the last year). Further back, the
    next coarser answer stands in: a probe more than an hour late is new in its minute only if
    new in its hour. So a capture replayed a second time counts no device again, and a sensor
    uploading hours late can only count too few devices per minute, never too many.
    """

    #: The probe's minute, in minutes since the epoch.
    minute: int
    new_in_minute: bool
    new_in_hour: bool
    new_in_day: bool
    #: The device's earliest probe so far: it counts as a new device in this minute.
    first_ever: bool
    #: When `first_ever` for a device seen before: the minute it counted as new in until now.
    replaces: int | None


class BadParameter(ValueError):
    """A query parameter that cannot be used; `parameter` names it, the message says why."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"{parameter}: {reason}")
        self.parameter = parameter


@dataclass(frozen=True)
class ActivityQuery:
    """`GET /activity`'s parameters, checked: epoch seconds, None where not given."""

    resolution: Resolution = "minute"
    since: float | None = None
    until: float | None = None


def ahead_of_clock(ts: float, clock: float) -> bool:
    """Whether a capture time is too far ahead of the worker's clock to enter history."""
    return ts > clock + MAX_AHEAD_OF_CLOCK_S


# --- A device's row -------------------------------------------------------------------------


def fold(
    row: DeviceActivity | None, ts: float, rssi: int | None
) -> tuple[DeviceActivity, Sighting]:
    """Apply one probe to a device's row (in place when given one); say what it means.

    O(1) amortised for probes in capture order: each bucket is made, rolled and dropped once.
    An older probe goes into the finest bucket its age allows, found by bisection.
    """
    minute = int(ts // 60)
    if row is None:
        return _new_row(minute, rssi), Sighting(minute, True, True, True, True, None)
    key = minute - row["origin"] * MINUTES_PER_DAY
    if key >= ORIGIN_STEP_MINUTES:
        _rebase_device(row, _origin(minute))
        key = minute - row["origin"] * MINUTES_PER_DAY
    minutes = row["minutes"]
    newest = minutes[-1][0]
    if key == newest:
        _add_probe(minutes[-1], rssi)
        return row, _nothing_new(minute)
    if key > newest:
        # Everything the row holds is older: new in its hour and day unless the newest was too.
        new_hour = key // MINUTES_PER_HOUR != newest // MINUTES_PER_HOUR
        new_day = key // MINUTES_PER_DAY != newest // MINUTES_PER_DAY
        if new_hour or minutes[0][0] <= key - DEVICE_KEPT["minute"]:
            _roll(row, key, new_hour, new_day)
        minutes.append(_new_bucket(key, rssi))
        return row, Sighting(minute, True, new_hour, new_day, False, None)
    in_minute, in_hour, in_day = _new_in(row, key, newest)
    _place_older(row, key, newest, rssi)
    if key >= row["first"]:
        return row, Sighting(minute, in_minute, in_hour, in_day, False, None)
    replaces = row["first"] + row["origin"] * MINUTES_PER_DAY
    row["first"] = key
    return row, Sighting(minute, in_minute, in_hour, in_day, True, replaces)


@lru_cache(maxsize=1024)
def _nothing_new(minute: int) -> Sighting:
    """A probe in a minute its device was seen in already; shared, as a minute's probes are."""
    return Sighting(minute, False, False, False, False, None)


def _new_row(minute: int, rssi: int | None) -> DeviceActivity:
    origin = _origin(minute)
    key = minute - origin * MINUTES_PER_DAY
    return {
        "origin": origin,
        "first": key,
        "minutes": [_new_bucket(key, rssi)],
        "hours": [],
        "days": [],
    }


def _origin(minute: int) -> int:
    return minute // ORIGIN_STEP_MINUTES * ORIGIN_STEP_DAYS


def _new_bucket(key: int, rssi: int | None) -> SignalBucket:
    return [key, 1] if rssi is None else [key, 1, rssi, rssi, rssi]


def _add_probe(bucket: SignalBucket, rssi: int | None) -> None:
    bucket[1] += 1
    if rssi is None:
        if len(bucket) == 5:
            bucket.append(1)
        elif len(bucket) == 6:
            bucket[5] += 1
    elif len(bucket) == 2:
        # Its first signal: all the probes before it had none.
        bucket += (rssi, rssi, rssi, bucket[1] - 1)
    else:
        bucket[2] += rssi
        if rssi < bucket[3]:
            bucket[3] = rssi
        elif rssi > bucket[4]:
            bucket[4] = rssi


def _new_in(row: DeviceActivity, key: int, newest: int) -> tuple[bool, bool, bool]:
    """Whether a probe older than the row's newest is the device's first in its minute, hour
    and day.

    Asked of the row before the probe goes in. Where the row no longer holds a span at its own
    resolution, the next coarser answer stands in (see Sighting); beyond a year, nothing is new.
    """
    hour, day = key // MINUTES_PER_HOUR, key // MINUTES_PER_DAY
    if day <= newest // MINUTES_PER_DAY - DEVICE_KEPT["day"]:
        return False, False, False
    if hour <= newest // MINUTES_PER_HOUR - DEVICE_KEPT["hour"]:
        new = not _saw(row, day * MINUTES_PER_DAY, MINUTES_PER_DAY)
        return new, new, new
    if key > newest - DEVICE_KEPT["minute"] and _saw(row, key, 1):
        return False, False, False
    if _saw(row, hour * MINUTES_PER_HOUR, MINUTES_PER_HOUR):
        return key > newest - DEVICE_KEPT["minute"], False, False
    if _saw(row, day * MINUTES_PER_DAY, MINUTES_PER_DAY):
        return True, True, False
    return True, True, True


def _saw(row: DeviceActivity, start: int, span: int) -> bool:
    """Whether the row holds a probe in minutes [start, start + span), an aligned minute, hour
    or day: the levels at least as fine as the span are looked at."""
    if _any_between(row["minutes"], start, start + span):
        return True
    if span >= MINUTES_PER_HOUR:
        hours = start // MINUTES_PER_HOUR, (start + span) // MINUTES_PER_HOUR
        if _any_between(row["hours"], *hours):
            return True
    if span >= MINUTES_PER_DAY:
        days = start // MINUTES_PER_DAY, (start + span) // MINUTES_PER_DAY
        return _any_between(row["days"], *days)
    return False


def _any_between(level: list[list[int]], low: int, high: int) -> bool:
    at = bisect_left(level, low, key=_KEY)
    return at < len(level) and level[at][0] < high


def _roll(row: DeviceActivity, newest: int, new_hour: bool = True, new_day: bool = True) -> None:
    """Make `newest` the row's newest minute: older minutes into hours, hours into days.

    Hours and days are looked at only when the newest hour or day changes, as only then can
    one of them have aged out: a row in the cache is cheap, one out of it is not.
    """
    oldest_minute = newest - DEVICE_KEPT["minute"] + 1
    oldest_hour = newest // MINUTES_PER_HOUR - DEVICE_KEPT["hour"] + 1
    oldest_day = newest // MINUTES_PER_DAY - DEVICE_KEPT["day"] + 1
    minutes, hours, days = row["minutes"], row["hours"], row["days"]
    if new_day and days and days[0][0] < oldest_day:
        del days[: _count_before(days, oldest_day)]
    if new_hour and hours and hours[0][0] < oldest_hour:
        rolled = _count_before(hours, oldest_hour)
        for bucket in hours[:rolled]:
            day = bucket[0] // 24
            if day >= oldest_day:
                _absorb(days, day, bucket)
        del hours[:rolled]
    if minutes[0][0] < oldest_minute:
        rolled = _count_before(minutes, oldest_minute)
        for bucket in minutes[:rolled]:
            hour = bucket[0] // MINUTES_PER_HOUR
            if hour >= oldest_hour:
                _absorb(hours, hour, bucket)
            elif hour // 24 >= oldest_day:
                _absorb(days, hour // 24, bucket)
        del minutes[:rolled]


def _count_before(level: list[list[int]], key: int) -> int:
    if not level or level[0][0] >= key:
        return 0
    return bisect_left(level, key, key=_KEY)


def _place_older(row: DeviceActivity, key: int, newest: int, rssi: int | None) -> None:
    """Put a probe older than the row's newest into the finest level that still holds its time."""
    if key > newest - DEVICE_KEPT["minute"]:
        level, at = row["minutes"], key
    elif key // MINUTES_PER_HOUR > newest // MINUTES_PER_HOUR - DEVICE_KEPT["hour"]:
        level, at = row["hours"], key // MINUTES_PER_HOUR
    elif key // MINUTES_PER_DAY > newest // MINUTES_PER_DAY - DEVICE_KEPT["day"]:
        level, at = row["days"], key // MINUTES_PER_DAY
    else:
        return
    index, found = _locate(level, at)
    if found:
        _add_probe(level[index], rssi)
    else:
        level.insert(index, _new_bucket(at, rssi))


def _locate(level: list[list[int]], key: int) -> tuple[int, bool]:
    """Where `key`'s bucket is (True) or would go (False); the newest end is tried first."""
    if not level or level[-1][0] < key:
        return len(level), False
    if level[-1][0] == key:
        return len(level) - 1, True
    at = bisect_left(level, key, key=_KEY)
    return at, level[at][0] == key


def _absorb(level: list[SignalBucket], key: int, bucket: SignalBucket) -> None:
    """Add a bucket's probes and signal to `level`'s bucket at `key`."""
    index, found = _locate(level, key)
    if not found:
        level.insert(index, [key, *bucket[1:]])
        return
    into = level[index]
    into[1:] = _pack(_combined(_unpack(into), _unpack(bucket)))


#: A bucket's probes, probes with a signal, their rssi sum, min and max.
_Stats = tuple[int, int, int, int, int]


def _unpack(bucket: SignalBucket) -> _Stats:
    if len(bucket) == 2:
        return bucket[1], 0, 0, 0, 0
    without = bucket[5] if len(bucket) == 6 else 0
    return bucket[1], bucket[1] - without, bucket[2], bucket[3], bucket[4]


def _combined(a: _Stats, b: _Stats) -> _Stats:
    if not b[1]:
        return a[0] + b[0], a[1], a[2], a[3], a[4]
    if not a[1]:
        return a[0] + b[0], b[1], b[2], b[3], b[4]
    return a[0] + b[0], a[1] + b[1], a[2] + b[2], min(a[3], b[3]), max(a[4], b[4])


def _pack(stats: _Stats) -> list[int]:
    """A bucket's values after its key, in the shortest of its three forms."""
    probes, samples, total, low, high = stats
    if not samples:
        return [probes]
    if samples == probes:
        return [probes, total, low, high]
    return [probes, total, low, high, probes - samples]


def _rebase_device(row: DeviceActivity, origin: int) -> None:
    shift = origin - row["origin"]
    row["origin"] = origin
    row["first"] -= shift * MINUTES_PER_DAY
    _shift(row["minutes"], shift * MINUTES_PER_DAY)
    _shift(row["hours"], shift * 24)
    _shift(row["days"], shift)


def _shift(level: list[list[int]], by: int) -> None:
    for bucket in level:
        bucket[0] -= by


# --- A device's answer ----------------------------------------------------------------------


def device_activity(row: DeviceActivity, now: float | None = None) -> dict[str, Any]:
    """`GET /devices/{mac}/activity` (without the MAC): three series, every bucket in order.

    The windows end at the later of `now` and the device's newest capture time: pass the newest
    capture time of the device's partition (`newest_ts`), so a device gone quiet shows empty
    minutes, and a replayed capture still shows its own last hour. A series starts no earlier
    than the device's first probe.
    """
    base = row["origin"] * MINUTES_PER_DAY
    newest = row["minutes"][-1][0] + base
    as_of_ts = newest * 60.0 if now is None or now < newest * 60.0 else now
    as_of = int(as_of_ts // 60)
    first = row["first"] + base
    minutes: dict[int, _Stats] = {}
    hours: dict[int, _Stats] = {}
    days: dict[int, _Stats] = {}
    for level, size in (
        (row["minutes"], 1),
        (row["hours"], MINUTES_PER_HOUR),
        (row["days"], MINUTES_PER_DAY),
    ):
        for bucket in level:
            start, stats = bucket[0] * size + base, _unpack(bucket)
            if size == 1:
                _gather(minutes, start, stats)
            if size <= MINUTES_PER_HOUR:
                _gather(hours, start // MINUTES_PER_HOUR, stats)
            _gather(days, start // MINUTES_PER_DAY, stats)
    return {
        "as_of": iso_utc(as_of_ts),
        "as_of_ts": as_of_ts,
        "minutes": _signal_series("minute", minutes, as_of, first),
        "hours": _signal_series("hour", hours, as_of, first),
        "days": _signal_series("day", days, as_of, first),
    }


def _gather(into: dict[int, _Stats], key: int, stats: _Stats) -> None:
    known = into.get(key)
    into[key] = stats if known is None else _combined(known, stats)


def _signal_series(
    resolution: Resolution, stats: dict[int, _Stats], as_of: int, first: int
) -> dict[str, Any]:
    size = MINUTES_PER[resolution]
    last = as_of // size
    start = max(last - DEVICE_KEPT[resolution] + 1, first // size)
    buckets = []
    for key in range(start, last + 1):
        probes, samples, total, low, high = stats.get(key, (0, 0, 0, 0, 0))
        buckets.append(
            {
                **_bucket_start(key, size),
                "probes": probes,
                "rssi_min_dbm": low if samples else None,
                "rssi_max_dbm": high if samples else None,
                "rssi_avg_dbm": round(total / samples, 1) if samples else None,
            }
        )
    return _series(resolution, start, last + 1, buckets)


def _bucket_start(key: int, size: int) -> dict[str, Any]:
    start_ts = key * size * 60
    return {"start": iso_utc(start_ts), "start_ts": start_ts}


def _series(resolution: Resolution, start: int, end: int, buckets: list[Any]) -> dict[str, Any]:
    """A series' frame: its step and [from, until), which its buckets fill one by one."""
    size = MINUTES_PER[resolution] * 60
    end = max(start, end)
    return {
        "resolution": resolution,
        "step_s": size,
        "from": iso_utc(start * size),
        "from_ts": start * size,
        "until": iso_utc(end * size),
        "until_ts": end * size,
        "buckets": buckets,
    }


# --- A partition's counters -----------------------------------------------------------------


def tally(counters: Counters | None, sighting: Sighting) -> Counters:
    """Count one probe in its partition's counters (in place when given them), as its device's
    fold saw it. O(1) amortised for probes in capture order."""
    minute, new_in_minute, new_in_hour, new_in_day, first_ever, replaces = sighting
    if counters is None:
        origin = _origin(minute)
        counters = {"origin": origin, "minutes": [], "hours": [], "days": []}
        newest = minute - origin * MINUTES_PER_DAY
    else:
        newest = counters["minutes"][-1][0]
    key = minute - counters["origin"] * MINUTES_PER_DAY
    if key >= ORIGIN_STEP_MINUTES:
        _rebase_counters(counters, _origin(minute))
        newest = counters["minutes"][-1][0]
        key = minute - counters["origin"] * MINUTES_PER_DAY
    if key > newest:
        newest = key
        for resolution, level in _count_levels(counters):
            size = MINUTES_PER[resolution]
            del level[: _count_before(level, newest // size - COUNTERS_KEPT[resolution] + 1)]
    if key > newest - _COUNTER_MINUTES:
        _count(counters["minutes"], key, new_in_minute, first_ever)
    hour = key // MINUTES_PER_HOUR
    if hour > newest // MINUTES_PER_HOUR - _COUNTER_HOURS:
        _count(counters["hours"], hour, new_in_hour, first_ever)
    day = key // MINUTES_PER_DAY
    if day > newest // MINUTES_PER_DAY - _COUNTER_DAYS:
        _count(counters["days"], day, new_in_day, first_ever)
    if replaces is not None:
        _uncount_new(counters, replaces - counters["origin"] * MINUTES_PER_DAY, newest)
    return counters


def _count_levels(counters: Counters) -> tuple[tuple[Resolution, list[CountBucket]], ...]:
    return (
        ("minute", counters["minutes"]),
        ("hour", counters["hours"]),
        ("day", counters["days"]),
    )


def _count(level: list[CountBucket], key: int, new_device: bool, first_ever: bool) -> None:
    if level and level[-1][0] == key:
        bucket = level[-1]
    else:
        index, found = _locate(level, key)
        if not found:
            level.insert(index, [key, 1, int(new_device), int(first_ever)])
            return
        bucket = level[index]
    bucket[1] += 1
    if new_device:
        bucket[2] += 1
    if first_ever:
        bucket[3] += 1


def _uncount_new(counters: Counters, key: int, newest: int) -> None:
    """A device counted as new in minute `key` turned out to be older: take that back."""
    for resolution, level in _count_levels(counters):
        size = MINUTES_PER[resolution]
        if key // size <= newest // size - COUNTERS_KEPT[resolution]:
            continue
        index, found = _locate(level, key // size)
        # A row made before its devices' rows (an upgrade) may not hold that count: never below 0.
        if found and level[index][3] > 0:
            level[index][3] -= 1


def _rebase_counters(counters: Counters, origin: int) -> None:
    shift = origin - counters["origin"]
    counters["origin"] = origin
    _shift(counters["minutes"], shift * MINUTES_PER_DAY)
    _shift(counters["hours"], shift * 24)
    _shift(counters["days"], shift)


def newest_ts(counters: Counters | None) -> float | None:
    """The start of the newest minute the counters hold: the deployment's (or a partition's)
    "now" in capture time, for `device_activity`."""
    if counters is None or not counters["minutes"]:
        return None
    return float((counters["minutes"][-1][0] + counters["origin"] * MINUTES_PER_DAY) * 60)


def merge_counters(rows: Iterable[Counters]) -> Counters | None:
    """The sum of partitions' counters (or of sums: merging is associative), None for none.

    The sum keeps only what every part still holds: the windows of the newest part. A part
    whose newest capture time is older had no probes since, so it knows all of those.
    """
    parts = [row for row in rows if row["minutes"]]
    if not parts:
        return None
    newest = max(row["minutes"][-1][0] + row["origin"] * MINUTES_PER_DAY for row in parts)
    origin = _origin(newest)
    merged: Counters = {"origin": origin, "minutes": [], "hours": [], "days": []}
    for resolution, into in _count_levels(merged):
        size = MINUTES_PER[resolution]
        oldest = newest // size - COUNTERS_KEPT[resolution] + 1
        sums: dict[int, list[int]] = {}
        for row in parts:
            offset = row["origin"] * MINUTES_PER_DAY // size
            for key, probes, devices, new in dict(_count_levels(row))[resolution]:
                if key + offset >= oldest:
                    total = sums.setdefault(key + offset, [0, 0, 0])
                    total[0] += probes
                    total[1] += devices
                    total[2] += new
        base = origin * MINUTES_PER_DAY // size
        into.extend([at - base, *sums[at]] for at in sorted(sums))
    return merged


# --- The deployment's answer ----------------------------------------------------------------


def parse_activity_query(params: Mapping[str, str]) -> ActivityQuery:
    """`GET /activity`'s `resolution`, `since` and `until`; BadParameter names the one at fault.

    Other parameters are left to the caller.
    """
    resolution = _RESOLUTIONS.get(params.get("resolution", "minute"))
    if resolution is None:
        raise BadParameter("resolution", "must be minute, hour or day")
    since = _moment(params, "since")
    until = _moment(params, "until")
    if since is not None and until is not None and since > until:
        raise BadParameter("since", "must not be after until")
    return ActivityQuery(resolution, since, until)


def parse_moment(text: str, parameter: str) -> float:
    """Epoch seconds or an ISO-8601 date or time (UTC unless it says otherwise), 1970 to 2100."""
    if len(text) > _MAX_MOMENT_CHARS:
        raise BadParameter(parameter, "is too long for a time")
    if _EPOCH_SECONDS.fullmatch(text):
        seconds = float(text)
    else:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise BadParameter(
                parameter, "must be epoch seconds or an ISO-8601 time, e.g. 2024-01-01T10:00:00Z"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp()
    if not MIN_TS <= seconds < MAX_TS:
        raise BadParameter(parameter, "must be between 1970 and 2100")
    return seconds


def _moment(params: Mapping[str, str], parameter: str) -> float | None:
    text = params.get(parameter)
    return None if text is None else parse_moment(text, parameter)


def deployment_activity(counters: Counters | None, query: ActivityQuery) -> dict[str, Any]:
    """`GET /activity` from the merged counters: every bucket of [from, until) in order.

    `until` defaults to the newest capture time; without `since`, the series is DEFAULT_SPAN
    buckets long, or starts at the first bucket with data. A series never reaches back past
    what the counters keep (24 hours of minutes, a week of hours, a year of days) nor holds more
    buckets than that; `from` says where it starts. With no data at all, the times are null.
    """
    resolution = query.resolution
    size = MINUTES_PER[resolution]
    if counters is None or not counters["minutes"]:
        nothing = dict.fromkeys(("from", "from_ts", "until", "until_ts", "newest", "newest_ts"))
        return {**_series(resolution, 0, 0, []), **nothing}
    level = dict(_count_levels(counters))[resolution]
    base = counters["origin"] * MINUTES_PER_DAY // size
    counts = {bucket[0] + base: bucket for bucket in level}
    newest_minute = counters["minutes"][-1][0] + counters["origin"] * MINUTES_PER_DAY
    newest = newest_minute // size
    last = newest if query.until is None else int(query.until // 60) // size
    kept = COUNTERS_KEPT[resolution]
    if query.since is None:
        start = max(last - DEFAULT_SPAN[resolution] + 1, min(counts, default=last))
    else:
        start = int(query.since // 60) // size
    start = max(start, last - kept + 1, newest - kept + 1)
    buckets = []
    for key in range(start, last + 1):
        bucket = counts.get(key)
        probes, devices, new = (0, 0, 0) if bucket is None else bucket[1:]
        buckets.append(
            {**_bucket_start(key, size), "probes": probes, "devices": devices, "new_devices": new}
        )
    newest_ts = newest_minute * 60
    return {
        **_series(resolution, start, last + 1, buckets),
        "newest": iso_utc(newest_ts),
        "newest_ts": newest_ts,
    }
