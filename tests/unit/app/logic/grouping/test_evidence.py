"""The evidence functions (`app.logic.grouping.evidence`), each alone."""

from __future__ import annotations

import pytest

from app.logic.grouping.evidence import (
    add_ssids,
    as_history,
    continues_sequence,
    radio,
    remember_peaks,
    rssi_distance,
    scan_signal,
    sensor_of,
    seq_step,
    sequence_habit,
    shared_ssids,
)


def test_sequence_steps_wrap_at_4096() -> None:
    assert seq_step(4090, 5) == 11
    assert seq_step(100, 101) == 1
    assert seq_step(100, 100) == 0
    assert seq_step(101, 100) == 4095
    assert seq_step(None, 3) is None
    assert seq_step(3, None) is None


@pytest.mark.parametrize(
    ("step", "continues"), [(None, False), (0, False), (1, True), (64, True), (65, False)]
)
def test_a_counter_continues_by_one_to_the_window(step: int | None, continues: bool) -> None:
    assert continues_sequence(step, 64) is continues


def test_a_habit_needs_enough_changes_and_the_upper_hand() -> None:
    assert sequence_habit(0, 0, 2) == "unknown"
    assert sequence_habit(1, 0, 2) == "unknown"
    assert sequence_habit(2, 0, 2) == "keeps"
    assert sequence_habit(2, 2, 2) == "keeps"
    assert sequence_habit(1, 2, 2) == "resets"
    assert sequence_habit(3, 40, 2) == "resets"


def test_a_radio_is_a_sensor_on_a_channel() -> None:
    assert radio("hall", 2437) == "hall@2437"
    assert radio("hall", None) == "hall@"
    assert sensor_of("hall@2437") == "hall"
    assert sensor_of(radio("hall", None)) == "hall"
    assert sensor_of(radio("a@b", 2412)) == "a@b"
    assert sensor_of(radio("a@b", None)) == "a@b"


def measured(mine: dict[str, list[int]], theirs: dict[str, list[int]]) -> float | None:
    distance = rssi_distance(mine, theirs)
    return None if distance is None else distance.measured


def test_signals_are_compared_radio_by_radio_then_by_sensor() -> None:
    group = {"s@2412": [-50, -52, -48], "s@2437": [-60]}
    assert measured({"s@2412": [-55]}, group) == 5
    # Channel 11 heard nothing of the group: the other radios of the sensor stand in.
    assert measured({"s@2462": [-54]}, group) == 3  # median of -50, -52, -48, -60
    assert measured({"s@2412": [-50], "s@2437": [-70]}, group) == 5
    # Another sensor's signal says nothing about this one's.
    assert measured({"t@2412": [-50]}, group) is None
    assert measured({"s@": [-50]}, group) == 1  # a sensor that names no channel
    assert measured({}, group) is None


def test_where_another_radio_stands_in_the_radios_gains_may_differ_by_the_spread() -> None:
    group = {"s@2412": [-50, -52, -48], "s@2437": [-60]}
    # Heard on a radio the group was heard on: the whole distance counts.
    assert rssi_distance({"s@2412": [-65]}, group, radio_spread_db=6) == (15, 15)
    # On channel 11, compared with the others (median -51): 14 dB, of which 6 may be gain.
    assert rssi_distance({"s@2462": [-65]}, group, radio_spread_db=6) == (14, 8)
    assert rssi_distance({"s@2462": [-53]}, group, radio_spread_db=6) == (2, 0)  # never below 0
    # Averaged over the radios, each judged as it was compared.
    assert rssi_distance({"s@2412": [-65], "s@2462": [-65]}, group, 6) == (14.5, 11.5)


def test_a_mac_is_compared_on_the_radio_that_heard_it_strongest() -> None:
    # Heard on channel 6 at -30, and 24 dB weaker by the radio on channel 11: left out.
    assert as_history({"s@2437": -30, "s@2462": -54, "t@2412": -70}) == {
        "s@2437": [-30],
        "t@2412": [-70],
    }


def test_a_scan_is_the_median_of_its_macs_and_histories_are_bounded() -> None:
    assert scan_signal({"s@2412": [-50, -60, -52], "s@2437": []}) == {"s@2412": [-52]}
    kept: dict[str, list[int]] = {"s": [-1, -2]}
    remember_peaks(kept, {"s": [-3, -4], "t": [-5]}, 3)
    assert kept == {"s": [-2, -3, -4], "t": [-5]}


def test_ssids_shared_and_kept() -> None:
    assert shared_ssids(["home", "work"], ["cafe", "home"]) == ("home",)
    assert shared_ssids([], ["home"]) == ()
    kept = ["home"]
    add_ssids(kept, ["home", "", "work", "gym", "cafe"], 3)
    assert kept == ["home", "work", "gym"]
