"""Lean probe-request parser: capture record bytes in, ProbeEvent out.

Scapy dissects only ~1.5k frames/s, far below what replay and a busy live channel need, so this
module reads just the handful of fields a ProbeEvent carries with struct and slicing. Field
choices follow what tshark reports (wlan.sa, wlan.ssid, wlan_radio.signal_dbm,
wlan_radio.frequency, wlan.seq); tests/unit/sniffer/test_parse_vs_tshark.py holds us to it.
"""

from __future__ import annotations

import struct
from hashlib import blake2b

from sniffer.event import ProbeEvent
from sniffer.ssid import MAX_SSID_BYTES, ssid_text

LINKTYPE_IEEE802_11 = 105
LINKTYPE_PRISM_HEADER = 119
LINKTYPE_IEEE802_11_RADIOTAP = 127
LINKTYPE_IEEE802_11_AVS = 163
SUPPORTED_LINKTYPES = frozenset(
    {
        LINKTYPE_IEEE802_11,
        LINKTYPE_PRISM_HEADER,
        LINKTYPE_IEEE802_11_RADIOTAP,
        LINKTYPE_IEEE802_11_AVS,
    }
)
LINKTYPE_NAMES = {
    1: "Ethernet",
    105: "IEEE 802.11",
    113: "Linux cooked",
    119: "802.11 + Prism",
    127: "802.11 + radiotap",
    163: "802.11 + AVS",
}

# Capture times a ProbeEvent may carry: from the epoch up to 2100-01-01T00:00:00Z, exclusive (the
# app rejects anything else). NaN and infinities fail the comparison too.
TS_MIN = 0.0
TS_LIMIT = 4_102_444_800.0

# pcap link-type word: low 16 bits are the type; bit 26 says the top 4 bits carry the FCS length
# in 16-bit words (draft-ietf-opsawg-pcap, libpcap's LT_FCS_LENGTH_PRESENT).
_LT_TYPE_MASK = 0x0000FFFF
_LT_FCS_PRESENT = 0x04000000

_PROBE_REQUEST_FC0 = 0x40  # protocol version 0, type 0 (management), subtype 4
_FC1_PROTECTED = 0x40
_FC1_ORDER = 0x80
_MGMT_HEADER_LEN = 24
_HT_CONTROL_LEN = 4
_FCS_LEN = 4

_RT_F_FCS = 0x10  # radiotap Flags: frame includes the FCS
_RT_F_BADFCS = 0x40  # radiotap Flags: frame failed its FCS check
_RT_EXT = 0x80000000
_RT_VENDOR_NS_NEXT = 0x40000000
_RT_RADIOTAP_NS_NEXT = 0x20000000
_RT_FIELD_BITS = 0x1FFFFFFF

# (alignment, size) of radiotap namespace fields 0..27, as in the radiotap iterator that Linux
# and Wireshark share; an unknown bit ends the walk because later offsets cannot be known.
_RT_FIELDS: tuple[tuple[int, int], ...] = (
    (8, 8),  # 0 TSFT
    (1, 1),  # 1 Flags
    (1, 1),  # 2 Rate
    (2, 4),  # 3 Channel: u16 frequency, u16 flags
    (2, 2),  # 4 FHSS
    (1, 1),  # 5 dBm antenna signal
    (1, 1),  # 6 dBm antenna noise
    (2, 2),  # 7 lock quality
    (2, 2),  # 8 TX attenuation
    (2, 2),  # 9 dB TX attenuation
    (1, 1),  # 10 dBm TX power
    (1, 1),  # 11 antenna
    (1, 1),  # 12 dB antenna signal
    (1, 1),  # 13 dB antenna noise
    (2, 2),  # 14 RX flags
    (2, 2),  # 15 TX flags
    (1, 1),  # 16 RTS retries
    (1, 1),  # 17 data retries
    (4, 8),  # 18 XChannel
    (1, 3),  # 19 MCS
    (4, 8),  # 20 A-MPDU status
    (2, 12),  # 21 VHT
    (8, 12),  # 22 timestamp
    (2, 12),  # 23 HE
    (2, 12),  # 24 HE-MU
    (2, 6),  # 25 HE-MU-other-user
    (1, 1),  # 26 0-length PSDU
    (2, 4),  # 27 L-SIG
)
_RT_FLAGS = 1
_RT_CHANNEL = 3
_RT_DBM_ANTSIGNAL = 5
_RT_XCHANNEL = 18

