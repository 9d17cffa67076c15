"""History (`app.logic.activity`): hand-computed buckets at each resolution and their roll-over,
late and old probes, signal, the rows' JSON and bounds, and brute-force oracles over any order."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.logic.activity import (
    COUNTERS_KEPT,
    ActivityQuery,
    BadParameter,
    Counters,
    DeviceActivity,
    Sighting,
    ahead_of_clock,
    deployment_activity,
    device_activity,
    fold,
    merge_counters,
    newest_ts,
    parse_activity_query,
    tally,
)

#: 2024-01-01T00:00:00Z, a Monday.
T0 = 1_704_067_200.0
MINUTE, HOUR, DAY = 60, 3600, 86400


def at(day: int = 0, hour: int = 0, minute: int = 0, second: float = 0.0) -> float:
    return T0 + day * DAY + hour * HOUR + minute * MINUTE + second


def fold_all(probes: Iterable[tuple[float, int | None]]) -> DeviceActivity:
    row: DeviceActivity | None = None
    for ts, rssi in probes:
        row, _ = fold(row, ts, rssi)
    assert row is not None
    return row


def nonzero(series: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    """A series' buckets with probes, by start: probes, min, max, mean."""
    return {
        b["start"][:16]: (b["probes"], b["rssi_min_dbm"], b["rssi_max_dbm"], b["rssi_avg_dbm"])
        for b in series["buckets"]
        if b["probes"]
    }


# --- A device's row, by hand ----------------------------------------------------------------


def test_one_minute_holds_count_and_signal_at_every_resolution() -> None:
    row = fold_all([(at(0, 10, 0, 1), -70), (at(0, 10, 0, 30), -50), (at(0, 10, 0, 59), None)])
    answer = device_activity(row)
    expected = {"2024-01-01T10:00": (3, -70, -50, -60.0)}
    assert nonzero(answer["minutes"]) == expected
    assert nonzero(answer["hours"]) == expected
    assert nonzero(answer["days"]) == {"2024-01-01T00:00": (3, -70, -50, -60.0)}
    assert answer["as_of"] == "2024-01-01T10:00:00.000Z" and answer["as_of_ts"] == at(0, 10)
    assert row["minutes"] == [[row["minutes"][0][0], 3, -120, -70, -50, 1]], "one bucket"
    assert row["hours"] == [] and row["days"] == []


def test_bucket_times_are_iso_utc_and_epoch_seconds() -> None:
    minutes = device_activity(fold_all([(at(0, 10, 5, 7.5), -60)]))["minutes"]
    assert minutes["buckets"] == [
        {
            "start": "2024-01-01T10:05:00.000Z",
            "start_ts": int(at(0, 10, 5)),
            "probes": 1,
            "rssi_min_dbm": -60,
            "rssi_max_dbm": -60,
            "rssi_avg_dbm": -60.0,
        }
    ]
    assert (minutes["resolution"], minutes["step_s"]) == ("minute", 60)
    assert (minutes["from"], minutes["until"]) == (
        "2024-01-01T10:05:00.000Z",
        "2024-01-01T10:06:00.000Z",
    ), "a series starts at the device's first probe"


def test_minutes_older_than_an_hour_roll_into_their_hour() -> None:
    row = fold_all([(at(0, 10, 1), -80), (at(0, 10, 30), -60), (at(0, 11, 0), -70)])
    assert len(row["minutes"]) == 3, "10:01 to 11:00 are the last 60 minutes"
    row, _ = fold(row, at(0, 11, 5), -40)
    assert [b[1] for b in row["minutes"]] == [1, 1, 1] and len(row["hours"]) == 1
    answer = device_activity(row)
    assert nonzero(answer["minutes"]) == {
        "2024-01-01T10:30": (1, -60, -60, -60.0),
        "2024-01-01T11:00": (1, -70, -70, -70.0),
        "2024-01-01T11:05": (1, -40, -40, -40.0),
    }
    assert answer["minutes"]["from"] == "2024-01-01T10:06:00.000Z", "the last 60 minutes"
    assert len(answer["minutes"]["buckets"]) == 60
    assert nonzero(answer["hours"]) == {
        "2024-01-01T10:00": (2, -80, -60, -70.0),
        "2024-01-01T11:00": (2, -70, -40, -55.0),
    }
    assert nonzero(answer["days"]) == {"2024-01-01T00:00": (4, -80, -40, -62.5)}


