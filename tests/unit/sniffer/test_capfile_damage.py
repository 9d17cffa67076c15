"""The attacker's damaged captures (issue 8), replayed through the command line.

Each damaged file is built from a real capture, and the probe requests we must still produce are
what tshark finds in the readable part: the original file (bytes inserted), or the original minus
the one record or block that was destroyed. The bytes reported skipped are computed by hand from
the layout of the undamaged file (tests/unit/sniffer/layout.py).
"""

from __future__ import annotations

import functools
import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest

from sniffer import cli
from sniffer.event import ProbeEvent
from sniffer.parse import TS_LIMIT
from tests.pcaps import capture
from tests.tshark import TSHARK, tshark_probe_count, tshark_probe_times
from tests.unit.sniffer.fakes import FakeProducer
from tests.unit.sniffer.layout import (
    Piece,
    pcap_records,
    pcapng_blocks,
    to_big_endian_pcapng,
    without,
)

pytestmark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (apt tshark)")

HUAWEI = "HuaweiTablet_01_filtered.pcapng"  # SHB, IDB (radiotap, no options), 1545 EPBs: probes
IPHONE = "iPhone11-B_anonymized.pcap"  # little-endian pcap, 782 records, all probe requests
EPB = 6
UNREGISTERED = 0x777


@dataclass
class Run:
    code: int
    events: list[ProbeEvent]
    out: str
    err: str


def replay(paths: list[Path], capsys: pytest.CaptureFixture[str]) -> Run:
    FakeProducer.instances = []
    code = cli.main(["replay", "--no-progress", *map(str, paths)])
    out, err = capsys.readouterr()
    events = [e for producer in FakeProducer.instances for e in producer.events]
    if FakeProducer.instances:
        assert all(producer.flushed for producer in FakeProducer.instances)
    return Run(code, events, out, err)


def tshark_count_of(data: bytes, folder: Path, name: str = "readable.pcapng") -> int:
    path = folder / name
    path.write_bytes(data)
    return tshark_probe_count(path)


@functools.cache
def original_count(name: str) -> int:
    return tshark_probe_count(capture(name))


def assert_damaged(run: Run, path: Path, skipped: int, offset: int, reason: str) -> None:
    """Exit 3; the skipped bytes in the summary, in one warning for the file, in the error."""
    assert run.code == 3, run.err
    unit = "byte" if skipped == 1 else "bytes"
    assert f"unreadable skipped: {skipped} {unit} in 1 place of 1 file\n" in run.out
    warning = (
        f"probewatch-sniffer: warning: {path}: skipped {skipped} {unit} that could not be "
        f"read, in 1 place (at byte {offset}: "
    )
    [line] = [line for line in run.err.splitlines() if line.startswith(warning[:27])]
    assert line.startswith(warning), line
    assert reason in line
    assert run.err.splitlines()[-1] == (
        f"probewatch-sniffer: error: input damaged: skipped {skipped} {unit} that could not be "
        "read, in 1 place of 1 file (see the warnings above); the probe requests that could be "
        "read were produced"
    )


def middle_epb(data: bytes) -> Piece:
    """The 772nd packet block: 771 come before it (the attacker saw 771 of 1545 produced)."""
    return [b for b in pcapng_blocks(data) if b.btype == EPB][771]


def overwrite(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new) :]


# -- pcapng --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "inserted"),
    [
        (0, struct.pack("<III", UNREGISTERED, 0, 0)),
        (13, struct.pack("<IIBI", UNREGISTERED, 13, 0, 13)),
        (0x7FFFFFF0, struct.pack("<III", UNREGISTERED, 0x7FFFFFF0, 0x7FFFFFF0)),
    ],
)
def test_inserted_unknown_block_with_bad_length(
    fake_kafka: type[FakeProducer],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    length: int,
    inserted: bytes,
) -> None:
    """Nothing of the capture is destroyed: every probe is produced, the inserted bytes skipped."""
    data = capture(HUAWEI).read_bytes()
    at = middle_epb(data).offset
    path = tmp_path / "inserted.pcapng"
    path.write_bytes(data[:at] + inserted + data[at:])
    run = replay([path], capsys)
    assert len(run.events) == original_count(HUAWEI) == 1545
    assert_damaged(run, path, len(inserted), at, f"block length {length}")