_PRISM_HEADER_LEN = 144
_PRISM_MSGCODES = frozenset({0x44, 0x41})
_PRISM_DID_CHANNEL = frozenset({0x00030044, 0x00003041})
_PRISM_DID_RSSI = frozenset({0x00040044, 0x00004041})
_AVS_MAGIC = frozenset({b"\x80\x21\x10\x01", b"\x80\x21\x10\x02"})
_AVS_MIN_LEN = 64
_AVS_SSI_DBM = 2

# How each element id enters the ie_fingerprint. Capability elements (rates, HT/VHT/extended
# capabilities) are stable per device model/OS and go in whole; vendor-specific (221) adds only
# its OUI and type, extension (255) only its extension id; all others add just their id, so
# per-frame values (SSID, DS channel, counters) never change it. A prefix kind is 2 + the prefix
# length, so `pos + kind` is where the prefix ends (contents start at pos + 2).
_FP_ID = 0
_FP_WHOLE = 1
_FP_SSID = 2


def _fingerprint_kinds() -> bytes:
    kinds = bytearray(256)
    for eid in (1, 45, 50, 127, 191):
        kinds[eid] = _FP_WHOLE
    kinds[0] = _FP_SSID
    kinds[221] = 2 + 4  # OUI (3) + vendor type (1)
    kinds[255] = 2 + 1  # element id extension
    return bytes(kinds)


_FP_KIND = _fingerprint_kinds()

_u16 = struct.Struct("<H").unpack_from
_u32 = struct.Struct("<I").unpack_from
_prism_did_le = struct.Struct("<IHHi").unpack_from
_prism_did_be = struct.Struct(">IHHi").unpack_from
_be_u32 = struct.Struct(">I").unpack_from
_be_i32 = struct.Struct(">i").unpack_from


class MalformedFrame(ValueError):
    """A record that is truncated or garbage where an 802.11 frame was expected."""


def linktype_name(linktype: int) -> str:
    """A readable name for error messages ("105 (IEEE 802.11)")."""
    base = linktype & _LT_TYPE_MASK
    name = LINKTYPE_NAMES.get(base)
    return f"{base} ({name})" if name else str(base)


def is_supported_linktype(linktype: int) -> bool:
    """True for the 802.11 link types this parser reads (FCS bits in the word ignored)."""
    return linktype & _LT_TYPE_MASK in SUPPORTED_LINKTYPES


def parse_frame(linktype: int, data: bytes, ts: float, sensor: str) -> ProbeEvent | None:
    """Parse one capture record; None when it is not a probe request.

    `linktype` is the pcap/pcapng link-type word, FCS-length bits included. Raises
    MalformedFrame when the bytes are truncated or inconsistent, or when `ts` is not a capture
    time in [TS_MIN, TS_LIMIT): such a record cannot become a valid ProbeEvent.
    """
    if not TS_MIN <= ts < TS_LIMIT:
        raise MalformedFrame(f"capture time {ts!r} is not between 1970 and 2100")
    base = linktype & _LT_TYPE_MASK
    fcs_len = ((linktype >> 28) & 0xF) * 2 if linktype & _LT_FCS_PRESENT else 0
    if base == LINKTYPE_IEEE802_11_RADIOTAP:
        return _parse_radiotap(data, ts, sensor, fcs_len)
    if base == LINKTYPE_IEEE802_11:
        return _parse_dot11(data, 0, len(data) - fcs_len, ts, sensor, None, None)
    if base == LINKTYPE_PRISM_HEADER:
        if data[:4] in _AVS_MAGIC:
            return _parse_avs(data, ts, sensor, fcs_len)
        return _parse_prism(data, ts, sensor, fcs_len)
    if base == LINKTYPE_IEEE802_11_AVS:
        return _parse_avs(data, ts, sensor, fcs_len)
    return None


