"""Parser behaviour without tshark: field values, edge cases, and robustness against garbage."""

from __future__ import annotations

import random
import struct
import zlib

import pytest

from sniffer.capture import read_capture
from sniffer.event import ProbeEvent
from sniffer.parse import MalformedFrame, channel_to_mhz, parse_frame
from sniffer.synth import probe_request, radiotap_frame
from tests.pcaps import capture
from tests.unit.sniffer import frames

TS = 1_700_000_000.25


def parse(linktype: int, data: bytes) -> ProbeEvent | None:
    return parse_frame(linktype, data, TS, "sensor-1")


def event(linktype: int, data: bytes) -> ProbeEvent:
    result = parse(linktype, data)
    assert result is not None
    return result


# Expected (rssi_dbm, freq_mhz, ssid) per edge case; "malformed" and None as parse_frame gives.
EXPECTED: dict[str, tuple[int | None, int | None, str] | str | None] = {
    "channel_then_xchannel": (-50, 5180, "cafe"),
    "xchannel_only": (-50, 5180, "cafe"),
    "xchannel_zero_keeps_channel": (-50, 2412, "cafe"),
    "channel_zero": (-50, None, "cafe"),
    "vendor_namespace_skipped": (-60, None, "cafe"),
    "three_antenna_signals": (-50, None, "cafe"),
    "unknown_bit_stops_walk": (-30, None, "cafe"),
    "fcs_flag": (-60, None, "cafe"),
    "bad_fcs_flag": "malformed",
    "radiotap_version_1": (None, None, "cafe"),
    "radiotap_field_past_header": (None, None, "cafe"),
    "radiotap_bitmap_past_header": (None, None, "cafe"),
    "radiotap_length_past_record": "malformed",
    "order_bit_ht_control": (None, None, "cafe"),
    "protected_bit": "malformed",
    "retry_and_power_save": (None, None, "cafe"),
    "to_and_from_ds": (None, None, "cafe"),
    "protocol_version_1": None,
    "no_ssid_element": (None, None, ""),
    "two_ssid_elements": (None, None, "first"),
    "ssid_32_bytes": (None, None, "x" * 32),
    "ssid_33_bytes": "malformed",
    "second_ssid_element_33_bytes": (None, None, "first"),  # tshark ignores it too
    "ssid_with_rlo_and_nul": (None, None, "a\\xe2\\x80\\xaeb\\x00"),
    "element_past_end": "malformed",
    "fcs_length_bits_4": (None, None, "cafe"),
    "prism": (-55, 2437, "cafe"),
    "prism_rssi_not_supplied": (None, 2437, "cafe"),
    "prism_channel_not_supplied": (-55, None, "cafe"),
    "prism_type2_dids": (-55, 2437, "cafe"),
    "prism_big_endian": (-55, 2437, "cafe"),
    "prism_channel_14": (-55, 2484, "cafe"),
    "prism_channel_36": (-55, 5180, "cafe"),
    "prism_unknown_msgcode_is_bare_80211": (None, None, "cafe"),
    "prism_truncated": "malformed",
    "avs": (-61, 2462, "cafe"),
    "avs_v2": (-61, 2462, "cafe"),
    "avs_normalized_rssi": (None, 2462, "cafe"),
    "avs_5ghz": (-61, 5180, "cafe"),
    "avs_inside_prism_linktype": (-61, 2462, "cafe"),
}


def test_every_edge_case_has_an_expectation() -> None:
    assert set(EXPECTED) == set(frames.EDGE_CASES)


@pytest.mark.parametrize("name", sorted(frames.EDGE_CASES))
def test_edge_case(name: str) -> None:
    linktype, data = frames.EDGE_CASES[name]
    expected = EXPECTED[name]
    if expected == "malformed":
        with pytest.raises(MalformedFrame):
            parse(linktype, data)
        return
    result = parse(linktype, data)
    if expected is None:
        assert result is None
        return
    assert isinstance(expected, tuple)
    assert result is not None
    assert (result.rssi_dbm, result.freq_mhz, result.ssid) == expected
    assert result.mac == "a2:b3:c4:d5:e6:f7"
    assert result.seq == 77
    assert result.randomized is True
    assert result.ts == TS
    assert result.sensor == "sensor-1"


