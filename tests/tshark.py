"""What an independent dissector, tshark, says the probe requests of a capture are.

The one reference of the whole suite: the parser's unit tests compare it frame by frame, the
integration tests device by device. It never imports the product; SSID text is written here from
the README's rule ("Bad input and dead letters"). tshark failing, or finding no probe request
where a test counts on some, fails the test: an empty reference would make every comparison pass.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

TSHARK = shutil.which("tshark")
PROBE_REQUESTS = "wlan.fc.type_subtype == 4"
#: What tshark says (exit status 2) about a file it read only in part; the frames before count.
_DAMAGED = ("appears to have been cut short", "appears to be damaged or corrupt")
_FIELDS = (
    "frame.number",
    "frame.time_epoch",
    "wlan.sa",
    "wlan.ssid",
    "wlan_radio.signal_dbm",
    "wlan_radio.frequency",
    "wlan_radio.channel",
    "wlan.seq",
    "wlan.fc.protected",
    "radiotap.flags.badfcs",
    "_ws.malformed",
    "_ws.expert.message",
)


class TsharkFailed(RuntimeError):
    """tshark could not read a capture, or found nothing where something was expected."""


@dataclass(frozen=True)
class TsharkProbe:
    """One probe request as tshark dissects it."""

    number: int
    ts: float
    mac: str
    ssid: bytes
    signal: int | None
    freq: int | None
    channel: int | None
    seq: int | None
    protected: bool
    bad_fcs: bool
    truncated: bool
    ssid_too_long: bool

    @property
    def malformed(self) -> bool:
        """A frame README counts as malformed and skips, though tshark shows it."""
        return self.protected or self.bad_fcs or self.truncated or self.ssid_too_long


def require_tshark() -> str:
    """tshark's path; skips the test when it is not installed."""
    if TSHARK is None:
        pytest.skip("tshark is not installed (make install-test-tools installs it)")
    return TSHARK


def tshark_output(path: str | Path, *args: str, damaged_ok: bool = True) -> str:
    """tshark's stdout for `tshark -n -r PATH ARGS`.

    A file tshark reads only in part (damaged, cut short) gives the frames before the damage when
    `damaged_ok`; any other failure (no such file, not a capture, tshark broken) raises.
    """
    command = [require_tshark(), "-n", "-r", str(path), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    said = " ".join(
        line for line in result.stderr.splitlines() if not line.startswith("Running as user")
    ).strip()
    if result.returncode != 0 and not (damaged_ok and any(d in said for d in _DAMAGED)):
        raise TsharkFailed(f"tshark could not read {path} (exit {result.returncode}): {said!r}")
    return result.stdout


@functools.cache
def _ssid_is_bytes() -> bool:
    """tshark 4 declares wlan.ssid FT_BYTES (hex output); tshark 3 FT_STRING (text)."""
    out = subprocess.run(
        [require_tshark(), "-G", "fields"], capture_output=True, text=True, check=True
    ).stdout
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) > 3 and parts[2] == "wlan.ssid":
            return parts[3] == "FT_BYTES"
    raise TsharkFailed("tshark -G fields does not list wlan.ssid")


def _opt_int(text: str) -> int | None:
    first = text.split(",")[0]
    return int(first, 0) if first else None


def _ssid(text: str) -> bytes:
    first = text.split(",")[0] if _ssid_is_bytes() else text
    if first in ("", "<MISSING>"):
        return b""
    if _ssid_is_bytes():
        return bytes.fromhex(first.replace(":", ""))
    return first.encode()