def channel_to_mhz(channel: int) -> int | None:
    """Centre frequency of a 2.4/5 GHz channel number (headers that give only the number)."""
    if channel == 14:
        return 2484
    if 1 <= channel < 14:
        return 2407 + 5 * channel
    if 14 < channel <= 196:
        return 5000 + 5 * channel
    return None


def _parse_radiotap(data: bytes, ts: float, sensor: str, fcs_len: int) -> ProbeEvent | None:
    size = len(data)
    if size < 8:
        raise MalformedFrame("radiotap header truncated")
    it_len = _u16(data, 2)[0]
    if it_len < 8 or it_len > size:
        raise MalformedFrame(f"radiotap length {it_len} does not fit a {size}-byte record")
    if it_len == size:
        raise MalformedFrame("no 802.11 frame after the radiotap header")
    if data[it_len] != _PROBE_REQUEST_FC0:
        return None
    # Like tshark, an unknown version or inconsistent fields only cost the radio information:
    # the 802.11 frame still starts at it_len.
    signal, freq, flags = _radiotap_fields(data, it_len) if data[0] == 0 else (None, None, None)
    if flags is not None:
        if flags & _RT_F_BADFCS:
            raise MalformedFrame("frame failed its FCS check (radiotap Bad FCS flag)")
        fcs_len = _FCS_LEN if flags & _RT_F_FCS else 0
    return _parse_dot11(data, it_len, size - fcs_len, ts, sensor, signal, freq)


def _radiotap_fields(data: bytes, it_len: int) -> tuple[int | None, int | None, int | None]:
    """(last dBm antenna signal, channel frequency, Flags) from a radiotap header.

    Where each field sits depends only on the header's length and presence words (unless a
    vendor namespace is present), so the walk of `_radiotap_layout` is done once per layout and
    kept; a sensor's frames nearly all share one.
    """
    words_end = 8
    while _u32(data, words_end - 4)[0] & _RT_EXT:
        if words_end + 4 > it_len:
            return None, None, None
        words_end += 4
    shape = data[2:words_end]
    layout = _RADIOTAP_LAYOUTS.get(shape)
    if layout is None:
        layout, vendor = _radiotap_layout(data, it_len, words_end)
        if not vendor:
            if len(_RADIOTAP_LAYOUTS) >= _RADIOTAP_LAYOUTS_SIZE:
                _RADIOTAP_LAYOUTS.clear()
            _RADIOTAP_LAYOUTS[shape] = layout
    signal_at, freq_at, flags_at = layout
    signal = None
    if signal_at >= 0:
        value = data[signal_at]
        signal = value - 256 if value > 127 else value
    freq = None
    for at in freq_at:
        freq = _u16(data, at)[0] or freq
    return signal, freq, data[flags_at] if flags_at >= 0 else None


#: Where the fields sit: offset of the last antenna signal, offsets of the frequencies in
#: order (tshark keeps the last non-zero one), offset of the Flags; -1 when absent.
_Layout = tuple[int, tuple[int, ...], int]
_RADIOTAP_LAYOUTS: dict[bytes, _Layout] = {}
_RADIOTAP_LAYOUTS_SIZE = 256