def test_hours_older_than_a_week_roll_into_their_day() -> None:
    row = fold_all([(at(0, 10), -80), (at(0, 20), -60), (at(7, 9), -70)])
    assert len(row["hours"]) == 2 and row["days"] == [], "day 0 10:00 is 167 hours before"
    row, _ = fold(row, at(7, 11), -50)
    assert len(row["days"]) == 1 and len(row["hours"]) == 2  # day 0 10:00; 20:00, day 7 9:00
    answer = device_activity(row)
    assert nonzero(answer["hours"]) == {
        "2024-01-01T20:00": (1, -60, -60, -60.0),
        "2024-01-08T09:00": (1, -70, -70, -70.0),
        "2024-01-08T11:00": (1, -50, -50, -50.0),
    }
    assert answer["hours"]["from"] == "2024-01-01T12:00:00.000Z", "the last 168 hours"
    assert nonzero(answer["days"]) == {
        "2024-01-01T00:00": (2, -80, -60, -70.0),
        "2024-01-08T00:00": (2, -70, -50, -60.0),
    }
    assert len(answer["days"]["buckets"]) == 8, "every day from the first one, zeros included"


def test_days_are_kept_for_a_year() -> None:
    row = fold_all([(at(0), -80), (at(1), -70), (at(365), -60)])
    days = nonzero(device_activity(row)["days"])
    assert list(days) == ["2024-01-02T00:00", "2024-12-31T00:00"], "2024 has 366 days"
    assert len(device_activity(row)["days"]["buckets"]) == 365
    assert row["days"][0][1:] == [1, -70, -70, -70]


def test_a_probe_a_long_way_ahead_moves_everything_down_at_once() -> None:
    row = fold_all([(at(0, 10, m), -60) for m in range(0, 60, 10)])
    row, _ = fold(row, at(3), -50)
    assert [b[1] for b in row["minutes"]] == [1] and [b[1] for b in row["hours"]] == [6]
    row, _ = fold(row, at(30), -50)
    assert row["hours"] == [] and [b[1] for b in row["days"]] == [6, 1]


def test_old_probes_land_in_the_finest_bucket_their_age_allows() -> None:
    row = fold_all([(at(10, 12), -60)])
    row, _ = fold(row, at(10, 11, 30), -61)  # 30 minutes before: a minute
    row, _ = fold(row, at(10, 10, 30), -62)  # 90 minutes before: an hour
    row, _ = fold(row, at(5, 10, 30), -63)  # 5 days before: still an hour
    row, _ = fold(row, at(2, 10, 30), -64)  # 8 days before: a day
    row, _ = fold(row, at(10 - 400), -65)  # more than a year before: not kept
    assert [b[1:] for b in row["minutes"]] == [[1, -61, -61, -61], [1, -60, -60, -60]]
    assert [b[1:] for b in row["hours"]] == [[1, -63, -63, -63], [1, -62, -62, -62]]
    assert [b[1:] for b in row["days"]] == [[1, -64, -64, -64]]
    answer = device_activity(row)
    assert sum(b["probes"] for b in answer["days"]["buckets"]) == 5
    assert answer["days"]["from_ts"] == int(at(10 - 364)), "the oldest probe is not kept"
    assert nonzero(answer["hours"])["2024-01-11T10:00"] == (1, -62, -62, -62.0)


def test_signal_counts_only_probes_that_carry_one() -> None:
    row = fold_all([(at(0, 10, 0), None), (at(0, 10, 0, 5), None)])
    assert row["minutes"][0][1:] == [2], "no signal: just the count"
    minutes = device_activity(row)["minutes"]["buckets"]
    assert minutes[0]["probes"] == 2 and minutes[0]["rssi_avg_dbm"] is None
    row, _ = fold(row, at(0, 10, 0, 9), -71)
    row, _ = fold(row, at(0, 10, 0, 9), -70)
    assert row["minutes"][0][1:] == [4, -141, -71, -70, 2], "sum, min, max, probes without"
    assert nonzero(device_activity(row)["minutes"]) == {"2024-01-01T10:00": (4, -71, -70, -70.5)}
    row, _ = fold(row, at(0, 12), None)  # 10:00 rolls into its hour with its mixed signal
    assert row["hours"][0][1:] == [4, -141, -71, -70, 2]
    assert nonzero(device_activity(row)["hours"])["2024-01-01T10:00"] == (4, -71, -70, -70.5)


