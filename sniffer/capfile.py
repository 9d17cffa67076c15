"""Records of pcap and pcapng files, read on past damage, with every skipped byte accounted for.

Why our own reader rather than a library's: scapy's RawPcapReader/RawPcapNgReader stop quietly at
the first record or block they cannot frame (and close a gzipped file twice), dpkt's and
python-pcapng's readers raise there, and none of them tells a clean end of file from a cut one.
A capture that lost one block in the middle then looked like a short, successful one. This module
frames records itself; where a record or block cannot be framed it skips forward to the next one
that can (resynchronisation) and notes where, how many bytes and why. Invariant, held by property
tests: `bytes_read + skipped_bytes` is the size of the (decompressed) file.

Formats: classic pcap (micro- and nanosecond, either byte order) and pcapng (any number of
sections, each with its own byte order and interfaces; Enhanced, Simple and obsolete Packet
Blocks, if_tsresol and if_tsoffset), either of them gzip-compressed. A record is
`(linktype, data, ts)`; this module does not judge link types or times (sniffer.parse does).

How the next good record is found after damage:

- pcapng: every block repeats its length at its end. The next offset (any byte position, since an
  insertion can shift alignment) that holds a registered block type whose length is sane and
  repeated at its end starts the next block. Registered (or local-use) block types that carry
  no packets are ignored, as the pcapng specification asks; a block of a type nobody registered
  is taken as damage (a flipped bit turns a packet block into one) and its bytes are skipped,
  and so is a packet block of an interface that no valid interface description defines.
- pcap: records carry no marker, so the next offset where this record header and the next two
  are plausible (length 1..262144 and at most the original length, fraction of a second below
  one second, times within a week of each other and of the last good record) starts the next
  record; the chain may end early only at the end of the file. While reading on normally only a
  length of 0 or over 262144 is taken as damage (a zero-filled stretch, or a length no 802.11
  record has), so odd but valid files read as tshark reads them.
"""

from __future__ import annotations

import gzip
import os
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import IO

Record = tuple[int, bytes, float]

MAX_RECORD = 262_144  # libpcap's MAXIMUM_SNAPLEN and Wireshark's limit for 802.11 records
MAX_BLOCK = 16 * 1024 * 1024  # a larger pcapng block is taken as damage (bounds memory)
KEPT_SKIPS = 100  # skipped places remembered with their reason; all are counted

_CHUNK = 1 << 20
_SCAN = 1 << 16
_WEEK = 7 * 86_400
_GZIP_MAGIC = b"\x1f\x8b"
_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", False),
    b"\xa1\xb2\xc3\xd4": (">", False),
    b"\x4d\x3c\xb2\xa1": ("<", True),
    b"\xa1\xb2\x3c\x4d": (">", True),
}
_PCAP_HEADER_LEN = 24
_PCAP_RECORD_LEN = 16

_SHB_MAGIC = b"\n\r\r\n"  # the same bytes in either byte order
_BOM = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}
_SHB = 0x0A0D0D0A
_IDB = 1
_PB = 2  # obsolete Packet Block
_SPB = 3
_EPB = 6
# Registered block types a resynchronisation may land on: interface, packet, name resolution,
# statistics, systemd journal, decryption secrets and the two custom block types.
_RESYNC_TYPES = (_IDB, _PB, _SPB, 4, 5, _EPB, 9, 0x0A, 0x0BAD, 0x40000BAD)
# Every block type the pcapng registry assigns (besides the section header); types from
# 0x80000000 up are for local use. Any other type is not something a writer produces, so such a
# block is taken as damage (a flipped bit in a packet block's type) rather than ignored.
_REGISTERED_TYPES = frozenset(
    {*range(1, 11), 0x101, 0x102, *range(0x201, 0x214), 0x0BAD, 0x40000BAD}
)
_LOCAL_USE = 0x80000000
_MIN_BLOCK = {_SHB: 28, _IDB: 20, _PB: 32, _SPB: 16, 5: 24, _EPB: 32}
_OPT_TSRESOL = 9
_OPT_TSOFFSET = 14