def tshark_probes(path: str | Path, *, damaged_ok: bool = True) -> list[TsharkProbe]:
    """The probe requests tshark finds in a capture file, in file order."""
    args = ["-Y", PROBE_REQUESTS, "-T", "fields"]
    args += ["-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for name in _FIELDS:
        args += ["-e", name]
    rows: list[TsharkProbe] = []
    for line in tshark_output(path, *args, damaged_ok=damaged_ok).splitlines():
        cols = line.split("\t")
        if len(cols) != len(_FIELDS):
            raise TsharkFailed(f"{path}: tshark printed {len(cols)} fields, not {len(_FIELDS)}")
        number, ts, mac, ssid, signal, freq, channel, seq, prot, badfcs, malformed, expert = cols
        rows.append(
            TsharkProbe(
                number=int(number),
                ts=float(ts),
                mac=mac.split(",")[0].lower(),
                ssid=_ssid(ssid),
                signal=_opt_int(signal),
                freq=_opt_int(freq),
                channel=_opt_int(channel),
                seq=_opt_int(seq),
                protected=prot.split(",")[0] in ("1", "True"),
                bad_fcs=badfcs.split(",")[0] in ("1", "True"),
                truncated="[Malformed Packet" in malformed,
                ssid_too_long="greater than maximum (32)" in expert,
            )
        )
    return rows


def tshark_probe_times(path: str | Path) -> list[float]:
    """frame.time_epoch of every probe request tshark finds (a cheap run: one field)."""
    out = tshark_output(path, "-Y", PROBE_REQUESTS, "-T", "fields", "-e", "frame.time_epoch")
    return [float(line) for line in out.split()]


def tshark_probe_count(path: str | Path) -> int:
    """How many probe requests tshark finds in a capture file."""
    return len(tshark_probe_times(path))


def tshark_frame_count(path: str | Path) -> int:
    """How many frames (records) of any kind tshark reads in a capture file."""
    return len(tshark_output(path, "-T", "fields", "-e", "frame.number").split())


#: Unicode categories README writes as `\xNN`: controls, format characters, surrogates, and
#: line and paragraph separators.
_HIDDEN = ("Cc", "Cf", "Cs", "Zl", "Zp")


def ssid_text(raw: bytes) -> str:
    """An SSID's octets as README's text form: UTF-8, with `\\xNN` for every octet that is not
    valid UTF-8 or belongs to a hidden character, and for a backslash that an `x` follows."""
    out: list[str] = []
    at = 0
    while at < len(raw):
        for size in (1, 2, 3, 4):
            chunk = raw[at : at + size]
            try:
                char = chunk.decode("utf-8")
            except UnicodeDecodeError:
                continue
            break
        else:  # no character starts here: one octet that is not UTF-8
            out.append(f"\\x{raw[at]:02x}")
            at += 1
            continue
        before_x = char == "\\" and raw[at + 1 : at + 2] == b"x"
        if unicodedata.category(char) in _HIDDEN or before_x:
            out.append("".join(f"\\x{octet:02x}" for octet in chunk))
        else:
            out.append(char)
        at += len(chunk)
    return "".join(out)


@dataclass
class DeviceTruth:
    """One device as tshark sees it: probe count, first/last capture time, SSIDs, wildcards."""

    count: int = 0
    first: float = float("inf")
    last: float = float("-inf")
    ssids: set[str] = field(default_factory=set)
    wildcard: int = 0


def devices_by_tshark(*captures: Path) -> dict[str, DeviceTruth]:
    """Per source MAC, the probe requests of captures that are whole and well-formed.

    Raises when tshark cannot read a capture whole, finds no probe request in it (a test
    checking devices against an empty reference would check nothing), or flags one that README
    counts as malformed (then this reference and the product would rightly differ).
    """
    truth: dict[str, DeviceTruth] = defaultdict(DeviceTruth)
    for capture in captures:
        rows = tshark_probes(capture, damaged_ok=False)
        if not rows:
            raise TsharkFailed(f"tshark finds no probe request in {capture}")
        flagged = [row.number for row in rows if row.malformed]
        if flagged:
            raise TsharkFailed(f"{capture}: frames {flagged[:5]} are malformed probe requests")
        for row in rows:
            device = truth[row.mac]
            device.count += 1
            device.first = min(device.first, row.ts)
            device.last = max(device.last, row.ts)
            if row.ssid:
                device.ssids.add(ssid_text(row.ssid))
            else:
                device.wildcard += 1
    return dict(truth)
