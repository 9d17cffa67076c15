"""Compare sniffer.parse with tshark, frame by frame.

tshark is the reference for which records are probe requests and what their source address,
SSID bytes, signal, frequency and sequence number are. Deliberate differences, each checked:

- radiotap Bad FCS flag set: tshark shows the frame, we count it malformed (its bytes are
  corrupt, so the MAC address may be wrong).
- Protected bit set on a probe request: tshark shows it without an SSID (body encrypted), we count
  it malformed (a probe request is never protected, and its elements cannot be read).
- tshark hit the end of the data (a "[Malformed Packet" exception, e.g. an element running past
  the end): we may count the frame malformed instead of producing a partial event.
- an SSID element longer than 32 bytes: tshark marks it "SSID length (N) greater than maximum
  (32)" (expert info, Malformed group) and still shows it; we count the frame malformed.
- Prism headers give only a channel number: tshark leaves wlan_radio.frequency empty, we convert
  the channel to its centre frequency.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sniffer.capture import read_capture
from sniffer.event import ProbeEvent
from sniffer.parse import (
    LINKTYPE_PRISM_HEADER,
    MalformedFrame,
    channel_to_mhz,
    parse_frame,
)

TSHARK = shutil.which("tshark")
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


@dataclass(frozen=True)
class TsharkProbe:
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


@dataclass
class Comparison:
    frames: int
    tshark_probes: int
    matched: int
    deliberate: list[str]
    mismatches: list[str]


@functools.cache
def _ssid_is_bytes() -> bool:
    """tshark 4 declares wlan.ssid FT_BYTES (hex output); tshark 3 FT_STRING (text)."""
    assert TSHARK
    out = subprocess.run(
        [TSHARK, "-G", "fields"], capture_output=True, text=True, check=True
    ).stdout
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) > 3 and parts[2] == "wlan.ssid":
            return parts[3] == "FT_BYTES"
    return True


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


def tshark_probes(path: str | Path) -> list[TsharkProbe]:
    """The probe requests tshark finds in a capture file."""
    assert TSHARK
    cmd = [TSHARK, "-n", "-r", str(path), "-Y", "wlan.fc.type_subtype == 4", "-T", "fields"]
    cmd += ["-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for field in _FIELDS:
        cmd += ["-e", field]
    result = subprocess.run(cmd, capture_output=True, text=True)
    rows: list[TsharkProbe] = []
    for line in result.stdout.splitlines():
        cols = line.split("\t")
        number, ts, mac, ssid, signal, freq, channel, seq, prot, badfcs, malformed, expert = cols
        rows.append(
            TsharkProbe(
                number=int(number),
                ts=float(ts),
                mac=mac.split(",")[0],
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


def ours(path: str | Path) -> tuple[list[tuple[int, ProbeEvent | MalformedFrame | None]], int]:
    """Our outcome for every record (1-based frame number), and the bytes skipped as damaged."""
    outcomes: list[tuple[int, ProbeEvent | MalformedFrame | None]] = []
    reader = read_capture(path)
    for number, (linktype, data, ts) in enumerate(reader, start=1):
        try:
            outcome: ProbeEvent | MalformedFrame | None = parse_frame(linktype, data, ts, "t")
        except MalformedFrame as exc:
            outcome = exc
        outcomes.append((number, outcome))
    return outcomes, reader.skipped_bytes


def _linktypes(path: str | Path) -> list[int]:
    return [linktype for linktype, _data, _ts in read_capture(path)]


def compare(path: str | Path) -> Comparison:
    """Match our parse of `path` against tshark's probe requests."""
    theirs = {row.number: row for row in tshark_probes(path)}
    mine, _damaged = ours(path)
    linktypes = _linktypes(path)
    deliberate: list[str] = []
    mismatches: list[str] = []
    matched = 0
    for number, outcome in mine:
        row = theirs.get(number)
        where = f"frame {number}"
        if row is None:
            if isinstance(outcome, ProbeEvent):
                mismatches.append(f"{where}: we found a probe request tshark does not show")
            continue
        if row.bad_fcs or row.protected:
            reason = "Bad FCS flag" if row.bad_fcs else "Protected bit"
            if isinstance(outcome, MalformedFrame):
                deliberate.append(f"{where}: {reason}: malformed for us, a probe for tshark")
            else:
                mismatches.append(f"{where}: {reason} set, expected MalformedFrame, got {outcome}")
            continue
        if isinstance(outcome, MalformedFrame):
            if row.ssid_too_long:
                deliberate.append(f"{where}: SSID over 32 bytes; malformed: {outcome}")
            elif row.truncated:
                deliberate.append(f"{where}: tshark hit the end of the data; malformed: {outcome}")
            else:
                mismatches.append(f"{where}: tshark reads it cleanly, we said {outcome}")
            continue
        if outcome is None:
            mismatches.append(f"{where}: tshark shows a probe request, we returned None")
            continue
        expected_freq = row.freq
        if (
            expected_freq is None
            and row.channel is not None
            and linktypes[number - 1] & 0xFFFF == LINKTYPE_PRISM_HEADER
        ):
            expected_freq = channel_to_mhz(row.channel)
        got_ssid = bytes.fromhex(outcome.ssid_hex) if outcome.ssid_hex else outcome.ssid.encode()
        problems = [
            f"{name}: ours {mine_value!r} != tshark {their_value!r}"
            for name, mine_value, their_value in (
                ("mac", outcome.mac, row.mac),
                ("ssid", got_ssid, row.ssid),
                ("rssi_dbm", outcome.rssi_dbm, row.signal),
                ("freq_mhz", outcome.freq_mhz, expected_freq),
                ("seq", outcome.seq, row.seq),
            )
            if mine_value != their_value
        ]
        if abs(outcome.ts - row.ts) > 2e-6:
            problems.append(f"ts: ours {outcome.ts!r} != tshark {row.ts!r}")
        if problems:
            mismatches.append(f"{where}: " + "; ".join(problems))
        else:
            matched += 1
    known = {number for number, _outcome in mine}
    mismatches += [
        f"frame {number}: tshark shows a probe request we never read"
        for number in theirs
        if number not in known
    ]
    return Comparison(
        frames=len(mine),
        tshark_probes=len(theirs),
        matched=matched,
        deliberate=deliberate,
        mismatches=mismatches,
    )


def tshark_probe_times(path: str | Path) -> list[float]:
    """frame.time_epoch of every probe request tshark finds (a cheap run: one field)."""
    assert TSHARK
    cmd = [TSHARK, "-n", "-r", str(path), "-Y", "wlan.fc.type_subtype == 4"]
    cmd += ["-T", "fields", "-e", "frame.time_epoch"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    return [float(line) for line in result.stdout.split()]


def tshark_probe_count(path: str | Path) -> int:
    """How many probe requests tshark finds in a capture file."""
    return len(tshark_probe_times(path))
