"""Properties of the capture reader under arbitrary damage (hypothesis).

Whatever happens to a valid file, opening it raises nothing but CaptureError, reading it raises
nothing at all, and every byte is either read or reported skipped. Damage confined to one
pcapng block costs that block and nothing else.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sniffer.capfile import MAX_RECORD
from sniffer.capture import CaptureError, CaptureReader, read_capture
from tests.pcaps import capture
from tests.unit.sniffer.layout import pcap_records, pcapng_blocks

PCAPNG = "wpaauthfail.pcapng"  # SHB, IDB, 16 EPBs, ISB: 3492 bytes
PCAP = "iPhoneXR-A_anonymized.pcap"  # 136 records: 16072 bytes
FILES = [PCAPNG, PCAP]
SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("damaged")


def _edit(data: bytes, draw: st.DataObject) -> bytes:
    """One arbitrary edit: overwrite, flip a bit, insert, delete, cut, or repeat a stretch."""
    kind = draw.draw(st.sampled_from(["overwrite", "flip", "insert", "delete", "cut", "repeat"]))
    at = draw.draw(st.integers(0, len(data) - 1))
    if kind == "overwrite":
        new = draw.draw(st.binary(min_size=1, max_size=16))
        return data[:at] + new + data[at + len(new) :]
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ 1 << draw.draw(st.integers(0, 7))]) + data[at + 1 :]
    if kind == "insert":
        return data[:at] + draw.draw(st.binary(min_size=1, max_size=40)) + data[at:]
    if kind == "delete":
        return data[:at] + data[at + draw.draw(st.integers(1, 40)) :]
    if kind == "cut":
        return data[:at]
    size = draw.draw(st.integers(1, 200))
    return data[:at] + data[at : at + size] * 2 + data[at + size :]


def _read_all(path: Path) -> tuple[CaptureReader, list[tuple[int, bytes, float]]] | None:
    try:
        reader = read_capture(path)
    except CaptureError:
        return None
    return reader, list(reader)


def _assert_accounted(reader: CaptureReader, records: list[tuple[int, bytes, float]]) -> None:
    assert reader.records == len(records)
    for linktype, data, ts in records:
        assert isinstance(linktype, int) and isinstance(ts, float)
        assert isinstance(data, bytes)
    assert len(reader.skips) == min(reader.skip_places, 100)
    end = 0
    for skip in reader.skips:
        # A gzip file cut short may lose no decompressed byte we can count: a place of 0 bytes.
        assert skip.length > 0 or skip.reason.startswith("gzip data unreadable")
        assert skip.offset >= end, "skips are separate and in file order"
        end = skip.offset + skip.length
    assert sum(skip.length for skip in reader.skips) <= reader.skipped_bytes


@pytest.mark.parametrize("name", FILES)
@SETTINGS
@given(draw=st.data())
def test_any_damage_is_read_or_reported(name: str, folder: Path, draw: st.DataObject) -> None:
    original = capture(name).read_bytes()
    data = original
    for _ in range(draw.draw(st.integers(1, 4))):
        if data:
            data = _edit(data, draw)
    path = folder / name
    path.write_bytes(data)
    result = _read_all(path)
    if result is None:
        return  # refused up front with a one-line reason: allowed
    reader, records = result
    _assert_accounted(reader, records)
    assert reader.bytes_read + reader.skipped_bytes == len(data)
    assert (reader.skip_places > 0) == (reader.skipped_bytes > 0)
    if name == PCAP:
        assert all(len(record) <= MAX_RECORD for _lt, record, _ts in records)
    if data == original:
        assert reader.skipped_bytes == 0


@SETTINGS
@given(draw=st.data())
def test_damage_to_one_block_costs_that_block_only(folder: Path, draw: st.DataObject) -> None:
    """Overwrite bytes of the framing (header fields or trailer) of one packet block."""
    original = capture(PCAPNG).read_bytes()
    packets = [b for b in pcapng_blocks(original) if b.btype == 6]
    index = draw.draw(st.integers(0, len(packets) - 1))
    block = packets[index]
    field = draw.draw(st.sampled_from([*range(block.offset, block.offset + 28), block.end - 4]))
    new = draw.draw(st.binary(min_size=1, max_size=4))
    new = new[: block.end - field]
    data = original[:field] + new + original[field + len(new) :]
    path = folder / "one-block.pcapng"
    path.write_bytes(data)
    result = _read_all(path)
    assert result is not None
    reader, records = result
    _assert_accounted(reader, records)
    assert reader.skipped_bytes in (0, block.size)
    others = [
        original[p.offset + 28 : p.offset + 28 + _caplen(original, p.offset)] for p in packets
    ]
    del others[index]
    got = iter(data for _lt, data, _ts in records)
    assert all(any(record == wanted for record in got) for wanted in others), "all others, in order"


@SETTINGS
@given(draw=st.data())
def test_impossible_pcap_record_length_costs_that_record_only(
    folder: Path, draw: st.DataObject
) -> None:
    original = capture(PCAP).read_bytes()
    records = pcap_records(original)
    index = draw.draw(st.integers(0, len(records) - 1))
    record = records[index]
    length = draw.draw(st.integers(MAX_RECORD + 1, 0xFFFFFFFF))
    data = (
        original[: record.offset + 8] + struct.pack("<I", length) + original[record.offset + 12 :]
    )
    path = folder / "one-record.pcap"
    path.write_bytes(data)
    result = _read_all(path)
    assert result is not None
    reader, got = result
    _assert_accounted(reader, got)
    assert (reader.skipped_bytes, reader.skip_places) == (record.size, 1)
    expected = [original[r.offset + 16 : r.end] for i, r in enumerate(records) if i != index]
    assert [data for _lt, data, _ts in got] == expected


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(draw=st.data())
def test_a_cut_gzip_file_is_always_reported(folder: Path, draw: st.DataObject) -> None:
    packed = gzip.compress(capture(PCAPNG).read_bytes())
    cut = draw.draw(st.integers(1, len(packed) - 1))
    path = folder / "cut.pcapng.gz"
    path.write_bytes(packed[:cut])
    result = _read_all(path)
    if result is None:
        return
    reader, records = result
    _assert_accounted(reader, records)
    assert reader.skip_places >= 1
    assert len(records) <= 16


def _caplen(data: bytes, offset: int) -> int:
    return int(struct.unpack_from("<I", data, offset + 20)[0])