def test_answer_windows_end_at_the_later_of_now_and_the_newest_probe() -> None:
    row = fold_all([(at(0, 10, 0), -60), (at(0, 10, 20), -60)])
    later = device_activity(row, now=at(0, 13, 0, 30))
    assert later["as_of_ts"] == at(0, 13, 0, 30)
    assert later["minutes"]["until"] == "2024-01-01T13:01:00.000Z"
    assert nonzero(later["minutes"]) == {}, "a device gone quiet has no minutes"
    assert sum(b["probes"] for b in later["minutes"]["buckets"]) == 0
    assert len(later["minutes"]["buckets"]) == 60
    assert nonzero(later["hours"]) == {"2024-01-01T10:00": (2, -60, -60, -60.0)}
    earlier = device_activity(row, now=at(0, 9))
    assert earlier == device_activity(row), "never before the newest probe: the row holds less"


def test_a_row_crossing_its_origin_period_is_rekeyed_and_means_the_same() -> None:
    probes = [(at(d, h), -60 - h) for d in range(5, 40) for h in (3, 15)]
    assert fold_all(probes[:2])["origin"] < fold_all(probes)["origin"], "T0 + 21 days crosses"
    row = fold_all(probes)
    assert row["origin"] % 32 == 0
    reference = fold_all(sorted(probes, reverse=True))
    assert row == reference
    assert device_activity(row) == device_activity(reference)


# --- What a device's fold reports ----------------------------------------------------------


def sightings(probes: Iterable[float]) -> list[Sighting]:
    row: DeviceActivity | None = None
    out = []
    for ts in probes:
        row, seen = fold(row, ts, -60)
        out.append(seen)
    return out


def test_first_probe_in_its_minute_hour_and_day() -> None:
    seen = sightings([at(0, 10, 0), at(0, 10, 0, 30), at(0, 10, 1), at(0, 11, 0), at(1, 0, 0)])
    assert [s[1:4] for s in seen] == [
        (True, True, True),
        (False, False, False),
        (True, False, False),
        (True, True, False),
        (True, True, True),
    ]
    assert [s.first_ever for s in seen] == [True, False, False, False, False]
    assert seen[2].minute == int(at(0, 10, 1)) // 60


