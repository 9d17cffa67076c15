"""The whole pipeline on the real Kafka: capture → sniffer → faust table → GET /devices/<mac>.

One worker serves the whole module; each test produces its own devices and compares counters by
how much they grew.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from confluent_kafka import Producer

from tests.harness import BOOTSTRAP, Deployment, Worker, wait_for
from tests.kafka_io import produce_markers
from tests.pcaps import captures
from tests.tshark import DeviceTruth, devices_by_tshark, tshark_frame_count

CAPTURES = [
    "probe-request-project__position_1__sc6-61_2023-03-14_anonymized.pcap",  # 25k probes, radiotap
    "Wireless-Internet-Project_MAC-Randomization__Samsung__04_SamsungA53_01.pcapng",  # FCS, beacons
    "aircrack-ng__test__n-02.cap",  # plain 802.11, no signal
]
FUZZED = [
    "tcpdump__tests__radiotap-heapoverflow.pcap",
    "tcpdump__tests__ieee802.11_rates_oobr.pcap",
    "aircrack-ng__test__wpaclean_crash.pcap",
]
GOOD_AFTER_FUZZ = "proberequest_data_analyse__probes-2013-03-17.pcap0"
MARKER_TS = 1_790_000_000.0


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return Deployment(data_dir=tmp_path_factory.mktemp("pipeline"))


@pytest.fixture(scope="module")
def worker(deployment: Deployment) -> Iterator[Worker]:
    with Worker(deployment) as started:
        yield started


def _accepted(worker: Worker) -> int:
    return worker.counters().get("probes.accepted", 0)


def _summary(out: str) -> dict[str, int]:
    """The sniffer's summary, each line's label and its first number."""
    found = {}
    for line in out.splitlines():
        label, colon, rest = line.partition(":")
        words = rest.split()
        if colon and words and words[0].replace(",", "").isdigit():
            found[label.strip()] = int(words[0].replace(",", ""))
    return found


def _read_to_markers(
    deployment: Deployment, worker: Worker, accepted_before: int, more: int
) -> int:
    """Wait until every partition is read past a marker produced now, and `more` probes plus the
    markers are counted; returns how many markers there were."""
    markers = produce_markers(deployment.prefix, deployment.partitions, MARKER_TS)
    wait_for(
        lambda: all(worker.get(f"/devices/{mac}")[0] == 200 for mac in markers),
        120,
        "a marker in every partition counted",
    )
    total = accepted_before + more + len(markers)
    wait_for(lambda: _accepted(worker) >= total, 30, f"{more} probes and the markers counted")
    return len(markers)


def _wrong_devices(worker: Worker, truth: dict[str, DeviceTruth]) -> list[object]:
    """Devices whose statistics differ from tshark's."""
    wrong: list[object] = []
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
    return wrong


def test_every_device_of_real_captures_is_served_as_tshark_counts_it(
    deployment: Deployment, worker: Worker
) -> None:
    paths = captures(*CAPTURES)
    truth = devices_by_tshark(*paths)
    expected = sum(d.count for d in truth.values())
    before = _accepted(worker)

    replay = deployment.sniffer("replay", "--no-progress", *map(str, paths))
    assert replay.returncode == 0, replay.stderr
    assert _summary(replay.stdout)["probe requests"] == expected, replay.stdout

    markers = _read_to_markers(deployment, worker, before, expected)
    wrong = _wrong_devices(worker, truth)
    assert not wrong, f"{len(wrong)} of {len(truth)} devices differ, e.g. {wrong[:3]}"
    assert _accepted(worker) - before == expected + markers, "probes counted that tshark lacks"


def test_unknown_and_malformed_macs(worker: Worker) -> None:
    status, body = worker.get("/devices/00:00:5e:00:53:01")
    assert status == 404 and "error" in body
    for garbage in ("not-a-mac", "zz:zz:zz:zz:zz:zz", "00:11:22:33:44"):
        status, body = worker.get(f"/devices/{garbage}")
        assert status == 400 and "not a MAC address" in body["error"]


def test_malformed_kafka_messages_are_counted_and_skipped(
    deployment: Deployment, worker: Worker
) -> None:
    before = worker.counters()
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "partitioner": "murmur2_random"})
    topic = f"{deployment.prefix}probes"
    mac = "f0:18:98:00:00:01"
    for value in (
        b"\x00\x01 not json",
        b'"text"',
        b"[]",
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

    # Same key, same partition: once the good probe is served, the bad ones before it were read.
    wait_for(lambda: worker.get(f"/devices/{mac}")[0] == 200, 60, "the good probe after the bad")
    counters = worker.counters()
    for reason in ("not_json", "not_an_object", "empty_batch", "missing_field", "bad_mac"):
        name = f"probes.rejected.{reason}"
        assert counters.get(name, 0) - before.get(name, 0) == 1, name
    status, stats = worker.get(f"/devices/{mac}")
    assert status == 200 and stats["probe_count"] == 1 and stats["ssids"] == ["after"]


def test_fuzzed_captures_are_survived_and_later_probes_still_counted(
    deployment: Deployment, worker: Worker
) -> None:
    fuzzed = captures(*FUZZED)
    [good] = captures(GOOD_AFTER_FUZZ)
    truth = devices_by_tshark(good)
    expected = sum(d.count for d in truth.values())
    frames = {path.name: tshark_frame_count(path) for path in [*fuzzed, good]}
    assert [frames[path.name] for path in fuzzed] == [1, 1, 1], "one fuzzed record in each"
    before = _accepted(worker)

    replay = deployment.sniffer("replay", "--no-progress", *map(str, [*fuzzed, good]))
    assert replay.returncode == 0, replay.stderr
    summary = _summary(replay.stdout)
    assert summary["frames read"] == sum(frames.values()), replay.stdout
    assert summary["probe requests"] == expected, replay.stdout
    # Each fuzzed record is read and skipped, as malformed or as no probe request at all.
    skipped = summary["malformed skipped"] + summary["not-probe frames"]
    assert skipped == summary["frames read"] - expected == len(fuzzed), replay.stdout

    markers = _read_to_markers(deployment, worker, before, expected)
    wrong = _wrong_devices(worker, truth)
    assert not wrong, f"{len(wrong)} of {len(truth)} devices differ, e.g. {wrong[:3]}"
    assert _accepted(worker) - before == expected + markers


def test_tshark_ek_frames_on_the_pcap_topic_are_counted(
    deployment: Deployment, worker: Worker
) -> None:
    before = worker.counters()
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

    def grown(name: str) -> int:
        return worker.counters().get(name, 0) - before.get(name, 0)

    # Unkeyed frames spread over the partitions: wait for each outcome, not for one of them.
    wait_for(lambda: grown("probes.accepted") >= 3, 60, "the three probe requests of the feed")
    wait_for(lambda: grown("pcap.not_probe_request") >= 1, 30, "the beacon frame skipped")
    wait_for(lambda: grown("pcap.rejected.not_json") >= 1, 30, "the garbage rejected")
    status, stats = worker.get("/devices/f0:18:98:00:00:02")
    assert status == 200
    assert (stats["probe_count"], stats["ssids"], stats["wildcard_probes"]) == (
        3,
        ["Home", "Work"],
        1,
    )
    assert stats["first_seen"] == "2020-07-20T14:00:00.123Z" and stats["rssi_max_dbm"] == -67
    assert grown("pcap.not_probe_request") == 1 and grown("pcap.rejected.not_json") == 1