def _radiotap_layout(data: bytes, it_len: int, words_end: int) -> tuple[_Layout, bool]:
    """Where the fields of `_radiotap_fields` sit, and whether a vendor namespace was skipped
    (its length is read from the frame, so such a layout is not kept).

    Follows the radiotap iterator: extended bitmaps, natural alignment from the header start,
    namespace switches (bit 29 back to radiotap, bit 30 to a vendor namespace skipped by its
    skip_length). The walk stops at the first unknown field or at data past the header, keeping
    what it found before, as tshark does. tshark reports the last antenna signal and the last
    non-zero frequency (Channel, then XChannel).
    """
    words = [_u32(data, at)[0] for at in range(4, words_end, 4)]
    off = words_end
    flags_at = signal_at = -1
    freq_at: list[int] = []
    vendor = False
    in_radiotap_ns = True
    bit_base = 0
    for word in words:
        if in_radiotap_ns:
            bits = word & _RT_FIELD_BITS
            while bits:
                low = bits & -bits
                bits ^= low
                index = bit_base + low.bit_length() - 1
                spec = _RT_FIELDS[index] if index < len(_RT_FIELDS) else None
                if spec is None:
                    return (signal_at, tuple(freq_at), flags_at), vendor
                align, length = spec
                off = (off + align - 1) & -align
                if off + length > it_len:
                    return (signal_at, tuple(freq_at), flags_at), vendor
                if index == _RT_DBM_ANTSIGNAL:
                    signal_at = off
                elif index == _RT_CHANNEL:
                    freq_at.append(off)
                elif index == _RT_FLAGS:
                    flags_at = off
                elif index == _RT_XCHANNEL:
                    freq_at.append(off + 4)
                off += length
        if word & _RT_VENDOR_NS_NEXT:
            vendor = True
            off = (off + 1) & -2
            if off + 6 > it_len:
                return (signal_at, tuple(freq_at), flags_at), vendor
            off += 6 + _u16(data, off + 4)[0]
            in_radiotap_ns = False
            bit_base = 0
        elif word & _RT_RADIOTAP_NS_NEXT:
            in_radiotap_ns = True
            bit_base = 0
        else:
            bit_base += 32
    return (signal_at, tuple(freq_at), flags_at), vendor


def _parse_prism(data: bytes, ts: float, sensor: str, fcs_len: int) -> ProbeEvent | None:
    if len(data) < 4:
        raise MalformedFrame("Prism header truncated")
    if _u32(data, 0)[0] in _PRISM_MSGCODES:
        did_struct = _prism_did_le
    elif _be_u32(data, 0)[0] in _PRISM_MSGCODES:
        did_struct = _prism_did_be
    else:
        # Not a Prism message: tshark then reads the record as bare 802.11, and so do we.
        return _parse_dot11(data, 0, len(data) - fcs_len, ts, sensor, None, None)
    if len(data) < _PRISM_HEADER_LEN:
        raise MalformedFrame("Prism header truncated")
    if len(data) == _PRISM_HEADER_LEN:
        raise MalformedFrame("no 802.11 frame after the Prism header")
    if data[_PRISM_HEADER_LEN] != _PROBE_REQUEST_FC0:
        return None
    signal: int | None = None
    channel: int | None = None
    for off in range(24, _PRISM_HEADER_LEN, 12):
        did, status, _length, value = did_struct(data, off)
        if status != 0:  # 0 means "supplied"
            continue
        if did in _PRISM_DID_RSSI:
            signal = value
        elif did in _PRISM_DID_CHANNEL:
            channel = value
    freq = channel_to_mhz(channel) if channel is not None else None
    end = len(data) - fcs_len
    return _parse_dot11(data, _PRISM_HEADER_LEN, end, ts, sensor, signal, freq)


def _parse_avs(data: bytes, ts: float, sensor: str, fcs_len: int) -> ProbeEvent | None:
    size = len(data)
    if size < 8:
        raise MalformedFrame("AVS header truncated")
    hdr_len = _be_u32(data, 4)[0]
    if hdr_len < _AVS_MIN_LEN or hdr_len > size:
        raise MalformedFrame(f"AVS header length {hdr_len} does not fit a {size}-byte record")
    if hdr_len == size:
        raise MalformedFrame("no 802.11 frame after the AVS header")
    if data[hdr_len] != _PROBE_REQUEST_FC0:
        return None
    signal = _be_i32(data, 48)[0] if _be_u32(data, 44)[0] == _AVS_SSI_DBM else None
    freq = channel_to_mhz(_be_u32(data, 28)[0])
    return _parse_dot11(data, hdr_len, size - fcs_len, ts, sensor, signal, freq)