def test_an_earlier_probe_moves_the_first_sighting() -> None:
    seen = sightings([at(0, 10, 5), at(0, 9, 50), at(0, 9, 55), at(0, 9, 40)])
    assert [(s.first_ever, s.replaces) for s in seen] == [
        (True, None),
        (True, int(at(0, 10, 5)) // 60),
        (False, None),
        (True, int(at(0, 9, 50)) // 60),
    ]


def test_late_probes_count_in_their_minute_only_when_new_in_their_hour() -> None:
    base = [at(0, 10, 0), at(0, 13, 0)]
    late_in_seen_hour = sightings([*base, at(0, 10, 30)])[-1]
    assert late_in_seen_hour[1:4] == (False, False, False), "hour 10 had a probe: not counted"
    late_in_new_hour = sightings([*base, at(0, 11, 30)])[-1]
    assert late_in_new_hour[1:4] == (True, True, False)
    older_than_a_week = sightings([at(8, 12), at(0, 10), at(0, 11)])
    assert [s[1:4] for s in older_than_a_week[1:]] == [(True, True, True), (False, False, False)]
    assert sightings([at(400), at(0)])[-1][1:4] == (False, False, False), "not kept at all"


def test_replaying_a_capture_again_adds_probes_but_no_devices() -> None:
    capture = [at(0, h, m) for h in range(9, 13) for m in range(0, 60, 7)]
    again = sightings(capture + capture)[len(capture) :]
    assert not any(s.new_in_minute or s.new_in_hour or s.new_in_day for s in again)
    assert not any(s.first_ever for s in again)


# --- Rows as JSON, and their bounds --------------------------------------------------------


def test_row_survives_json_and_folds_on_the_same() -> None:
    probes = [(at(0, h, m, 3), -50 - m % 20) for h in range(0, 30, 3) for m in range(0, 60, 13)]
    row = fold_all(probes[:20])
    decoded = orjson.loads(orjson.dumps(row))
    assert decoded == row
    for ts, rssi in probes[20:]:
        row, _ = fold(row, ts, rssi)
        decoded, _ = fold(decoded, ts, rssi)
    assert decoded == row == fold_all(probes)


def test_rows_stay_bounded_however_long_and_busy_the_device() -> None:
    # Every hour for two years at the extremes of the signal range, then every minute for a day.
    probes: list[tuple[float, int | None]] = [
        (at(0) + i * HOUR, (-128, 127, None)[i % 3]) for i in range(2 * 366 * 24)
    ]
    probes += [(at(2 * 366) + i * MINUTE + s, -128) for i in range(1440) for s in (0, 30)]
    row = fold_all(probes)
    assert (len(row["minutes"]), len(row["hours"]), len(row["days"])) == (60, 168 - 1, 365 - 7)
    assert len(orjson.dumps(row)) < 20_000
    counters: Counters | None = None
    for seen in sightings(ts for ts, _ in probes):
        counters = tally(counters, seen)
    assert counters is not None
    assert (len(counters["minutes"]), len(counters["hours"]), len(counters["days"])) == (
        1440,
        168,
        365,
    )
    assert len(orjson.dumps(counters)) < 40_000


def test_history_keeps_out_capture_times_far_ahead_of_the_clock() -> None:
    assert not ahead_of_clock(at(1), clock=at(0))
    assert ahead_of_clock(at(1, 0, 0, 1), clock=at(0))


# --- Brute force, any order ----------------------------------------------------------------

#: Up to 40 probes of one device over up to 14 months, with clusters within minutes.
PROBES = st.lists(
    st.tuples(
        st.one_of(
            st.floats(0, 14 * 30 * DAY),
            st.floats(3 * DAY, 3 * DAY + 3 * HOUR),
            st.floats(3 * DAY + HOUR, 3 * DAY + HOUR + 150),
        ).map(lambda offset: T0 + offset),
        st.one_of(st.none(), st.integers(-128, 127)),
    ),
    min_size=1,
    max_size=40,
)


def brute_force(
    probes: list[tuple[float, int | None]], start: int, size_s: int, buckets: int
) -> dict[int, tuple[int, int | None, int | None, float | None]]:
    by_bucket: dict[int, list[int | None]] = defaultdict(list)
    for ts, rssi in probes:
        key = int(ts // size_s) * size_s
        if start <= key < start + buckets * size_s:
            by_bucket[key].append(rssi)
    out = {}
    for key, values in by_bucket.items():
        signal = [v for v in values if v is not None]
        mean = round(sum(signal) / len(signal), 1) if signal else None
        out[key] = (len(values), min(signal, default=None), max(signal, default=None), mean)
    return out


@settings(max_examples=300, deadline=None)
@given(PROBES, st.randoms(use_true_random=False), st.floats(0, 3 * DAY))
def test_device_answer_is_brute_force_over_the_probes_in_any_order(
    probes: list[tuple[float, int | None]], shuffle: random.Random, later: float
) -> None:
    row = fold_all(probes)
    shuffled = probes[:]
    shuffle.shuffle(shuffled)
    assert fold_all(shuffled) == row, "the same probes in any order make the same row"
    newest = max(ts for ts, _ in probes)
    answer = device_activity(row, now=newest + later)
    for name, size_s, kept in (("minutes", 60, 60), ("hours", 3600, 168), ("days", 86400, 365)):
        series = answer[name]
        start, count = series["from_ts"], len(series["buckets"])
        last = int((newest + later) // size_s) * size_s
        first = int(min(ts for ts, _ in probes) // size_s) * size_s
        assert start == max(first, last - (kept - 1) * size_s) and count <= kept
        assert series["until_ts"] == last + size_s == start + count * size_s
        got = {
            b["start_ts"]: (b["probes"], b["rssi_min_dbm"], b["rssi_max_dbm"], b["rssi_avg_dbm"])
            for b in series["buckets"]
            if b["probes"]
        }
        assert got == brute_force(probes, start, size_s, count), name


DEVICES = st.lists(PROBES, min_size=1, max_size=6)


def fold_partition(
    devices: list[list[tuple[float, int | None]]], shuffle: random.Random | None = None
) -> Counters:
    stream = [(mac, ts, rssi) for mac, probes in enumerate(devices) for ts, rssi in probes]
    if shuffle is not None:
        shuffle.shuffle(stream)
    rows: dict[int, DeviceActivity] = {}
    counters: Counters | None = None
    for mac, ts, rssi in stream:
        rows[mac], seen = fold(rows.get(mac), ts, rssi)
        counters = tally(counters, seen)
    assert counters is not None
    return counters


def expected_counts(
    devices: list[list[tuple[float, int | None]]], resolution: str, newest: int
) -> dict[int, tuple[int, int, int]]:
    """Probes, distinct devices and devices first seen per bucket, over the counters' window."""
    size = {"minute": 60, "hour": 3600, "day": 86400}[resolution]
    oldest = (newest // size - COUNTERS_KEPT[resolution] + 1) * size
    probes: dict[int, int] = defaultdict(int)
    seen: dict[int, set[int]] = defaultdict(set)
    new: dict[int, int] = defaultdict(int)
    for mac, device in enumerate(devices):
        for ts, _ in device:
            probes[int(ts // size) * size] += 1
            seen[int(ts // size) * size].add(mac)
        new[int(min(ts for ts, _ in device) // size) * size] += 1
    return {k: (probes[k], len(seen[k]), new[k]) for k in probes if k >= oldest}


def counted(counters: Counters, resolution: str) -> dict[int, tuple[int, int, int]]:
    answer = deployment_activity(
        counters,
        ActivityQuery(resolution, since=0.0),  # type: ignore[arg-type]
    )
    return {
        b["start_ts"]: (b["probes"], b["devices"], b["new_devices"])
        for b in answer["buckets"]
        if b["probes"] or b["new_devices"]
    }


@settings(max_examples=100, deadline=None)
@given(DEVICES, st.randoms(use_true_random=False))
def test_partition_counters_are_brute_force_over_the_probes_in_any_order(
    devices: list[list[tuple[float, int | None]]], shuffle: random.Random
) -> None:
    counters = fold_partition(devices)
    again = fold_partition(devices, shuffle)
    newest = int(max(ts for device in devices for ts, _ in device))
    for resolution in ("hour", "day"):
        expected = expected_counts(devices, resolution, newest)
        assert counted(counters, resolution) == counted(again, resolution) == expected
    expected = expected_counts(devices, "minute", newest)
    for got in (counted(counters, "minute"), counted(again, "minute")):
        assert got.keys() == expected.keys()
        for key, (probes, devices_seen, new) in got.items():
            assert (probes, new) == (expected[key][0], expected[key][2])
            assert devices_seen <= expected[key][1], "a late probe never counts a device twice"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 4 * DAY), st.lists(st.floats(0, 59 * MINUTE), max_size=8)),
        min_size=1,
        max_size=6,
    ),
    st.randoms(use_true_random=False),
)
def test_devices_per_minute_are_exact_when_no_probe_is_an_hour_late(
    spans: list[tuple[float, list[float]]], shuffle: random.Random
) -> None:
    devices = [
        [(T0 + s, None) for s in (start, *(start + o for o in offsets))] for start, offsets in spans
    ]
    newest = int(max(ts for device in devices for ts, _ in device))
    expected = expected_counts(devices, "minute", newest)
    assert counted(fold_partition(devices, shuffle), "minute") == expected


# --- Partition counters, by hand, and their sum --------------------------------------------


def partition(*probes: tuple[str, float]) -> Counters:
    rows: dict[str, DeviceActivity] = {}
    counters: Counters | None = None
    for mac, ts in probes:
        rows[mac], seen = fold(rows.get(mac), ts, -60)
        counters = tally(counters, seen)
    assert counters is not None
    return counters


def buckets(counters: Counters | None, **query: Any) -> list[tuple[str, int, int, int]]:
    answer = deployment_activity(counters, ActivityQuery(**query))
    return [
        (b["start"][:16], b["probes"], b["devices"], b["new_devices"]) for b in answer["buckets"]
    ]


def test_probes_devices_and_new_devices_per_minute() -> None:
    counters = partition(
        ("a", at(0, 10, 0)),
        ("a", at(0, 10, 0, 20)),
        ("b", at(0, 10, 0, 40)),
        ("a", at(0, 10, 1)),
        ("c", at(0, 10, 3)),
        ("b", at(0, 10, 3, 1)),
    )
    assert buckets(counters) == [
        ("2024-01-01T10:00", 3, 2, 2),
        ("2024-01-01T10:01", 1, 1, 0),
        ("2024-01-01T10:02", 0, 0, 0),
        ("2024-01-01T10:03", 2, 2, 1),
    ]
    assert buckets(counters, resolution="hour") == [("2024-01-01T10:00", 6, 3, 3)]
    assert buckets(counters, resolution="day") == [("2024-01-01T00:00", 6, 3, 3)]
    assert newest_ts(counters) == at(0, 10, 3)


def test_a_device_seen_earlier_than_thought_is_new_in_its_earlier_minute() -> None:
    counters = partition(("a", at(0, 10, 5)), ("b", at(0, 10, 5)), ("a", at(0, 9, 50)))
    minutes = [b for b in buckets(counters, since=at(0, 9, 50)) if b[1]]
    assert minutes == [("2024-01-01T09:50", 1, 1, 1), ("2024-01-01T10:05", 2, 2, 1)]
    assert buckets(counters, resolution="hour") == [
        ("2024-01-01T09:00", 1, 1, 1),
        ("2024-01-01T10:00", 2, 2, 1),
    ]


def test_counters_keep_a_day_of_minutes_a_week_of_hours_a_year_of_days() -> None:
    counters = partition(("a", at(0, 10)), ("a", at(1, 10)), ("a", at(1, 10, 1)))
    minutes = buckets(counters, since=at(0))
    assert len(minutes) == 1440 and minutes[0][0] == "2024-01-01T10:02", "24 hours of minutes"
    assert [b for b in minutes if b[1]] == [
        ("2024-01-02T10:00", 1, 1, 0),
        ("2024-01-02T10:01", 1, 1, 0),
    ]
    hours = [b for b in buckets(counters, resolution="hour") if b[1]]
    assert hours == [("2024-01-01T10:00", 1, 1, 1), ("2024-01-02T10:00", 2, 1, 0)]
    later = partition(("a", at(0, 10)), ("a", at(7, 9)), ("a", at(7, 11)))
    assert [b for b in buckets(later, resolution="hour", since=at(0)) if b[1]] == [
        ("2024-01-08T09:00", 1, 1, 0),
        ("2024-01-08T11:00", 1, 1, 0),
    ], "day 0 10:00 is 169 hours before the newest"
    assert [b for b in buckets(later, resolution="day") if b[1]] == [
        ("2024-01-01T00:00", 1, 1, 1),
        ("2024-01-08T00:00", 2, 1, 0),
    ]


def test_partitions_add_up_over_what_all_of_them_still_hold() -> None:
    one = partition(("a", at(0, 10, 45)), ("a", at(1, 11, 0)))
    two = partition(("b", at(0, 10, 45)), ("c", at(1, 10, 30)))
    assert next(b for b in buckets(two, since=at(0)) if b[1]) == ("2024-01-01T10:45", 1, 1, 1)
    merged = merge_counters([one, two])
    assert merged is not None
    assert [b for b in buckets(merged, since=at(0)) if b[1]] == [
        ("2024-01-02T10:30", 1, 1, 1),
        ("2024-01-02T11:00", 1, 1, 0),
    ], "10:45 on day 0 is more than 24 hours before the newest minute of all: one lost it"
    assert [b for b in buckets(merged, resolution="hour", since=at(0)) if b[1]] == [
        ("2024-01-01T10:00", 2, 2, 2),
        ("2024-01-02T10:00", 1, 1, 1),
        ("2024-01-02T11:00", 1, 1, 0),
    ]
    assert newest_ts(merged) == at(1, 11)
    assert len(merged["minutes"]) == 2, "the sum holds no more than an answer can show"
    assert merge_counters([one]) == one
    assert merge_counters([]) is None
    assert merge_counters([merge_counters([one, two]) or one, one]) == merge_counters(
        [one, two, one]
    )


def test_answer_without_data_is_empty() -> None:
    answer = deployment_activity(None, ActivityQuery("hour"))
    assert answer["buckets"] == [] and answer["step_s"] == 3600
    assert answer["from"] is answer["until_ts"] is answer["newest"] is None


def test_answer_spans_default_and_asked_and_never_beyond_what_is_kept() -> None:
    counters = partition(*(("a", at(0, 8, m, 1)) for m in range(0, 180, 2)))
    default = deployment_activity(counters, ActivityQuery())
    assert len(default["buckets"]) == 60 and default["from"] == "2024-01-01T09:59:00.000Z"
    assert default["until"] == "2024-01-01T10:59:00.000Z", "[from, until), until the newest"
    assert default["newest"] == "2024-01-01T10:58:00.000Z"
    young = deployment_activity(
        partition(("a", at(0, 10, 0)), ("a", at(0, 10, 5))), ActivityQuery()
    )
    assert len(young["buckets"]) == 6, "without since: no earlier than the first data"
    asked = deployment_activity(counters, ActivityQuery(since=at(0, 9), until=at(0, 9, 2, 59)))
    assert [b["probes"] for b in asked["buckets"]] == [1, 0, 1]
    ahead = deployment_activity(counters, ActivityQuery("minute", since=0.0, until=at(9)))
    assert len(ahead["buckets"]) == 1440 and not any(b["probes"] for b in ahead["buckets"])
    assert deployment_activity(counters, ActivityQuery("day", until=at(-1)))["buckets"] == []


# --- Query parameters ----------------------------------------------------------------------


def test_query_parameters_are_parsed() -> None:
    assert parse_activity_query({}) == ActivityQuery("minute", None, None)
    query = parse_activity_query(
        {"resolution": "hour", "since": "1704067200", "until": "2024-01-02T00:00:00Z"}
    )
    assert query == ActivityQuery("hour", T0, at(1))
    assert parse_activity_query({"since": "2024-01-01"}).since == T0, "a date is midnight UTC"
    assert parse_activity_query({"since": "2024-01-01T01:00:00+01:00"}).since == T0
    assert parse_activity_query({"until": "1704067200.25"}).until == T0 + 0.25
    assert parse_activity_query({"since": "5", "until": "5", "other": "x"}).since == 5.0
    assert datetime.fromtimestamp(parse_activity_query({"since": "0"}).since or 0, UTC).year == 1970


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"resolution": "second"}, "resolution"),
        ({"resolution": ""}, "resolution"),
        ({"since": ""}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"since": "nan"}, "since"),
        ({"since": "inf"}, "since"),
        ({"since": "1e9"}, "since"),
        ({"since": "-1"}, "since"),
        ({"since": " 1704067200"}, "since"),
        ({"until": "1_704_067_200"}, "until"),
        ({"until": "4102444800"}, "until"),
        ({"until": "2100-01-01T00:00:00Z"}, "until"),
        ({"until": "99999999999999999999"}, "until"),
        ({"until": "1969-12-31T23:59:59Z"}, "until"),
        ({"until": "2024-01-01T00:00:00" + "0" * 100}, "until"),
        ({"since": "2024-01-02", "until": "2024-01-01"}, "since"),
    ],
)
def test_bad_query_parameters_name_themselves(params: dict[str, str], parameter: str) -> None:
    with pytest.raises(BadParameter) as raised:
        parse_activity_query(params)
    assert raised.value.parameter == parameter
    assert str(raised.value).startswith(f"{parameter}: ")
    assert isinstance(raised.value, ValueError)
