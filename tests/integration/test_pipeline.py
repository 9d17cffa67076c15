"""The whole pipeline on the real Kafka: capture → sniffer → faust table → GET /devices/<mac>."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

from tests.harness import BOOTSTRAP, Deployment, Worker, wait_for
from tests.pcaps import pcap_dir
from tests.tshark_truth import devices_by_tshark

CAPTURES = [
    "probe-request-project__position_1__sc6-61_2023-03-14_anonymized.pcap",  # 25k probes, radiotap
    "Wireless-Internet-Project_MAC-Randomization__Samsung__04_SamsungA53_01.pcapng",  # FCS, beacons
    "aircrack-ng__test__n-02.cap",  # plain 802.11, no signal
]


def _captures(*names: str) -> list[Path]:
    paths = [pcap_dir() / name for name in names]
    missing = [p for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"test captures not found (set PROBEWATCH_TEST_PCAPS): {missing[0]}")
    return paths


def _accepted(worker: Worker) -> int:
    return worker.counters().get("probes.accepted", 0)


def test_every_device_of_real_captures_is_served_as_tshark_counts_it(
    deployment: Deployment, worker: Worker
) -> None:
    captures = _captures(*CAPTURES)
    truth = devices_by_tshark(*captures)
    expected_probes = sum(d.count for d in truth.values())

    replay = deployment.sniffer("replay", "--no-progress", *map(str, captures))
    assert replay.returncode == 0, replay.stderr

    wait_for(lambda: _accepted(worker) >= expected_probes, 120, f"{expected_probes} probes folded")
    time.sleep(0.5)
    assert _accepted(worker) == expected_probes

    wrong = []
    for mac, device in truth.items():
        status, stats = worker.get(f"/devices/{mac.upper().replace(':', '-')}")
        if status != 200:
            wrong.append((mac, status, stats))
            continue
        got = (stats["probe_count"], stats["ssids"], stats["wildcard_probes"])
        want = (device.count, sorted(device.ssids), device.wildcard)
        times_ok = (
            abs(stats["first_seen_ts"] - device.first) < 1e-5
            and abs(stats["last_seen_ts"] - device.last) < 1e-5
        )
        if got != want or not times_ok or stats["unique_ssids"] != len(device.ssids):
            wrong.append((mac, got, want))
    assert not wrong, f"{len(wrong)} of {len(truth)} devices differ, e.g. {wrong[:3]}"


def test_unknown_and_malformed_macs(worker: Worker) -> None:
    status, body = worker.get("/devices/00:00:5e:00:53:01")
    assert status == 404 and "error" in body
    for garbage in ("not-a-mac", "zz:zz:zz:zz:zz:zz", "00:11:22:33:44"):
        status, body = worker.get(f"/devices/{garbage}")
        assert status == 400 and "not a MAC address" in body["error"]


def test_malformed_kafka_messages_are_counted_and_skipped(
    deployment: Deployment, worker: Worker
) -> None:
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "partitioner": "murmur2_random"})
    topic = f"{deployment.prefix}probes"
    mac = "f0:18:98:00:00:01"
    for value in (
        b"\x00\x01 not json",
        b"[1,2,3]",
        b'{"mac": "f0:18:98:00:00:01"}',
        b'{"ts": 1, "mac": "nope"}',
    ):
        producer.produce(topic, key=mac.encode(), value=value)
    producer.produce(
        topic,
        key=mac.encode(),
        value=b'{"ts": 1700000000.5, "mac": "f0:18:98:00:00:01", "ssid": "after"}',
    )
    assert producer.flush(30) == 0

    wait_for(lambda: _accepted(worker) >= 1, 60, "the good probe after the bad ones")
    counters = worker.counters()
    assert counters["probes.rejected.not_json"] == 1
    assert counters["probes.rejected.not_an_object"] == 1
    assert counters["probes.rejected.missing_field"] == 1
    assert counters["probes.rejected.bad_mac"] == 1
    status, stats = worker.get(f"/devices/{mac}")
    assert status == 200 and stats["probe_count"] == 1 and stats["ssids"] == ["after"]


def test_fuzzed_captures_are_survived_and_later_probes_still_counted(
    deployment: Deployment, worker: Worker
) -> None:
    fuzzed = _captures(
        "tcpdump__tests__radiotap-heapoverflow.pcap",
        "tcpdump__tests__ieee802.11_rates_oobr.pcap",
        "aircrack-ng__test__wpaclean_crash.pcap",
        "proberequest_data_analyse__probes-2013-03-17.pcap0",
    )
    replay = deployment.sniffer("replay", "--no-progress", *map(str, fuzzed))
    assert replay.returncode == 0, replay.stderr
    assert "malformed" in replay.stdout + replay.stderr
    truth = devices_by_tshark(fuzzed[-1])
    wait_for(lambda: _accepted(worker) >= sum(d.count for d in truth.values()), 60, "good probes")
    mac, device = next(iter(truth.items()))
    status, stats = worker.get(f"/devices/{mac}")
    assert status == 200 and stats["probe_count"] == device.count


def test_tshark_ek_frames_on_the_pcap_topic_are_counted(
    deployment: Deployment, worker: Worker
) -> None:
    producer = Producer({"bootstrap.servers": BOOTSTRAP})
    topic = f"{deployment.prefix}pcap"
    frames = [
        b'{"timestamp":"1595253600123","wlan_fc_type_subtype":["4"],"wlan_sa":["F0:18:98:00:00:02"],"wlan_ssid":["Home"],"wlan_radio_signal_dbm":["-67"]}',
        b'{"timestamp":"1595253601123","wlan_fc_type_subtype":["0x0004"],"wlan_sa":["f0:18:98:00:00:02"],"wlan_ssid":["576f726b"]}',
        b'{"timestamp":"1595253602123","wlan_fc_type_subtype":["0x0004"],"wlan_sa":["f0:18:98:00:00:02"],"wlan_ssid":["<MISSING>"]}',
        b'{"timestamp":"1595253603123","wlan_fc_type_subtype":["0x0008"],"wlan_sa":["f0:18:98:00:00:02"]}',
        b"garbage",
    ]
    for frame in frames:
        producer.produce(topic, value=frame)
    assert producer.flush(30) == 0

    wait_for(lambda: _accepted(worker) >= 3, 60, "the three probe requests of the tshark feed")
    status, stats = worker.get("/devices/f0:18:98:00:00:02")
    assert status == 200
    assert (stats["probe_count"], stats["ssids"], stats["wildcard_probes"]) == (
        3,
        ["Home", "Work"],
        1,
    )
    assert stats["first_seen"] == "2020-07-20T14:00:00.123Z" and stats["rssi_max_dbm"] == -67
    counters = worker.counters()
    assert counters["pcap.not_probe_request"] == 1 and counters["pcap.rejected.not_json"] == 1
