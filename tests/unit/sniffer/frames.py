"""Builders for hand-made capture records: radiotap with any presence words, Prism, AVS.

Each edge case of the parser is written down as bytes here once, then checked both against our
expectations (test_parse.py) and against tshark (test_parse_vs_tshark.py).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

from sniffer.synth import probe_request, write_pcap

MAC = bytes.fromhex("a2b3c4d5e6f7")
ELEMENTS = bytes.fromhex("010402040b16")  # Supported Rates 1, 2, 5.5, 11
PROBE = probe_request(MAC, 77, b"cafe", ELEMENTS)

# radiotap presence bits
TSFT, FLAGS, RATE, CHANNEL, ANT_SIGNAL, ANTENNA, RX_FLAGS, XCHANNEL = 0, 1, 2, 3, 5, 11, 14, 18
RADIOTAP_NS_NEXT, VENDOR_NS_NEXT, EXT = 29, 30, 31


def bits(*numbers: int) -> int:
    """A presence word with the given bits set."""
    word = 0
    for number in numbers:
        word |= 1 << number
    return word


def radiotap(
    words: Sequence[int],
    fields: Sequence[tuple[int, bytes]],
    frame: bytes = PROBE,
    version: int = 0,
) -> bytes:
    """Radiotap header with explicit presence words; `fields` are (alignment, bytes) in order.

    Padding is inserted so each field is naturally aligned from the header start, as drivers do.
    """
    body = bytearray()
    offset = 4 + 4 * len(words)
    for align, value in fields:
        pad = -(offset + len(body)) % align
        body += b"\x00" * pad + value
    length = offset + len(body)
    head = struct.pack("<BBH", version, 0, length) + b"".join(struct.pack("<I", w) for w in words)
    return head + bytes(body) + frame


def channel(freq: int, flags: int = 0x00A0) -> tuple[int, bytes]:
    return 2, struct.pack("<HH", freq, flags)


def xchannel(freq: int, number: int) -> tuple[int, bytes]:
    return 4, struct.pack("<IHBB", 0x140, freq, number, 0)


def signal(dbm: int) -> tuple[int, bytes]:
    return 1, struct.pack("<b", dbm)


def flags(value: int) -> tuple[int, bytes]:
    return 1, bytes((value,))


def u8(value: int) -> tuple[int, bytes]:
    return 1, bytes((value,))


def vendor_namespace(oui: bytes, sub_ns: int, data: bytes) -> tuple[int, bytes]:
    """The bit-30 field: OUI, sub-namespace, skip length, then the vendor data it skips."""
    return 2, oui + bytes((sub_ns,)) + struct.pack("<H", len(data)) + data


_PRISM_DIDS = tuple(0x00010044 + (n << 16) for n in range(10))  # host time ... frame length


def prism(
    frame: bytes = PROBE,
    *,
    rssi: int = -55,
    chan: int = 6,
    rssi_status: int = 0,
    chan_status: int = 0,
    endian: str = "<",
    msgcode: int = 0x44,
    type2: bool = False,
) -> bytes:
    """A 144-byte Prism (wlan-ng) header with the usual ten DID items, then `frame`."""
    head = struct.pack(endian + "II16s", msgcode, 144, b"wlan0")
    for did in _PRISM_DIDS:
        status, value = 0, 0
        if did == 0x00030044:
            status, value = chan_status, chan
        elif did == 0x00040044:
            status, value = rssi_status, rssi
        if type2:
            did = ((did >> 16) << 12) | 0x41
        head += struct.pack(endian + "IHHI", did, status, 4, value & 0xFFFFFFFF)
    return head + frame


def avs(
    frame: bytes = PROBE,
    *,
    ssi_type: int = 2,
    ssi_signal: int = -61,
    chan: int = 11,
    phytype: int = 4,
    version: int = 0x80211001,
    length: int = 64,
) -> bytes:
    """An AVS (wlancap) header, big-endian, then `frame`."""
    head = struct.pack(
        ">IIQQIIIIIIiiII",
        version,
        length,
        1,
        2,
        phytype,
        chan,
        20,
        0,
        0,
        ssi_type,
        ssi_signal,
        -95,
        0,
        0,
    )
    return head + b"\x00" * (length - 64) + frame


def probe(flags_byte: int = 0, ssid: bytes = b"cafe", elements: bytes = ELEMENTS) -> bytes:
    return probe_request(MAC, 77, ssid, elements, flags=flags_byte)


_ORDERED = probe(0x80)
_CHAN_SIG_XCHAN = [bits(CHANNEL, ANT_SIGNAL, XCHANNEL)]
_FLAGS_SIG = [bits(FLAGS, ANT_SIGNAL)]


def _bare_radiotap(length: int, present: int) -> bytes:
    return struct.pack("<BBHI", 0, 0, length, present) + PROBE


# name -> (link type word, record bytes). Expected results live in test_parse.py.
EDGE_CASES: dict[str, tuple[int, bytes]] = {
    "channel_then_xchannel": (
        127,
        radiotap(_CHAN_SIG_XCHAN, [channel(2412), signal(-50), xchannel(5180, 36)]),
    ),
    "xchannel_only": (
        127,
        radiotap([bits(ANT_SIGNAL, XCHANNEL)], [signal(-50), xchannel(5180, 36)]),
    ),
    "xchannel_zero_keeps_channel": (
        127,
        radiotap(_CHAN_SIG_XCHAN, [channel(2412), signal(-50), xchannel(0, 36)]),
    ),
    "channel_zero": (127, radiotap([bits(CHANNEL, ANT_SIGNAL)], [channel(0), signal(-50)])),
    "vendor_namespace_skipped": (
        127,
        radiotap(
            [
                bits(ANT_SIGNAL, VENDOR_NS_NEXT, EXT),
                bits(0, 1, RADIOTAP_NS_NEXT, EXT),
                bits(ANT_SIGNAL),
            ],
            [signal(-40), vendor_namespace(b"\x00\x11\x22", 0, b"\xaa\xbb\xcc\xdd"), signal(-60)],
        ),
    ),
    "three_antenna_signals": (
        127,
        radiotap(
            [
                bits(ANT_SIGNAL, RADIOTAP_NS_NEXT, EXT),
                bits(ANT_SIGNAL, ANTENNA, RADIOTAP_NS_NEXT, EXT),
                bits(ANT_SIGNAL, ANTENNA),
            ],
            [signal(-30), signal(-70), u8(0), signal(-50), u8(1)],
        ),
    ),
    "unknown_bit_stops_walk": (
        127,
        radiotap(
            [bits(ANT_SIGNAL, EXT), bits(CHANNEL, RADIOTAP_NS_NEXT, EXT), bits(ANT_SIGNAL)],
            [signal(-30), (4, b"\x00" * 4), signal(-70)],
        ),
    ),
    "fcs_flag": (
        127,
        radiotap(_FLAGS_SIG, [flags(0x10), signal(-60)], PROBE + b"\x1a\x2b\x3c\x4d"),
    ),
    "bad_fcs_flag": (
        127,
        radiotap(_FLAGS_SIG, [flags(0x50), signal(-60)], PROBE + b"\x00" * 4),
    ),
    "radiotap_version_1": (
        127,
        radiotap([bits(CHANNEL, ANT_SIGNAL)], [channel(2412), signal(-50)], version=1),
    ),
    "radiotap_field_past_header": (127, _bare_radiotap(8, bits(CHANNEL, ANT_SIGNAL))),
    "radiotap_bitmap_past_header": (127, _bare_radiotap(8, bits(EXT))),
    "radiotap_length_past_record": (127, _bare_radiotap(200, bits(ANT_SIGNAL))),
    "order_bit_ht_control": (105, _ORDERED[:24] + b"\x01\x02\x03\x04" + _ORDERED[24:]),
    "protected_bit": (105, probe(0x40)),
    "retry_and_power_save": (105, probe(0x18)),
    "to_and_from_ds": (105, probe(0x03)),
    "protocol_version_1": (105, b"\x41" + PROBE[1:]),
    "no_ssid_element": (105, PROBE[:24] + ELEMENTS),
    "two_ssid_elements": (105, probe(ssid=b"first", elements=b"\x00\x06second" + ELEMENTS)),
    "ssid_32_bytes": (105, probe(ssid=b"x" * 32)),
    "ssid_33_bytes": (105, probe(ssid=b"x" * 33)),
    "second_ssid_element_33_bytes": (
        105,
        probe(ssid=b"first", elements=b"\x00\x21" + b"y" * 33 + ELEMENTS),
    ),
    "ssid_with_rlo_and_nul": (105, probe(ssid="a\u202eb\x00".encode())),
    "element_past_end": (105, PROBE[:-2]),
    "fcs_length_bits_4": (0x24000069, PROBE + b"\x11\x22\x33\x44"),
    "prism": (119, prism()),
    "prism_rssi_not_supplied": (119, prism(rssi_status=1)),
    "prism_channel_not_supplied": (119, prism(chan_status=1)),
    "prism_type2_dids": (119, prism(type2=True)),
    "prism_big_endian": (119, prism(endian=">")),
    "prism_channel_14": (119, prism(chan=14)),
    "prism_channel_36": (119, prism(chan=36)),
    "prism_unknown_msgcode_is_bare_80211": (119, PROBE),
    "prism_truncated": (119, prism()[:100]),
    "avs": (163, avs()),
    "avs_v2": (163, avs(version=0x80211002, length=80)),
    "avs_normalized_rssi": (163, avs(ssi_type=1, ssi_signal=50)),
    "avs_5ghz": (163, avs(chan=36, phytype=8)),
    "avs_inside_prism_linktype": (119, avs()),
}


def write_single(path: Path, linktype: int, data: bytes, ts: float = 1_700_000_000.5) -> Path:
    """Write one record to a pcap file (for tshark)."""
    with path.open("wb") as out:
        write_pcap(out, linktype, [(ts, data)])
    return path
