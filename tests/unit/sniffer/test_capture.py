"""Reading capture files: formats, damage accounting, clear errors; interface checks.

The attacker's damaged files, checked against tshark, are in test_capfile_damage.py.
"""

from __future__ import annotations

import gzip
import math
import random
import struct
from pathlib import Path

import pytest

from sniffer.capture import CaptureError, interface_linktype, read_capture
from sniffer.pipeline import replay
from sniffer.synth import write_pcap, write_synthetic_pcap
from tests.pcaps import capture
from tests.unit.sniffer.fakes import FakeSink
from tests.unit.sniffer.layout import pcap_records, pcapng_blocks


@pytest.fixture
def synth(tmp_path: Path) -> Path:
    path = tmp_path / "synth.pcap"
    write_synthetic_pcap(path, probes=50, devices=5, seed=1)
    return path


def test_pcap_and_pcapng_of_the_same_capture_agree() -> None:
    a = list(read_capture(capture("SamsungA53_01.pcap")))
    b = list(read_capture(capture("SamsungA53_01.pcapng")))
    assert len(a) == len(b) == 8497
    for (lt_a, data_a, ts_a), (lt_b, data_b, ts_b) in zip(a, b, strict=True):
        assert lt_a == lt_b == 127
        assert data_a == data_b
        assert abs(ts_a - ts_b) < 2e-6  # microseconds vs nanoseconds


def test_pcapng_keeps_nanoseconds() -> None:
    _lt, _data, ts = next(read_capture(capture("SamsungA53_01.pcapng")))
    assert abs(ts - 1724420083.091396546) < 5e-7  # tshark's frame.time_epoch


def test_gzipped_capture(synth: Path, tmp_path: Path) -> None:
    packed = tmp_path / "synth.pcap.gz"
    packed.write_bytes(gzip.compress(synth.read_bytes()))
    assert list(read_capture(packed)) == list(read_capture(synth))


def test_cut_last_record_is_skipped_data(synth: Path, tmp_path: Path) -> None:
    """A cut last record used to count as one malformed frame; now its bytes are skipped data."""
    original = synth.read_bytes()
    last = pcap_records(original)[-1]
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(original[:-10])
    reader = read_capture(cut)
    assert len(list(reader)) == 49
    assert (reader.skipped_bytes, reader.skip_places) == (last.size - 10, 1)
    assert reader.skips[0].offset == last.offset


def test_stray_trailing_bytes_are_skipped_data(synth: Path, tmp_path: Path) -> None:
    stray = tmp_path / "stray.pcap"
    stray.write_bytes(synth.read_bytes() + b"\x00\x01\x02")
    reader = read_capture(stray)
    assert len(list(reader)) == 50
    assert (reader.skipped_bytes, reader.skip_places) == (3, 1)
    assert reader.skips[0].offset == synth.stat().st_size


def test_clean_file_has_no_damage(synth: Path) -> None:
    reader = read_capture(synth)
    assert len(list(reader)) == 50
    assert (reader.skipped_bytes, reader.skip_places, reader.skips) == (0, 0, [])
    assert reader.bytes_read == synth.stat().st_size


def test_real_capture_with_a_stray_byte() -> None:
    reader = read_capture(capture("bad_rsn_parsing"))  # 360 bytes: one record, then 1 stray byte
    assert len(list(reader)) == 1
    assert (reader.skipped_bytes, reader.skip_places, reader.skips[0].offset) == (1, 1, 359)


@pytest.mark.parametrize("cut", [7, 100, 5000])
def test_cut_pcapng(tmp_path: Path, cut: int) -> None:
    original = capture("HuaweiTablet_01_filtered.pcapng").read_bytes()
    kept = len(original) - cut
    blocks = pcapng_blocks(original)
    whole = [b for b in blocks if b.end <= kept]
    partial = blocks[len(whole)]
    damaged = tmp_path / "cut.pcapng"
    damaged.write_bytes(original[:kept])
    reader = read_capture(damaged)
    records = list(reader)
    assert len(records) == sum(1 for b in whole if b.btype == 6)
    assert (reader.skipped_bytes, reader.skip_places) == (kept - partial.offset, 1)


def test_whole_pcapng_is_clean() -> None:
    path = capture("HuaweiTablet_01_filtered.pcapng")
    reader = read_capture(path)
    assert len(list(reader)) == 1545
    assert (reader.skipped_bytes, reader.bytes_read) == (0, path.stat().st_size)


def test_pcapng_trailing_garbage(tmp_path: Path) -> None:
    path = tmp_path / "garbage.pcapng"
    original = capture("wpaauthfail.pcapng").read_bytes()
    path.write_bytes(original + b"garbage!")
    reader = read_capture(path)
    assert len(list(reader)) == 16
    assert (reader.skipped_bytes, reader.skip_places) == (8, 1)
    assert reader.skips[0].offset == len(original)


def test_fcs_bits_of_the_link_type_word_are_passed_on() -> None:
    records = list(read_capture(capture("radiotap-heapoverflow")))
    assert [lt for lt, _d, _ts in records] == [0x3000007F]