def test_fields_of_a_plain_probe() -> None:
    mac = bytes.fromhex("f018980a0b0c")
    data = radiotap_frame(probe_request(mac, 4095, b"eduroam"), freq=5180, signal=-71)
    result = event(127, data)
    assert result == ProbeEvent(
        ts=TS,
        mac="f0:18:98:0a:0b:0c",
        ssid="eduroam",
        ssid_hex=None,
        rssi_dbm=-71,
        freq_mhz=5180,
        seq=4095,
        randomized=False,
        sensor="sensor-1",
        ie_fingerprint=result.ie_fingerprint,
    )
    assert result.ie_fingerprint is not None and len(result.ie_fingerprint) == 16


def test_wildcard_probe_has_empty_ssid() -> None:
    result = event(105, frames.probe(ssid=b""))
    assert result.ssid == ""
    assert result.ssid_hex is None


def test_non_utf8_ssid_gives_hex_and_readable_escape() -> None:
    result = event(105, frames.probe(ssid=b"\xb2\xe2\xca\xd4"))
    assert result.ssid_hex == "b2e2cad4"
    assert result.ssid == "\\xb2\\xe2\\xca\\xd4"


def test_utf8_ssid_is_decoded() -> None:
    result = event(105, frames.probe(ssid="Café Müller".encode()))
    assert result.ssid == "Café Müller"
    assert result.ssid_hex is None


@pytest.mark.parametrize(
    ("first_octet", "randomized"), [(0x00, False), (0x02, True), (0xDA, True), (0xFC, False)]
)
def test_randomized_is_the_locally_administered_bit(first_octet: int, randomized: bool) -> None:
    mac = bytes((first_octet,)) + b"\x11\x22\x33\x44\x55"
    result = event(105, probe_request(mac, 1, b"x"))
    assert result.randomized is randomized


def test_fcs_is_not_read_as_elements() -> None:
    frame = frames.PROBE
    with_fcs = radiotap_frame(frame, freq=2412, signal=-40, fcs=True)
    without_fcs = radiotap_frame(frame, freq=2412, signal=-40, fcs=False)
    assert with_fcs[-4:] == struct.pack("<I", zlib.crc32(frame))
    assert event(127, with_fcs).ie_fingerprint == event(127, without_fcs).ie_fingerprint
    # Without the FCS flag the same four bytes would be a (truncated) element.
    flag_cleared = bytearray(with_fcs)
    flag_cleared[8] = 0
    with pytest.raises(MalformedFrame):
        parse(127, bytes(flag_cleared))


def test_fcs_length_bits_in_the_link_type_word() -> None:
    data = frames.PROBE + b"\x11\x22\x33\x44"
    assert event(0x24000069, data).ssid == "cafe"  # P bit, 2 x 16-bit words of FCS
    with pytest.raises(MalformedFrame):
        parse(105, data)  # no FCS bits: the 4 bytes are a broken element
    # Without the P bit the upper nibble is not an FCS length (libpcap's LT_FCS_LENGTH_PRESENT).
    with pytest.raises(MalformedFrame):
        parse(0x30000069, data)
    assert event(0x3000007F, radiotap_frame(frames.PROBE, freq=2412, signal=-1)).rssi_dbm == -1


def test_extended_presence_bitmaps_from_a_real_capture() -> None:
    """tcpdump's exthdr capture: 2 presence words, the second unknown (bits 32+)."""
    records = read_capture(capture("exthdr"))
    events = [e for lt, d, ts in records if (e := parse_frame(lt, d, ts, "s"))]
    assert len(events) == 6
    assert [e.rssi_dbm for e in events][:3] == [-22, -19, -61]
    assert {e.freq_mhz for e in events} == {2412}
    assert {e.ssid for e in events} == {"omus"}


