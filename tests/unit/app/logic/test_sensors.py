"""Sensor tallies (`app.logic.sensors`): heard, added up over partitions, served."""

from __future__ import annotations

from app.logic.sensors import hear, merge_sensors, sensors_json

T0 = 1_796_083_200.0


def test_a_tally_counts_probes_and_keeps_the_newest_time_whatever_the_order() -> None:
    tally = None
    for sensor, ts in (("hall", T0 + 5), ("hall", T0 + 1), ("yard", T0 + 2), ("hall", T0 + 3)):
        tally = hear(tally, sensor, ts)
    assert tally == {"hall": [3, T0 + 5], "yard": [1, T0 + 2]}


def test_partitions_add_up() -> None:
    one = {"hall": [3, T0 + 5], "yard": [1, T0 + 2]}
    two = {"hall": [4, T0 + 1], "": [2, T0 + 9]}
    merged = merge_sensors([one, two])
    assert merged == {"hall": [7, T0 + 5], "yard": [1, T0 + 2], "": [2, T0 + 9]}
    assert one == {"hall": [3, T0 + 5], "yard": [1, T0 + 2]}, "the inputs are left as they were"


def test_served_last_heard_first_with_devices_and_sensors_known_only_from_devices() -> None:
    served = sensors_json(
        {"hall": [7, T0 + 5], "yard": [1, T0 + 2], "": [2, T0 + 9]},
        {"hall": 4, "yard": 1, "": 2, "roof": 3},
    )
    assert [(s["sensor"], s["probes"], s["devices"]) for s in served] == [
        ("", 2, 2),
        ("hall", 7, 4),
        ("yard", 1, 1),
        ("roof", None, 3),
    ]
    assert served[1]["last_probe"] == "2026-12-01T00:00:05.000Z"
    assert served[3]["last_probe"] is None and served[3]["last_probe_ts"] is None
