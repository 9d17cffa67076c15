"""Where frames come from: capture files (sniffer.capfile) and a monitor-mode interface (scapy).

A record is `(linktype, data, ts)` in both cases; sniffer.parse does the (fast) reading. This
module decides which records are worth parsing: a file or interface that is not 802.11 is refused
up front with a CaptureError, before any Kafka connection.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from scapy.error import Scapy_Exception

from sniffer.capfile import CaptureError, CaptureFile, Record, Skip
from sniffer.parse import (
    LINKTYPE_IEEE802_11,
    LINKTYPE_IEEE802_11_RADIOTAP,
    LINKTYPE_PRISM_HEADER,
    is_supported_linktype,
    linktype_name,
)

__all__ = ["CaptureError", "CaptureReader", "Record", "Skip", "live_frames", "read_capture"]

PROBE_REQUEST_FILTER = "type mgt subtype probe-req"
DEFAULT_RCVBUF = 32 * 1024 * 1024
_MAX_FRAME = 65535
_POLL_INTERVAL = 0.2
_EXPECTED = "expected 105, 119, 127 or 163: a monitor-mode capture"

# Linux ARPHRD_* values of a monitor-mode interface, and the pcap link type each one gives.
ARPHRD_TO_LINKTYPE = {
    801: LINKTYPE_IEEE802_11,
    802: LINKTYPE_PRISM_HEADER,
    803: LINKTYPE_IEEE802_11_RADIOTAP,
}
ARPHRD_NAMES = {1: "Ethernet", 772: "loopback", 776: "SIT tunnel", 65534: "none (tun)"}


class CaptureReader(Iterator[Record]):
    """The 802.11 records of a pcap or pcapng file (optionally gzipped).

    Opening raises CaptureError when the file cannot be used at all: missing, not a capture, or
    no 802.11 link type (pcap header; pcapng: no interface of the file). Iteration never raises.
    What could not be read is skipped and accounted for (`skipped_bytes`, `skip_places`,
    `skips`): a cut last record, a damaged block or record, a packet whose interface is not
    defined. Frames of pcapng interfaces of another link type are not returned either, but they
    are not damage: they are counted in `other_linktype_frames` so they are reported, not
    silently taken for "not a probe request".
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        if not os.path.exists(self.path):
            raise CaptureError(f"{self.path}: no such file")
        if os.path.isdir(self.path):
            raise CaptureError(f"{self.path}: is a directory, not a capture file")
        self._file = CaptureFile(self.path)
        self.is_pcapng = self._file.format == "pcapng"
        self.linktype = self._file.linktype
        try:
            if self.linktype is not None and not is_supported_linktype(self.linktype):
                raise CaptureError(
                    f"{self.path}: link type {linktype_name(self.linktype)} is not 802.11 "
                    f"({_EXPECTED})"
                )
            if self.is_pcapng:
                _require_80211_interface(self.path)
        except BaseException:
            self._file.close()
            raise
        self.records = 0
        self.other_linktype_frames = 0
        self.other_linktypes: set[int] = set()
        self._records = self._iterate()

    @property
    def skipped_bytes(self) -> int:
        """Bytes that could not be read (for a gzipped file: decompressed bytes, plus the
        compressed bytes left unread after a decompression error)."""
        return self._file.skipped_bytes

    @property
    def skip_places(self) -> int:
        """Separate places where bytes were skipped."""
        return self._file.skip_places

    @property
    def skips(self) -> list[Skip]:
        """The first places skipped, with offset, length and reason."""
        return self._file.skips

    @property
    def bytes_read(self) -> int:
        """Bytes framed as headers, records or blocks (read so far)."""
        return self._file.bytes_read

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
        self._file.close()

    def _iterate(self) -> Iterator[Record]:
        try:
            for item in self._file.items():
                if not isinstance(item, tuple):
                    continue
                if is_supported_linktype(item[0]):
                    self.records += 1
                    yield item
                else:
                    self.other_linktype_frames += 1
                    self.other_linktypes.add(item[0])
        finally:
            self._file.close()


def read_capture(path: str | os.PathLike[str]) -> CaptureReader:
    """Open a pcap/pcapng file (optionally gzipped) and iterate its `(linktype, data, ts)`.

    Raises CaptureError with a one-line reason when the file cannot be used.
    """
    return CaptureReader(path)


def _require_80211_interface(path: str) -> None:
    """CaptureError unless the pcapng file has an 802.11 interface (or no interface up front).

    Decided on the interfaces described before the first packet, which is where writers put
    them; only when none of those is 802.11 is the rest of the file searched before refusing
    it. A file whose first packet comes before any (valid) interface description is not refused
    here: its packets are skipped as damage while it is read.
    """
    seen: list[int] = []
    capture = CaptureFile(path)
    try:
        for item in capture.items():
            if isinstance(item, int):
                if is_supported_linktype(item):
                    return
                seen.append(item)
            elif not seen:
                return
    finally:
        capture.close()
    if seen:
        names = ", ".join(linktype_name(lt) for lt in dict.fromkeys(seen))
        kind = "link type" if len(set(seen)) == 1 else "link types"
        verb = "is" if len(set(seen)) == 1 else "are"
        raise CaptureError(f"{path}: {kind} {names} {verb} not 802.11 ({_EXPECTED})")


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
