"""A TAP interface that looks like a Wi-Fi card in monitor mode, for live-capture tests.

Linux lets a TAP device take the radiotap link type (TUNSETLINK 803, before it is up); every
frame written to its file descriptor is then received on the interface, through the kernel's
packet sockets and BPF filters, exactly as a monitor-mode card delivers it. Needs root and
/dev/net/tun. See /work/shared/reference/live-capture-testing.md.

Reusable by end-to-end tests:

    from tests.live.tap import TapInterface, wait_for_listener, wait_for_signal_handlers

    with TapInterface() as tap:              # radiotap TAP, removed again on exit
        proc = subprocess.Popen([".venv/bin/probewatch-sniffer", "live", "--iface", tap.name])
        wait_for_listener(tap.name)          # its packet socket is open
        wait_for_signal_handlers(proc.pid)   # SIGTERM now ends it cleanly
        tap.replay(records, rate=5000)       # records: (linktype, bytes, ts), e.g. read_capture()
        proc.send_signal(signal.SIGTERM)     # flushes, prints the summary, exits 0

`tap_skip_reason()` says why this cannot run (not root, no /dev/net/tun, no `ip`).

or use the `radiotap_tap` pytest fixture (import it into the test module or a conftest).
"""

from __future__ import annotations

import fcntl
import itertools
import os
import shutil
import signal
import struct
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType

import pytest

TUNSETIFF = 0x400454CA
TUNSETLINK = 0x400454CD
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
ARPHRD_ETHER = 1
ARPHRD_IEEE80211_RADIOTAP = 803
_counter = itertools.count()


def tap_skip_reason() -> str | None:
    """Why TAP-based live tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "live capture tests need root (to create a TAP interface and capture on it)"
    if not os.path.exists("/dev/net/tun"):
        return "live capture tests need /dev/net/tun (TUN/TAP support)"
    if shutil.which("ip") is None:
        return "live capture tests need the `ip` command (iproute2)"
    return None


def _unique_name(prefix: str) -> str:
    return f"{prefix}{os.getpid() % 100000}{next(_counter)}"[:15]


class TapInterface:
    """A TAP device with the given ARPHRD type (803: radiotap), brought up on enter.

    The interface disappears when its file descriptor is closed; `close()` also runs
    `ip link del` in case it was made persistent by someone else.
    """

    def __init__(self, name: str | None = None, arphrd: int = ARPHRD_IEEE80211_RADIOTAP) -> None:
        self.name = name or _unique_name("pwtap")
        self.arphrd = arphrd
        self.fd: int | None = None

    def __enter__(self) -> TapInterface:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Create the device, set its link type, bring it up."""
        fd = os.open("/dev/net/tun", os.O_RDWR)
        try:
            request = struct.pack("16sH", self.name.encode(), IFF_TAP | IFF_NO_PI)
            fcntl.ioctl(fd, TUNSETIFF, request)
            if self.arphrd != ARPHRD_ETHER:
                fcntl.ioctl(fd, TUNSETLINK, self.arphrd)
            subprocess.run(["ip", "link", "set", self.name, "up"], check=True, capture_output=True)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    @property
    def ifindex(self) -> int:
        return int(Path(f"/sys/class/net/{self.name}/ifindex").read_text())

    def write(self, frame: bytes) -> None:
        """Deliver one frame (radiotap header included) as received on the interface."""
        assert self.fd is not None, "TAP is not open"
        os.write(self.fd, frame)

    def replay(self, records: Iterable[tuple[int, bytes, float]], rate: float = 5000.0) -> int:
        """Write the records' bytes at about `rate` frames per second; returns how many."""
        started = time.monotonic()
        written = 0
        for _linktype, data, _ts in records:
            self.write(data)
            written += 1
            if written % 50 == 0:
                ahead = started + written / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        return written

    def close(self) -> None:
        """Close the descriptor (removes the device) and make sure it is gone."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if Path(f"/sys/class/net/{self.name}").exists():
            subprocess.run(["ip", "link", "del", self.name], capture_output=True)


def packet_socket_count(ifname: str) -> int:
    """Packet sockets bound to `ifname` (from /proc/net/packet)."""
    try:
        index = int(Path(f"/sys/class/net/{ifname}/ifindex").read_text())
    except OSError:
        return 0
    lines = Path("/proc/net/packet").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[4] == str(index))


def wait_for_listener(ifname: str, timeout: float = 20.0, already: int = 0) -> None:
    """Block until a sniffer has opened a packet socket on `ifname` (beyond `already`)."""
    deadline = time.monotonic() + timeout
    while packet_socket_count(ifname) <= already:
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing started capturing on {ifname} within {timeout:g} s")
        time.sleep(0.05)


def wait_for_signal_handlers(pid: int, timeout: float = 30.0) -> None:
    """Block until process `pid` handles SIGTERM, i.e. the sniffer CLI is in its capture loop.

    Python itself catches only SIGINT at start-up, so a caught SIGTERM means the CLI installed
    its handlers and a signal now ends the run cleanly (flush and summary).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("SigCgt:"))
        if int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)):
            return
        time.sleep(0.05)
    raise TimeoutError(f"process {pid} did not install its signal handlers within {timeout:g} s")


@pytest.fixture
def radiotap_tap() -> Iterator[TapInterface]:
    """A radiotap TAP interface for one test; skips unless root and /dev/net/tun are there."""
    reason = tap_skip_reason()
    if reason:
        pytest.skip(reason)
    with TapInterface() as tap:
        yield tap