@pytest.mark.parametrize("length", [0, 13, 0x7FFFFFF0])
def test_packet_block_header_overwritten_by_unknown_block(
    fake_kafka: type[FakeProducer],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    length: int,
) -> None:
    data = capture(HUAWEI).read_bytes()
    block = middle_epb(data)
    path = tmp_path / "overwritten.pcapng"
    path.write_bytes(overwrite(data, block.offset, struct.pack("<II", UNREGISTERED, length)))
    run = replay([path], capsys)
    assert len(run.events) == tshark_count_of(without(data, block), tmp_path) == 1544
    assert_damaged(run, path, block.size, block.offset, f"block length {length}")


def test_trailer_mismatch(
    fake_kafka: type[FakeProducer], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = capture(HUAWEI).read_bytes()
    block = middle_epb(data)
    path = tmp_path / "trailer.pcapng"
    path.write_bytes(overwrite(data, block.end - 4, struct.pack("<I", block.size + 4)))
    run = replay([path], capsys)
    assert len(run.events) == tshark_count_of(without(data, block), tmp_path) == 1544
    assert_damaged(run, path, block.size, block.offset, f"differs from the {block.size + 4}")


@pytest.mark.parametrize(("field", "bit"), [(4, 3), (4, 9), (4, 30), (20, 12), (8, 2)])
def test_one_flipped_bit_in_a_packet_block(
    fake_kafka: type[FakeProducer],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    field: int,
    bit: int,
) -> None:
    """A bit of the block length (4), of the captured length (20) or of the interface id (8)."""
    data = capture(HUAWEI).read_bytes()
    block = middle_epb(data)
    at = block.offset + field
    value = struct.unpack_from("<I", data, at)[0] ^ (1 << bit)
    path = tmp_path / "flipped.pcapng"
    path.write_bytes(overwrite(data, at, struct.pack("<I", value)))
    run = replay([path], capsys)
    assert len(run.events) == tshark_count_of(without(data, block), tmp_path) == 1544
    reason = {4: "block length", 20: "packet length", 8: "interface 4"}[field]
    assert_damaged(run, path, block.size, block.offset, reason)


@pytest.mark.parametrize("flip", [0x01, 0x80, 0x04, 0x02])
def test_packet_block_type_with_a_flipped_bit(
    fake_kafka: type[FakeProducer],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    flip: int,
) -> None:
    """6 becomes 7 (IRIG timestamp), 0x86, 2 (obsolete packet block) or 4 (name resolution).

    A registered type that carries no packet (7, 4) is ignored as the pcapng spec asks: that one
    flip cannot be told from a valid file, and exits 0 like tshark's 1544. An unregistered type
    (0x86) is damage. The obsolete packet block has the same layout as an EPB: nothing is lost.
    """
    data = capture(HUAWEI).read_bytes()
    block = middle_epb(data)
    path = tmp_path / "type.pcapng"
    path.write_bytes(overwrite(data, block.offset, bytes([EPB ^ flip])))
    run = replay([path], capsys)
    assert len(run.events) == tshark_probe_count(path)
    if flip == 0x80:
        assert len(run.events) == tshark_count_of(without(data, block), tmp_path) == 1544
        assert_damaged(run, path, block.size, block.offset, "unregistered type 0x00000086")
    else:
        assert run.code == 0, run.err
        assert len(run.events) == (1545 if flip == 0x04 else 1544)


@pytest.mark.parametrize("new_type", [0x03, 0x05, 0x81])
def test_interface_block_type_flipped(
    fake_kafka: type[FakeProducer],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    new_type: int,
) -> None:
    """The only IDB becomes an SPB, a (too short) statistics block or an unregistered block.

    tshark reads no probe request of it ("interface index 0 is not less than section interface
    count 0"); the sniffer used to exit 0 with 0 frames. Every packet block is now skipped data.
    """
    data = capture(HUAWEI).read_bytes()
    _shb, idb, *_ = pcapng_blocks(data)
    path = tmp_path / "idb.pcapng"
    path.write_bytes(overwrite(data, idb.offset, bytes([new_type])))
    run = replay([path], capsys)
    assert len(run.events) == tshark_probe_count(path) == 0
    assert_damaged(run, path, len(data) - idb.offset, idb.offset, "")


def test_second_section_of_the_same_byte_order(
    fake_kafka: type[FakeProducer], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "two.pcapng"
    path.write_bytes(capture(HUAWEI).read_bytes() + capture("wpaauthfail.pcapng").read_bytes())
    run = replay([path], capsys)
    assert run.code == 0, run.err
    expected = original_count(HUAWEI) + original_count("wpaauthfail.pcapng")
    assert len(run.events) == tshark_probe_count(path) == expected == 1546
    assert "unreadable skipped: 0 bytes in 0 places of 0 files" in run.out


def test_second_section_of_the_other_byte_order(
    fake_kafka: type[FakeProducer], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A big-endian section (nanosecond if_tsresol kept) after a little-endian one."""
    samsung = "SamsungA53_01.pcapng"
    big = to_big_endian_pcapng(capture(samsung).read_bytes())
    path = tmp_path / "mixed.pcapng"
    path.write_bytes(capture(HUAWEI).read_bytes() + big)
    run = replay([path], capsys)
    assert run.code == 0, run.err
    assert "frames read:        10042\n" in run.out  # 1545 + 8497 records
    second = tshark_probe_times(path)[1545:]
    assert len(run.events) == tshark_probe_count(path) == 1545 + original_count(samsung)
    assert [e.ts for e in run.events[1545:]] == pytest.approx(second, abs=1e-6)


def test_packets_of_an_undefined_interface(
    fake_kafka: type[FakeProducer], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = capture(HUAWEI).read_bytes()
    block = middle_epb(data)
    path = tmp_path / "iface.pcapng"
    path.write_bytes(overwrite(data, block.offset + 8, struct.pack("<I", 1)))
    run = replay([path], capsys)
    assert len(run.events) == tshark_count_of(without(data, block), tmp_path) == 1544
    assert_damaged(run, path, block.size, block.offset, "packet of interface 1, which no valid")


def test_ethernet_interface_is_refused_like_an_ethernet_pcap(
    fake_kafka: type[FakeProducer], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """It used to be read as 8,497 "not-probe" frames with exit 0."""
    ng = capture("SamsungA53_01.pcapng").read_bytes()
    idb = pcapng_blocks(ng)[1]
    ng_path = tmp_path / "eth.pcapng"
    ng_path.write_bytes(overwrite(ng, idb.offset + 8, struct.pack("<H", 1)))
    classic = capture("SamsungA53_01.pcap").read_bytes()
    pcap_path = tmp_path / "eth.pcap"
    pcap_path.write_bytes(overwrite(classic, 20, struct.pack("<I", 1)))
    for path in (ng_path, pcap_path):
        run = replay([path], capsys)
        assert run.code == 2
        assert run.err == (
            f"probewatch-sniffer: error: {path}: link type 1 (Ethernet) is not 802.11 "
            "(expected 105, 119, 127 or 163: a monitor-mode capture)\n"
        )
        assert FakeProducer.instances == [], "refused before connecting to Kafka"


def test_frames_of_a_second_non_80211_interface_are_reported(
    fake_kafka: type[FakeProducer], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An Ethernet IDB added after the radiotap one, and ten packets moved to it: exit 0."""
    data = capture(HUAWEI).read_bytes()
    _shb, idb, *packets = pcapng_blocks(data)
    ethernet = struct.pack("<IIHHII", 1, 20, 1, 0, 0, 20)
    moved = b"".join(
        overwrite(data[p.offset : p.end], 8, struct.pack("<I", 1)) for p in packets[:10]
    )
    path = tmp_path / "two-interfaces.pcapng"
    path.write_bytes(data[: idb.end] + ethernet + moved + data[packets[10].offset :])
    run = replay([path], capsys)
    assert run.code == 0, run.err
    assert len(run.events) == tshark_probe_count(path) == 1535
    assert "not 802.11 skipped: 10 frames\n" in run.out
    assert run.err == (
        f"probewatch-sniffer: warning: {path}: 10 frames of interfaces with link type "
        "1 (Ethernet) were skipped: not 802.11\n"
    )


# -- pcap ----------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [0xFFFFFFF0, 150 | 1 << 20])  # the second: one flipped bit
def test_pcap_record_length_out_of_range(
    fake_kafka: type[FakeProducer],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    length: int,
) -> None:
    """The attacker saw 391 of 782: record 392 (index 391) has an impossible length."""
    data = capture(IPHONE).read_bytes()
    record = pcap_records(data)[391]
    path = tmp_path / "length.pcap"
    if length != 0xFFFFFFF0:
        length = struct.unpack_from("<I", data, record.offset + 8)[0] | 1 << 20
    path.write_bytes(overwrite(data, record.offset + 8, struct.pack("<I", length)))
    run = replay([path], capsys)
    readable = tshark_count_of(without(data, record), tmp_path, "readable.pcap")
    assert len(run.events) == readable == 781
    assert_damaged(run, path, record.size, record.offset, f"record length {length} is over")


@pytest.mark.parametrize("cut", [1, 15, 16, 40])
def test_pcap_cut_last_record(
    fake_kafka: type[FakeProducer], capsys: pytest.CaptureFixture[str], tmp_path: Path, cut: int
) -> None:
    """Cut inside the last record (or its header): that record is skipped data, exit 3."""
    data = capture(IPHONE).read_bytes()
    last = pcap_records(data)[-1]
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[: last.offset + cut])
    run = replay([path], capsys)
    assert len(run.events) == tshark_count_of(data[: last.offset], tmp_path, "r.pcap") == 781
    assert_damaged(run, path, cut, last.offset, "cut off" if cut < 16 else "runs past the end")


# -- gzip ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [IPHONE, HUAWEI])
def test_gzipped_captures_deliver_every_probe(
    fake_kafka: type[FakeProducer], capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    """A .gz used to crash on a double close before the flush."""
    path = tmp_path / f"{name}.gz"
    path.write_bytes(gzip.compress(capture(name).read_bytes()))
    run = replay([path], capsys)
    assert run.code == 0, run.err
    assert len(run.events) == tshark_probe_count(path) == original_count(name)
    assert f"{len(run.events)} acknowledged by Kafka, 0 failed" in run.out


def test_cut_gzip_is_damage(
    fake_kafka: type[FakeProducer], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    packed = gzip.compress(capture(IPHONE).read_bytes())
    path = tmp_path / "cut.pcap.gz"
    path.write_bytes(packed[: len(packed) // 2])
    run = replay([path], capsys)
    assert run.code == 3
    assert 0 < len(run.events) < 782
    assert "gzip data unreadable" in run.err


# -- capture times -------------------------------------------------------------------------


def test_times_from_if_tsoffset_past_2100_are_malformed(
    fake_kafka: type[FakeProducer], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """if_tsoffset moves the capture so that 2100-01-01 falls between two of its probes."""
    data = capture(HUAWEI).read_bytes()
    _shb, idb, *_ = pcapng_blocks(data)
    times = sorted(set(tshark_probe_times(capture(HUAWEI))))
    middle = times[len(times) // 2]
    offset = int(TS_LIMIT - middle)  # whole seconds: the boundary falls within this second
    options = struct.pack("<HHq", 14, 8, offset) + struct.pack("<HH", 0, 0)
    body = struct.pack("<HHI", 127, 0, 0) + options
    new_idb = struct.pack("<II", 1, len(body) + 12) + body + struct.pack("<I", len(body) + 12)
    path = tmp_path / "late.pcapng"
    path.write_bytes(data[: idb.offset] + new_idb + data[idb.end :])
    run = replay([path], capsys)
    shifted = tshark_probe_times(path)
    assert shifted == pytest.approx([t + offset for t in tshark_probe_times(capture(HUAWEI))])
    assert all(abs(t - TS_LIMIT) > 1e-3 for t in shifted)
    before = sum(1 for t in shifted if t < TS_LIMIT)
    assert 0 < before < 1545
    assert run.code == 0, run.err
    assert len(run.events) == before
    assert f"malformed skipped:  {1545 - before}\n" in run.out
    assert all(e.ts < TS_LIMIT for e in run.events)


def test_pcap_record_time_past_2100_is_malformed(
    fake_kafka: type[FakeProducer], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = capture(IPHONE).read_bytes()
    records = pcap_records(data)
    for index, seconds in ((10, 0xFFFFFFFF), (20, int(TS_LIMIT))):
        data = overwrite(data, records[index].offset, struct.pack("<I", seconds))
    path = tmp_path / "late.pcap"
    path.write_bytes(data)
    run = replay([path], capsys)
    assert run.code == 0, run.err
    assert len(run.events) == 780
    assert "malformed skipped:  2\n" in run.out
