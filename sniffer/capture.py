"""Where frames come from: capture files and a monitor-mode interface, both through scapy.

Scapy is the capture layer only: records come out as raw bytes plus the link type and time, and
sniffer.parse does the (fast) reading. A record is `(linktype, data, ts)` in both cases.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from scapy.error import Scapy_Exception
from scapy.utils import RawPcapNgReader, RawPcapReader

from sniffer.parse import (
    LINKTYPE_IEEE802_11,
    LINKTYPE_IEEE802_11_RADIOTAP,
    LINKTYPE_PRISM_HEADER,
    is_supported_linktype,
    linktype_name,
)

Record = tuple[int, bytes, float]

PROBE_REQUEST_FILTER = "type mgt subtype probe-req"
DEFAULT_RCVBUF = 32 * 1024 * 1024
_MAX_FRAME = 65535
_POLL_INTERVAL = 0.2

# Linux ARPHRD_* values of a monitor-mode interface, and the pcap link type each one gives.
ARPHRD_TO_LINKTYPE = {
    801: LINKTYPE_IEEE802_11,
    802: LINKTYPE_PRISM_HEADER,
    803: LINKTYPE_IEEE802_11_RADIOTAP,
}
ARPHRD_NAMES = {1: "Ethernet", 772: "loopback", 776: "SIT tunnel", 65534: "none (tun)"}

_PCAPNG_SHB = b"\n\r\r\n"  # same bytes in either byte order
_PCAPNG_BOM = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}


class CaptureError(Exception):
    """A capture source that cannot be used at all (missing, not a capture, wrong link type)."""


class CaptureReader(Iterator[Record]):
    """Records of a pcap or pcapng file, without dissection.

    A cut last record or stray bytes after the last complete block are not fatal: they end the
    file and are counted in `damaged`, which replay reports as malformed.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self.damaged = 0
        if not os.path.exists(self.path):
            raise CaptureError(f"{self.path}: no such file")
        if os.path.isdir(self.path):
            raise CaptureError(f"{self.path}: is a directory, not a capture file")
        try:
            self._reader: Any = RawPcapReader(self.path)
        except Scapy_Exception as exc:
            raise CaptureError(f"{self.path}: not a pcap or pcapng capture file ({exc})") from None
        except OSError as exc:
            raise CaptureError(f"{self.path}: cannot read ({exc.strerror or exc})") from None
        self.is_pcapng = isinstance(self._reader, RawPcapNgReader)
        self.linktype: int | None = None
        if not self.is_pcapng:
            self.linktype = int(self._reader.linktype)
            if not is_supported_linktype(self.linktype):
                self._reader.close()
                raise CaptureError(
                    f"{self.path}: link type {linktype_name(self.linktype)} is not 802.11 "
                    "(expected 105, 119, 127 or 163: a monitor-mode capture)"
                )
        self._records = self._pcapng_records() if self.is_pcapng else self._pcap_records()

    def __next__(self) -> Record:
        return next(self._records)

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the file (also done when iteration ends)."""
        self._reader.close()

    def _pcap_records(self) -> Iterator[Record]:
        reader = self._reader
        stream: IO[bytes] = reader.f
        linktype = self.linktype
        assert linktype is not None
        scale = 1e-9 if reader.nano else 1e-6
        end_of_last = stream.tell()
        try:
            for data, meta in reader:
                end_of_last = stream.tell()
                if len(data) < meta.caplen:  # cut short by the end of the file
                    self.damaged += 1
                    continue
                yield linktype, data, meta.sec + meta.usec * scale
            if stream.tell() > end_of_last:
                self.damaged += 1
        finally:
            reader.close()

    def _pcapng_records(self) -> Iterator[Record]:
        reader = self._reader
        stream: IO[bytes] = reader.f
        end_of_last = stream.tell()
        ts = 0.0
        try:
            for data, meta in reader:
                end_of_last = stream.tell()
                if meta.tshigh is not None:
                    ts = ((meta.tshigh << 32) | meta.tslow) / meta.tsresol
                yield meta.linktype, data, ts
            if _pcapng_tail_damaged(stream, end_of_last, reader.endian):
                self.damaged += 1
        finally:
            reader.close()


def read_capture(path: str | os.PathLike[str]) -> CaptureReader:
    """Open a pcap/pcapng file (optionally gzipped) and iterate its `(linktype, data, ts)`.

    Raises CaptureError with a one-line reason when the file cannot be used.
    """
    return CaptureReader(path)


def _pcapng_tail_damaged(stream: IO[bytes], start: int, endian: str) -> bool:
    """Whether the blocks after the last packet scapy returned are incomplete or garbage.

    Scapy stops quietly at a cut block, so the tail is walked again to tell a clean end of file
    from a damaged one.
    """
    stream.seek(start)
    while True:
        head = stream.read(8)
        if not head:
            return False
        if len(head) < 8:
            return True
        if head[:4] == _PCAPNG_SHB:
            bom = stream.read(4)
            if bom not in _PCAPNG_BOM:
                return True
            endian = _PCAPNG_BOM[bom]
            length = struct.unpack(endian + "I", head[4:])[0]
            rest = length - 12
        else:
            length = struct.unpack(endian + "I", head[4:])[0]
            rest = length - 8
        if length < 12 or length % 4 or rest < 4:
            return True
        body = stream.read(rest)
        if len(body) < rest or struct.unpack(endian + "I", body[-4:])[0] != length:
            return True


def interface_linktype(iface: str) -> int:
    """The pcap link type a capture on `iface` yields; CaptureError if it is not 802.11.

    Checked before opening the socket so the user learns that the card is not in monitor mode
    rather than reading a BPF compiler message.
    """
    try:
        socket.if_nametoindex(iface)
    except OSError:
        raise CaptureError(f"no network interface named {iface!r} (see `ip link`)") from None
    type_file = Path("/sys/class/net") / iface / "type"
    try:
        arphrd = int(type_file.read_text().strip())
    except (OSError, ValueError):
        raise CaptureError(f"cannot read the link type of {iface!r} from {type_file}") from None
    linktype = ARPHRD_TO_LINKTYPE.get(arphrd)
    if linktype is None:
        name = ARPHRD_NAMES.get(arphrd, "not 802.11")
        raise CaptureError(
            f"interface {iface!r} has link type ARPHRD {arphrd} ({name}), not 802.11: it is not "
            "in monitor mode (try `iw dev IFACE set type monitor` or `airmon-ng start IFACE`)"
        )
    return linktype


def live_frames(
    iface: str,
    *,
    count: int | None = None,
    timeout: float | None = None,
    stop: threading.Event | None = None,
    bpf_filter: str = PROBE_REQUEST_FILTER,
    rcvbuf: int = DEFAULT_RCVBUF,
) -> Generator[Record, None, None]:
    """Open a monitor-mode interface and iterate `(linktype, data, ts)` of received frames.

    Uses scapy's L2 listen socket with a kernel BPF filter, so only probe requests reach Python;
    the receive buffer is enlarged so a burst is buffered rather than dropped. Problems with the
    interface (missing, not monitor mode, no permission) raise CaptureError here, before any
    frame is read. Iteration ends after `count` frames, after `timeout` seconds, or once `stop`
    is set (checked every 0.2 s); the socket is closed then, or by the generator's close().
    """
    linktype = interface_linktype(iface)
    sock = _open_listen_socket(iface, bpf_filter, rcvbuf)
    return _receive(sock, linktype, count, timeout, stop)


def _receive(
    sock: Any,
    linktype: int,
    count: int | None,
    timeout: float | None,
    stop: threading.Event | None,
) -> Generator[Record, None, None]:
    fd = sock.ins.fileno()
    deadline = None if timeout is None else time.monotonic() + timeout
    seen = 0
    try:
        while count is None or seen < count:
            if stop is not None and stop.is_set():
                return
            wait = _POLL_INTERVAL
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                wait = min(wait, left)
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                continue
            _cls, data, ts = sock.recv_raw(_MAX_FRAME)
            if not data:
                continue
            seen += 1
            yield linktype, data, float(ts) if ts is not None else time.time()
    finally:
        sock.close()


def _open_listen_socket(iface: str, bpf_filter: str, rcvbuf: int) -> Any:
    """Open conf.L2listen on `iface`, turning OS errors into one clear CaptureError."""
    import scapy.arch
    import scapy.layers.dot11  # noqa: F401  (maps ARPHRD 801-803 to 802.11 for the socket)
    from scapy.config import conf

    try:
        sock = conf.L2listen(iface=iface, filter=bpf_filter)
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EACCES):
            raise CaptureError(
                f"live capture on {iface!r} needs root (or CAP_NET_RAW): run with sudo"
            ) from None
        if exc.errno in (errno.ENODEV, errno.ENXIO):
            raise CaptureError(f"no network interface named {iface!r} (see `ip link`)") from None
        raise CaptureError(f"cannot capture on {iface!r}: {exc.strerror or exc}") from None
    except Scapy_Exception as exc:
        raise CaptureError(f"cannot capture on {iface!r}: {exc}") from None
    for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
        if option is None:
            continue
        try:
            sock.ins.setsockopt(socket.SOL_SOCKET, option, rcvbuf)
            break
        except OSError:
            continue
    return sock