def test_ie_fingerprint_ignores_ssid_channel_and_sequence() -> None:
    mac = bytes.fromhex("3ca9f4000001")
    caps = bytes.fromhex("010402040b16") + b"\x2d\x02\xef\x01" + b"\xdd\x05\x00\x50\xf2\x08\x00"
    a = event(105, probe_request(mac, 1, b"home", caps[:6] + b"\x03\x01\x01" + caps[6:]))
    b = event(105, probe_request(mac, 2, b"", caps[:6] + b"\x03\x01\x0b" + caps[6:]))
    assert a.ie_fingerprint == b.ie_fingerprint


def test_ie_fingerprint_follows_capabilities_and_order() -> None:
    mac = bytes.fromhex("3ca9f4000001")
    rates = b"\x01\x02\x02\x04"
    ht_a, ht_b = b"\x2d\x02\xef\x01", b"\x2d\x02\xee\x01"
    base = event(105, probe_request(mac, 1, b"", rates + ht_a)).ie_fingerprint
    assert event(105, probe_request(mac, 1, b"", rates + ht_b)).ie_fingerprint != base
    assert event(105, probe_request(mac, 1, b"", ht_a + rates)).ie_fingerprint != base
    vendor_a = b"\xdd\x07\x00\x50\xf2\x08\x00\x11\x22"
    vendor_b = b"\xdd\x07\x00\x50\xf2\x08\x00\x33\x44"  # same OUI and type, other payload
    assert (
        event(105, probe_request(mac, 1, b"", vendor_a)).ie_fingerprint
        == event(105, probe_request(mac, 1, b"", vendor_b)).ie_fingerprint
    )


def test_no_elements_gives_no_fingerprint() -> None:
    assert event(105, frames.PROBE[:24]).ie_fingerprint is None


def test_non_probe_frames_are_none() -> None:
    beacon = b"\x80\x00" + frames.PROBE[2:]
    assert parse(105, beacon) is None
    assert parse(127, radiotap_frame(beacon, freq=2412, signal=-50, fcs=False)) is None
    assert parse(1, b"\x00" * 60) is None  # Ethernet is never a probe request