# Look-ahead patterns for a plausible pcap record header (fraction of a second, captured and
# original length); candidates they find are then checked in full.
# Captured length 1..262144 (so a run of zero bytes offers no candidate), original length up to
# 262144, fraction below 1e6 (microseconds) or 1e9 (nanoseconds).
_LE_CAPLEN = rb"(?:[\x01-\xff].[\x00-\x04]|\x00[\x01-\xff][\x00-\x04]|\x00\x00[\x01-\x04])\x00"
_BE_CAPLEN = rb"\x00(?:[\x01-\x04]..|\x00[\x01-\xff].|\x00\x00[\x01-\xff])"
_PCAP_CANDIDATE = {
    ("<", False): rb"(?=.{6}[\x00-\x0f]\x00" + _LE_CAPLEN + rb".{2}[\x00-\x04]\x00)",
    ("<", True): rb"(?=.{7}[\x00-\x3b]" + _LE_CAPLEN + rb".{2}[\x00-\x04]\x00)",
    (">", False): rb"(?=.{4}\x00[\x00-\x0f].{2}" + _BE_CAPLEN + rb"\x00[\x00-\x04])",
    (">", True): rb"(?=.{4}[\x00-\x3b].{3}" + _BE_CAPLEN + rb"\x00[\x00-\x04])",
}


class CaptureError(Exception):
    """A capture source that cannot be used at all (missing, not a capture, wrong link type)."""


@dataclass(frozen=True, slots=True)
class Skip:
    """One place of a capture that could not be read: where (byte offset), how long, and why.

    Offsets of a gzipped file are in its decompressed data.
    """

    offset: int
    length: int
    reason: str


@dataclass(frozen=True, slots=True)
class _Interface:
    """What a pcapng interface description says about its packets."""

    linktype: int
    divisor: int  # ticks per second, from if_tsresol (10**6 by default)
    offset: int  # if_tsoffset, seconds added to every time

    def time(self, ticks: int) -> float:
        return ticks / self.divisor + self.offset


class _Window:
    """A forward-only view of a file with look-ahead, so a record is framed before it is trusted.

    Reading never raises: an I/O or decompression error ends the data and is kept in `failure`
    (offset, compressed bytes left unread, reason) for the reader to report.
    """

    def __init__(self, path: str) -> None:
        self._file: IO[bytes] = open(path, "rb")  # noqa: SIM115 (closed by close())
        self._size = os.fstat(self._file.fileno()).st_size
        self.compressed = self._file.read(2) == _GZIP_MAGIC
        self._file.seek(0)
        self._gzip = gzip.GzipFile(fileobj=self._file, mode="rb") if self.compressed else None
        # read1: one underlying read per call, so an error loses no data decompressed before it
        self._read = self._gzip.read1 if self._gzip is not None else self._file.read
        self.buf = bytearray()
        self.pos = 0
        self.base = 0
        self.eof = False
        self.failure: tuple[int, int, str] | None = None

    @property
    def offset(self) -> int:
        """Offset in the (decompressed) file of the next unread byte."""
        return self.base + self.pos

    def available(self, wanted: int) -> int:
        """Make up to `wanted` bytes from the current offset readable; returns how many are."""
        while len(self.buf) - self.pos < wanted and not self.eof:
            self._more(wanted - (len(self.buf) - self.pos))
        return min(wanted, len(self.buf) - self.pos)

    def advance(self, count: int) -> None:
        self.pos += count

    def seek(self, offset: int) -> None:
        """Move to `offset`, which must not lie before data already dropped from the buffer."""
        self.pos = offset - self.base

    def _more(self, wanted: int) -> None:
        if self.pos >= _CHUNK:
            del self.buf[: self.pos]
            self.base += self.pos
            self.pos = 0
        try:
            data = self._read(max(wanted, _CHUNK))
        except (OSError, EOFError, zlib.error) as exc:
            self.eof = True
            end = self.base + len(self.buf)
            if self.compressed:
                left = max(0, self._size - self._file.tell())
                reason = f"gzip data unreadable ({exc})"
                if left:
                    reason += f": {left} compressed bytes after it not read"
            else:
                left = max(0, self._size - end)
                reason = f"read error ({exc})"
            self.failure = (end, left, reason)
            return
        if not data:
            self.eof = True
        else:
            self.buf += data

    def close(self) -> None:
        """Release the file; safe to call more than once."""
        try:
            if self._gzip is not None:
                self._gzip.close()
        finally:
            self._file.close()