def test_nanosecond_pcap(tmp_path: Path) -> None:
    path = tmp_path / "nano.pcap"
    header = struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 105)
    record = struct.pack("<IIII", 1_700_000_000, 123_456_789, 2, 2) + b"\x40\x00"
    path.write_bytes(header + record)
    [(linktype, data, ts)] = list(read_capture(path))
    assert (linktype, data) == (105, b"\x40\x00")
    assert abs(ts - 1_700_000_000.123456789) < 1e-6


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="no such file"):
        read_capture(tmp_path / "nope.pcap")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="directory"):
        read_capture(tmp_path)


@pytest.mark.parametrize(
    "content", [b"", b"hello, this is not a capture\n" * 10, b"\x1f\x8bnot gz"]
)
def test_not_a_capture(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    with pytest.raises(CaptureError, match="not a pcap or pcapng capture file"):
        read_capture(path)


def test_ethernet_capture_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "eth.pcap"
    with path.open("wb") as out:
        write_pcap(out, 1, [(1.0, b"\x00" * 60)])
    with pytest.raises(CaptureError, match=r"link type 1 \(Ethernet\) is not 802.11"):
        read_capture(path)


def test_interface_that_does_not_exist() -> None:
    with pytest.raises(CaptureError, match="no network interface named 'pw-nope0'"):
        interface_linktype("pw-nope0")


def test_interface_that_is_not_in_monitor_mode() -> None:
    if not Path("/sys/class/net/lo/type").exists():
        pytest.skip("needs Linux /sys/class/net")
    with pytest.raises(CaptureError, match=r"ARPHRD 772 \(loopback\), not 802.11"):
        interface_linktype("lo")


@pytest.mark.parametrize("name", ["wpaauthfail.pcapng", "aircrack-ng__test__test1.pcap"])
def test_damaged_files_never_crash_the_reader(tmp_path: Path, name: str) -> None:
    original = capture(name).read_bytes()
    rng = random.Random(name)
    path = tmp_path / name
    for attempt in range(150):
        data = bytearray(original)
        if attempt % 3 == 0:
            data = data[: rng.randrange(len(data))]
        elif attempt % 3 == 1:
            data += rng.randbytes(rng.randrange(1, 40))
        else:
            for _ in range(3):
                data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
        try:
            reader = read_capture(path)
        except CaptureError:
            continue
        for linktype, record, ts in reader:
            assert isinstance(linktype, int) and isinstance(record, bytes)
            assert isinstance(ts, float)
        assert reader.bytes_read + reader.skipped_bytes == len(data)
        assert (reader.skipped_bytes > 0) == (reader.skip_places > 0)


def _block(btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)


def test_big_endian_microsecond_pcap(tmp_path: Path) -> None:
    path = tmp_path / "be.pcap"
    header = struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 127)
    record = struct.pack(">IIII", 1_700_000_000, 250_000, 3, 3) + b"abc"
    path.write_bytes(header + record)
    assert list(read_capture(path)) == [(127, b"abc", 1_700_000_000.25)]


def test_pcapng_binary_time_resolution(tmp_path: Path) -> None:
    """if_tsresol 0x8a: 2**10 ticks per second, so 512 ticks are half a second."""
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    options = struct.pack("<HHB3x", 9, 1, 0x8A) + struct.pack("<HH", 0, 0)
    idb = _block(1, struct.pack("<HHI", 127, 0, 0) + options)
    ticks = 1_700_000_000 * 1024 + 512
    epb = _block(6, struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, 2, 2) + b"xy")
    path = tmp_path / "binary.pcapng"
    path.write_bytes(shb + idb + epb)
    assert list(read_capture(path)) == [(127, b"xy", 1_700_000_000.5)]


def test_simple_packet_block_has_no_capture_time(tmp_path: Path) -> None:
    """An SPB carries no time: its record has NaN, which the parser counts as malformed."""
    data = capture("HuaweiTablet_01_filtered.pcapng").read_bytes()
    _shb, _idb, first, *_ = pcapng_blocks(data)
    caplen = struct.unpack_from("<I", data, first.offset + 20)[0]
    packet = data[first.offset + 28 : first.offset + 28 + caplen]
    spb = _block(3, struct.pack("<I", len(packet)) + packet)
    path = tmp_path / "spb.pcapng"
    path.write_bytes(data[: first.offset] + spb + data[first.end :])
    (linktype, record, ts), *rest = list(read_capture(path))
    assert (linktype, record, len(rest)) == (127, packet, 1544)
    assert math.isnan(ts)
    counts, _complete = replay([path], FakeSink(), "s")
    assert (counts.probes, counts.malformed, counts.skipped_bytes) == (1544, 1, 0)


def test_interface_with_malformed_options_is_skipped_with_its_packets(tmp_path: Path) -> None:
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = _block(1, struct.pack("<HHI", 127, 0, 0) + struct.pack("<HH", 9, 200))  # runs over
    epb = _block(6, struct.pack("<IIIII", 0, 0, 1, 2, 2) + b"xy")
    path = tmp_path / "options.pcapng"
    path.write_bytes(shb + idb + epb + epb)
    reader = read_capture(path)
    assert list(reader) == []
    assert (reader.skipped_bytes, reader.skip_places) == (len(idb) + 2 * len(epb), 1)
    assert reader.skips[0].reason.startswith("interface description with malformed options")