def _real_probe_records() -> list[tuple[int, bytes]]:
    out = []
    for name, index in (("position_1", 100), ("SamsungA53_01.pcapng", None)):
        path = capture(name)
        probes = [(lt, d) for lt, d, _ts in read_capture(path) if parse_frame(lt, d, 0.0, "s")]
        out.append(probes[index or len(probes) // 2])
    return out


def _outcome_is_allowed(linktype: int, data: bytes) -> None:
    try:
        result = parse(linktype, data)
    except MalformedFrame:
        return
    assert result is None or isinstance(result, ProbeEvent)


def test_every_prefix_of_real_probes_is_handled() -> None:
    for linktype, data in _real_probe_records():
        outcomes = set()
        for cut in range(len(data)):
            try:
                result = parse(linktype, data[:cut])
            except MalformedFrame:
                outcomes.add("malformed")
            else:
                assert result is None or isinstance(result, ProbeEvent)
                outcomes.add(type(result).__name__)
        assert "malformed" in outcomes
        assert isinstance(parse(linktype, data), ProbeEvent)


@pytest.mark.parametrize("linktype", [105, 119, 127, 163, 0x3000007F])
def test_random_bytes_only_ever_raise_malformed(linktype: int) -> None:
    rng = random.Random(linktype)
    for _ in range(3000):
        _outcome_is_allowed(linktype, rng.randbytes(rng.randrange(0, 300)))


@pytest.mark.parametrize("linktype", [105, 119, 127, 163])
def test_random_bytes_behind_a_probe_frame_control(linktype: int) -> None:
    """Garbage that passes the frame-type check exercises the deep paths too."""
    rng = random.Random(linktype + 1)
    prefix = {105: b"", 119: frames.prism(b""), 127: b"\x00\x00\x08\x00\x00\x00\x00\x00"}
    prefix[163] = frames.avs(b"")
    for _ in range(3000):
        garbage = rng.randbytes(rng.randrange(300))
        _outcome_is_allowed(linktype, prefix[linktype] + b"\x40" + garbage)


def test_bit_flips_of_real_probes() -> None:
    rng = random.Random(3)
    for linktype, data in _real_probe_records():
        for _ in range(3000):
            mutated = bytearray(data)
            for _flip in range(rng.randrange(1, 6)):
                mutated[rng.randrange(len(mutated))] ^= 1 << rng.randrange(8)
            _outcome_is_allowed(linktype, bytes(mutated))


def test_scapy_fuzzed_frames() -> None:
    from scapy.layers.dot11 import Dot11, Dot11Elt, Dot11ProbeReq, RadioTap
    from scapy.packet import fuzz

    state = random.getstate()
    random.seed(11)  # scapy's fuzz() draws from the global generator
    try:
        template = RadioTap() / Dot11(type=0, subtype=4) / Dot11ProbeReq() / Dot11Elt(info=b"x")
        for _ in range(300):
            _outcome_is_allowed(127, bytes(fuzz(template)))
        probe_template = Dot11(type=0, subtype=4) / Dot11ProbeReq() / fuzz(Dot11Elt())
        for _ in range(300):
            _outcome_is_allowed(105, bytes(fuzz(probe_template)))
    finally:
        random.setstate(state)


@pytest.mark.parametrize(
    ("channel", "mhz"), [(1, 2412), (6, 2437), (13, 2472), (14, 2484), (36, 5180), (165, 5825)]
)
def test_channel_to_mhz(channel: int, mhz: int) -> None:
    assert channel_to_mhz(channel) == mhz


def test_channel_to_mhz_unknown() -> None:
    assert channel_to_mhz(0) is None
    assert channel_to_mhz(300) is None


def test_frames_sharing_a_body_and_a_radiotap_layout_keep_their_own_fields() -> None:
    """What is read once per element list and per radiotap layout is kept between frames; the
    MAC, sequence number, signal and frequency must still come from each frame."""
    elements = b"\x01\x04\x02\x04\x0b\x16\x2d\x02\xaa\xbb"
    seen = []
    for mac, seq, dbm, freq in [
        (b"\xda\xa1\x19\x00\x00\x01", 10, -40, 2412),
        (b"\x02\x00\x00\x00\x00\x02", 4095, -77, 2437),
        (b"\xda\xa1\x19\x00\x00\x01", 11, -41, 5180),
    ]:
        frame = probe_request(mac, seq, b"HomeNet", elements)
        seen.append(event(127, radiotap_frame(frame, freq=freq, signal=dbm)))
    assert [(e.mac, e.seq, e.rssi_dbm, e.freq_mhz) for e in seen] == [
        ("da:a1:19:00:00:01", 10, -40, 2412),
        ("02:00:00:00:00:02", 4095, -77, 2437),
        ("da:a1:19:00:00:01", 11, -41, 5180),
    ]
    assert [e.randomized for e in seen] == [True, True, True]
    assert {(e.ssid, e.ie_fingerprint) for e in seen} == {(seen[0].ssid, seen[0].ie_fingerprint)}
    assert seen[0].ssid == "HomeNet"


def test_a_vendor_namespace_is_walked_for_each_frame() -> None:
    """Its skip length is read from the frame, so two headers with the same length and presence
    words can put the signal after it at different offsets."""
    words = [
        frames.bits(frames.ANT_SIGNAL, frames.VENDOR_NS_NEXT, frames.EXT),
        frames.bits(0, 1, frames.RADIOTAP_NS_NEXT, frames.EXT),
        frames.bits(frames.ANT_SIGNAL),
    ]
    vendor = frames.vendor_namespace(b"\x00\x11\x22", 0, b"\xaa\xbb\xcc\xdd")
    first = frames.radiotap(words, [frames.signal(-10), vendor, frames.signal(-61)])
    # Header 16 bytes, signal at 16, vendor field at 18 (skip length at 22, data 24..27), then
    # the signal at 28. The second frame says skip 2 and has its signal at 26 instead.
    assert first[28] == (-61) & 0xFF and first[22:24] == b"\x04\x00"
    second = bytearray(first)
    second[22:24] = b"\x02\x00"
    second[26] = (-62) & 0xFF
    assert event(127, first).rssi_dbm == -61
    assert event(127, bytes(second)).rssi_dbm == -62
    assert event(127, first).rssi_dbm == -61