class CaptureFile:
    """An open pcap or pcapng file: its format, its records, and an account of every byte.

    Opening raises CaptureError when the file is not a capture at all; reading never raises.
    `bytes_read + skipped_bytes` is the size of the (decompressed) file once `items()` ended.
    """

    def __init__(self, path: str) -> None:
        try:
            self.w = _Window(path)
        except OSError as exc:
            raise CaptureError(f"{path}: cannot read ({exc.strerror or exc})") from None
        self.compressed = self.w.compressed
        self.bytes_read = 0
        self.skipped_bytes = 0
        self.skip_places = 0
        self.skips: list[Skip] = []
        self._last_skip_end = -1
        self._last_kept = False
        self.linktype: int | None = None
        try:
            have = self.w.available(_PCAP_HEADER_LEN)
            magic = bytes(self.w.buf[:4])
            pcap = _PCAP_MAGIC.get(magic)
            if pcap is not None:
                if have < _PCAP_HEADER_LEN:
                    raise CaptureError(f"{path}: pcap file header cut short")
                self.format = "pcap"
                self._order, self._nano = pcap
                self.linktype = struct.unpack_from(self._order + "I", self.w.buf, 20)[0]
            elif magic == _SHB_MAGIC:
                self.format = "pcapng"
            else:
                why = "empty" if have == 0 else "unknown magic number"
                if self.w.failure is not None:
                    why = self.w.failure[2]
                raise CaptureError(f"{path}: not a pcap or pcapng capture file ({why})")
        except BaseException:
            self.w.close()
            raise

    def items(self) -> Iterator[int | Record | None]:
        """Records in file order; for pcapng also, per block, an interface's link type (int)
        and None for a packet skipped because no valid interface description defines its
        interface."""
        if self.format == "pcap":
            assert self.linktype is not None
            yield from self._pcap(self._order, self._nano, self.linktype)
        else:
            yield from self._pcapng()

    def close(self) -> None:
        """Release the file; safe to call more than once."""
        self.w.close()

    # -- accounting ------------------------------------------------------------------------

    def _accept(self, count: int) -> None:
        self.w.advance(count)
        self.bytes_read += count

    def _skip(self, offset: int, length: int, reason: str, *, merge: bool = True) -> None:
        """Note skipped bytes; a skip right after the previous one extends that place (whose
        reason then names the first two causes)."""
        self.skipped_bytes += length
        if merge and offset == self._last_skip_end:
            if self._last_kept:
                last = self.skips[-1]
                if reason not in last.reason and "; then " not in last.reason:
                    reason = f"{last.reason}; then {reason}"
                else:
                    reason = last.reason
                self.skips[-1] = Skip(last.offset, last.length + length, reason)
        else:
            self.skip_places += 1
            self._last_kept = len(self.skips) < KEPT_SKIPS
            if self._last_kept:
                self.skips.append(Skip(offset, length, reason))
        self._last_skip_end = offset + length

    def _skip_rest(self, start: int, reason: str) -> None:
        """Skip from `start` (the current offset or before it) to the end of the data."""
        w = self.w
        while w.available(_CHUNK):
            w.advance(w.available(_CHUNK))
        self._skip(start, w.offset - start, reason)

    def _note_read_failure(self) -> None:
        if self.w.failure is not None:
            offset, left, reason = self.w.failure
            self._skip(offset, left, reason, merge=False)

    def _resync(
        self, reason: str, pattern: re.Pattern[bytes], width: int, good: Callable[[], bool]
    ) -> None:
        """Skip from the current offset to the next one after it where `good()` holds.

        `pattern` finds candidate offsets cheaply (it looks at `width` bytes); `good` checks the
        candidate at the current offset in full. Without one, the rest of the data is skipped.
        """
        w = self.w
        start = w.offset
        w.advance(1)
        while True:
            have = w.available(_SCAN)
            if have < width:
                break
            base = w.offset
            chunk = bytes(w.buf[w.pos : w.pos + have])
            for found in pattern.finditer(chunk):
                w.seek(base + found.start())
                if good():
                    self._skip(start, w.offset - start, reason)
                    return
            if have < _SCAN:  # the end of the data: nothing further can start a record
                break
            w.seek(base + have - width + 1)
        self._skip_rest(start, reason)

    # -- pcap ------------------------------------------------------------------------------

    def _pcap(self, order: str, nano: bool, linktype: int) -> Iterator[Record]:
        """The records after the 24-byte file header."""
        w = self.w
        self._accept(_PCAP_HEADER_LEN)
        header = struct.Struct(order + "IIII")
        scale = 1e-9 if nano else 1e-6
        frac_limit = 1_000_000_000 if nano else 1_000_000
        pattern = re.compile(_PCAP_CANDIDATE[order, nano], re.DOTALL)
        last_sec: int | None = None
        while True:
            have = w.available(_PCAP_RECORD_LEN)
            if have == 0:
                break
            if have < _PCAP_RECORD_LEN:
                self._skip_rest(
                    w.offset, f"record header cut off by the end of the file ({have} of 16 bytes)"
                )
                break
            sec, frac, incl, _orig = header.unpack_from(w.buf, w.pos)
            size = _PCAP_RECORD_LEN + incl
            if incl > MAX_RECORD:
                problem = f"record length {incl} is over the maximum of {MAX_RECORD}"
            elif incl == 0:  # nothing to read; typically a zero-filled stretch of the file
                problem = "record of length 0"
            elif w.available(size) < size:
                problem = f"record of {incl} bytes runs past the end of the file"
            else:
                start = w.pos + _PCAP_RECORD_LEN
                data = bytes(w.buf[start : start + incl])
                self._accept(size)
                last_sec = sec
                yield linktype, data, sec + frac * scale
                continue
            check = self._pcap_candidate(header, frac_limit, last_sec)
            self._resync(problem, pattern, _PCAP_RECORD_LEN, check)
        self._note_read_failure()

    def _pcap_candidate(
        self, header: struct.Struct, frac_limit: int, ref: int | None
    ) -> Callable[[], bool]:
        w = self.w

        def plausible(fields: tuple[int, ...], near: int | None) -> bool:
            sec, frac, incl, orig = fields
            return (
                0 < incl <= orig <= MAX_RECORD
                and frac < frac_limit
                and (near is None or abs(sec - near) <= _WEEK)
            )

        def good() -> bool:
            if w.available(_PCAP_RECORD_LEN) < _PCAP_RECORD_LEN:
                return False
            first = header.unpack_from(w.buf, w.pos)
            if not plausible(first, ref):
                return False
            end = _PCAP_RECORD_LEN + first[2]
            if w.available(end) < end:
                return False
            for _ in range(2):  # the next two headers must be plausible too, or the data end
                have = w.available(end + _PCAP_RECORD_LEN) - end
                if have < _PCAP_RECORD_LEN:
                    return True
                fields = header.unpack_from(w.buf, w.pos + end)
                if not plausible(fields, first[0]):
                    return False
                end += _PCAP_RECORD_LEN + fields[2]
            return True

        return good

    # -- pcapng ----------------------------------------------------------------------------

    def _pcapng(self) -> Iterator[int | Record | None]:
        w = self.w
        order = "<"  # until a section header says otherwise
        interfaces: list[_Interface | None] = []
        while True:
            have = w.available(12)
            if have == 0:
                break
            start = w.offset
            if have < 12:
                self._skip_rest(
                    start, f"block header cut off by the end of the file ({have} of 12 bytes)"
                )
                break
            btype, length, problem, block_order = self._frame(order)
            if problem is not None:
                self._resync(problem, _pcapng_pattern(order), 4, partial(self._framed, order))
                continue
            i = w.pos
            if btype == _SHB:
                order = block_order
                interfaces = []
                self._accept(length)
            elif btype == _IDB:
                interface = _interface(w.buf, i, length, order)
                interfaces.append(interface)
                if interface is None:
                    self._skip(start, length, "interface description with malformed options")
                    w.advance(length)
                else:
                    self._accept(length)
                    yield interface.linktype
            elif btype in (_EPB, _PB, _SPB):
                if btype == _SPB:
                    iface_id, ticks = 0, None
                    caplen = min(struct.unpack_from(order + "I", w.buf, i + 8)[0], length - 16)
                    data_at = i + 12
                else:
                    if btype == _EPB:
                        iface_id, high, low, caplen = struct.unpack_from(
                            order + "IIII", w.buf, i + 8
                        )
                    else:
                        iface_id, _drops, high, low, caplen = struct.unpack_from(
                            order + "HHIII", w.buf, i + 8
                        )
                    ticks = (high << 32) | low
                    data_at = i + 28
                iface = interfaces[iface_id] if iface_id < len(interfaces) else None
                if iface is None:
                    self._skip(
                        start,
                        length,
                        f"packet of interface {iface_id}, which no valid interface "
                        "description defines",
                    )
                    w.advance(length)
                    yield None
                    continue
                data = bytes(w.buf[data_at : data_at + caplen])
                ts = iface.time(ticks) if ticks is not None else float("nan")
                self._accept(length)
                yield iface.linktype, data, ts
            elif btype in _REGISTERED_TYPES or btype >= _LOCAL_USE:
                self._accept(length)  # name resolution, statistics, secrets, custom: not needed
            else:
                self._skip(start, length, f"block of unregistered type {btype:#010x}")
                w.advance(length)
        self._note_read_failure()

    def _framed(self, order: str) -> bool:
        return self._frame(order)[2] is None

    def _frame(self, order: str) -> tuple[int, int, str | None, str]:
        """(type, length, problem or None, byte order) of the block at the current offset.

        The whole block is made readable when its length allows; a section header brings its
        own byte order.
        """
        w = self.w
        if w.available(12) < 12:
            return 0, 0, "block header cut off by the end of the file", order
        i = w.pos
        if w.buf[i : i + 4] == _SHB_MAGIC:
            bom_order = _BOM.get(bytes(w.buf[i + 8 : i + 12]))
            if bom_order is None:
                return _SHB, 0, "section header with an unknown byte-order magic", order
            order = bom_order
        btype, length = struct.unpack_from(order + "II", w.buf, i)
        if length < _MIN_BLOCK.get(btype, 12):
            return (
                btype,
                length,
                f"block length {length} is too small for block type {btype:#x}",
                order,
            )
        if length % 4:
            return btype, length, f"block length {length} is not a multiple of 4", order
        if length > MAX_BLOCK:
            return btype, length, f"block length {length} is over the maximum of {MAX_BLOCK}", order
        if w.available(length) < length:
            return btype, length, f"block of {length} bytes runs past the end of the file", order
        i = w.pos
        trailer = struct.unpack_from(order + "I", w.buf, i + length - 4)[0]
        if trailer != length:
            return (
                btype,
                length,
                f"block length {length} differs from the {trailer} at its end",
                order,
            )
        if btype == _SHB and struct.unpack_from(order + "H", w.buf, i + 12)[0] != 1:
            return btype, length, "section header of an unknown major version", order
        if btype in (_EPB, _PB):
            caplen = struct.unpack_from(order + "I", w.buf, i + 20)[0]
            if caplen > length - 32:
                return btype, length, f"packet length {caplen} does not fit its block", order
        return btype, length, None, order


def _pcapng_pattern(order: str) -> re.Pattern[bytes]:
    words = [re.escape(struct.pack(order + "I", btype)) for btype in _RESYNC_TYPES]
    return re.compile(b"(?=" + b"|".join([re.escape(_SHB_MAGIC), *words]) + b")")


def _interface(buf: bytearray, i: int, length: int, order: str) -> _Interface | None:
    """The interface an IDB at buf[i:] describes; None when its options are malformed."""
    linktype = struct.unpack_from(order + "H", buf, i + 8)[0]
    divisor = 10**6
    offset = 0
    pos = i + 16
    end = i + length - 4
    while pos + 4 <= end:
        code, size = struct.unpack_from(order + "HH", buf, pos)
        if code == 0:  # opt_endofopt
            break
        if pos + 4 + size > end:
            return None
        if code == _OPT_TSRESOL and size >= 1:
            exponent = buf[pos + 4]
            divisor = 2 ** (exponent & 0x7F) if exponent & 0x80 else 10**exponent
        elif code == _OPT_TSOFFSET and size >= 8:
            offset = struct.unpack_from(order + "q", buf, pos + 4)[0]
        pos += 4 + ((size + 3) & ~3)
    return _Interface(linktype, divisor, offset)
