"""Where the records and blocks of an UNDAMAGED capture file lie, by a few lines of struct.

Tests use it to cut, overwrite or drop exactly one record or block of a real capture, and to say
by hand how many bytes the reader must report skipped. Deliberately independent of
sniffer.capfile: it trusts its input, which is why it only ever sees the original files.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class Piece:
    """A record (pcap) or block (pcapng): offset in the file, total size, pcapng block type."""

    offset: int
    size: int
    btype: int = -1

    @property
    def end(self) -> int:
        return self.offset + self.size


def pcap_records(data: bytes) -> list[Piece]:
    """The records of a little-endian pcap file, after its 24-byte header."""
    assert data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"), "little-endian pcap only"
    pieces = []
    pos = 24
    while pos < len(data):
        incl = struct.unpack_from("<I", data, pos + 8)[0]
        pieces.append(Piece(pos, 16 + incl))
        pos += 16 + incl
    assert pos == len(data)
    return pieces


def pcapng_blocks(data: bytes) -> list[Piece]:
    """The blocks of a little-endian pcapng file."""
    pieces = []
    pos = 0
    while pos < len(data):
        btype, length = struct.unpack_from("<II", data, pos)
        pieces.append(Piece(pos, length, btype))
        pos += length
    assert pos == len(data)
    return pieces


def without(data: bytes, piece: Piece) -> bytes:
    """The file with one record or block removed: what tshark should read of a damaged copy."""
    return data[: piece.offset] + data[piece.end :]


def to_big_endian_pcapng(data: bytes) -> bytes:
    """A little-endian pcapng of SHB, IDB and EPB blocks re-encoded big-endian.

    Section header and packet options are dropped; interface options are kept, with the numbers
    of if_speed (8) and if_tsoffset (14) swapped too. Other block types are dropped.
    """
    out = bytearray()
    for piece in pcapng_blocks(data):
        body = data[piece.offset + 8 : piece.end - 4]
        if piece.btype == 0x0A0D0D0A:
            major, minor = struct.unpack_from("<HH", body, 4)
            new = struct.pack(">IHHq", 0x1A2B3C4D, major, minor, -1)
        elif piece.btype == 1:
            linktype, _reserved, snaplen = struct.unpack_from("<HHI", body)
            new = struct.pack(">HHI", linktype, 0, snaplen) + _options_big_endian(body[8:])
        elif piece.btype == 6:
            iface, high, low, caplen, origlen = struct.unpack_from("<IIIII", body)
            packet = body[20 : 20 + caplen]
            packet += b"\x00" * (-len(packet) % 4)
            new = struct.pack(">IIIII", iface, high, low, caplen, origlen) + packet
        else:
            continue
        length = len(new) + 12
        btype = 0x0A0D0D0A if piece.btype == 0x0A0D0D0A else piece.btype
        out += struct.pack(">II", btype, length) + new + struct.pack(">I", length)
    return bytes(out)


def _options_big_endian(raw: bytes) -> bytes:
    out = bytearray()
    pos = 0
    while pos + 4 <= len(raw):
        code, size = struct.unpack_from("<HH", raw, pos)
        value = raw[pos + 4 : pos + 4 + size]
        if code in (8, 14) and size == 8:
            value = value[::-1]
        out += struct.pack(">HH", code, size) + value + b"\x00" * (-size % 4)
        if code == 0:
            break
        pos += 4 + size + (-size % 4)
    return bytes(out)