def _parse_dot11(
    data: bytes,
    start: int,
    end: int,
    ts: float,
    sensor: str,
    signal: int | None,
    freq: int | None,
) -> ProbeEvent | None:
    """Read a management frame spanning data[start:end] (FCS already excluded)."""
    if end - start < 2:
        raise MalformedFrame("802.11 frame control truncated")
    if data[start] != _PROBE_REQUEST_FC0:
        return None
    fc1 = data[start + 1]
    if fc1 & _FC1_PROTECTED:
        raise MalformedFrame("probe request with the Protected bit set: body is not readable")
    pos = start + _MGMT_HEADER_LEN
    if fc1 & _FC1_ORDER:
        pos += _HT_CONTROL_LEN
    if pos > end:
        raise MalformedFrame("802.11 management header truncated")
    first_octet = data[start + 10]
    mac = data[start + 10 : start + 16].hex(":")
    seq = _u16(data, start + 22)[0] >> 4
    elements = data[pos:end]
    read = _ELEMENTS_READ.get(elements)
    if read is None:
        read = _read_elements(elements)
        if len(_ELEMENTS_READ) >= _ELEMENTS_READ_SIZE:
            _ELEMENTS_READ.clear()
        _ELEMENTS_READ[elements] = read
    ssid, ssid_hex, fingerprint = read
    return ProbeEvent(
        ts=ts,
        mac=mac,
        ssid=ssid,
        ssid_hex=ssid_hex,
        rssi_dbm=signal,
        freq_mhz=freq,
        seq=seq,
        randomized=bool(first_octet & 0x02),
        sensor=sensor,
        ie_fingerprint=fingerprint,
    )


#: What `_read_elements` made of an element list, by its bytes: a device repeats the same
#: probe body (same SSID, same capabilities) over and over, so most frames skip the walk.
_ELEMENTS_READ: dict[bytes, tuple[str, str | None, str | None]] = {}
_ELEMENTS_READ_SIZE = 32_768


def _read_elements(elements: bytes) -> tuple[str, str | None, str | None]:
    """(SSID text, its hex when not plain text, ie_fingerprint) of a probe's element list."""
    end = len(elements)
    pos = 0
    ssid_raw: bytes | None = None
    fingerprint = bytearray()
    kinds = _FP_KIND
    while pos < end:
        if pos + 1 >= end:
            raise MalformedFrame("information element header truncated")
        eid = elements[pos]
        nxt = pos + 2 + elements[pos + 1]
        if nxt > end:
            raise MalformedFrame(f"information element {eid} runs past the end of the frame")
        kind = kinds[eid]
        if kind == _FP_ID:
            fingerprint.append(eid)
        elif kind == _FP_WHOLE:
            fingerprint += elements[pos:nxt]
        elif kind == _FP_SSID:
            fingerprint.append(0)
            if ssid_raw is None:  # like tshark, only the first SSID element is the SSID
                if nxt - pos - 2 > MAX_SSID_BYTES:  # tshark: "greater than maximum (32)"
                    raise MalformedFrame(f"SSID element of {nxt - pos - 2} bytes (at most 32)")
                ssid_raw = elements[pos + 2 : nxt]
        else:
            body = elements[pos + 2 : min(nxt, pos + kind)]
            fingerprint.append(eid)
            fingerprint.append(len(body))
            fingerprint += body
        pos = nxt
    ssid, ssid_hex = ssid_text(ssid_raw) if ssid_raw else ("", None)
    digest = blake2b(fingerprint, digest_size=8).hexdigest() if fingerprint else None
    return ssid, ssid_hex, digest
