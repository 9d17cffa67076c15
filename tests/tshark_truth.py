"""What an independent dissector (tshark) says the probe requests of a capture are, per device."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class DeviceTruth:
    count: int = 0
    first: float = float("inf")
    last: float = float("-inf")
    ssids: set[str] = field(default_factory=set)
    wildcard: int = 0


def require_tshark() -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed (make install-test-tools installs it)")


def _ssid_is_hex() -> bool:
    """tshark 4.x prints `wlan.ssid` as hex bytes, 3.x as text."""
    version = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout
    match = re.search(r"TShark \(Wireshark\) (\d+)\.", version)
    return bool(match) and int(match.group(1)) >= 4


def _ssid_text(field_value: str, hex_encoded: bool) -> str:
    if field_value in ("", "<MISSING>"):
        return ""
    if not hex_encoded:
        return field_value
    raw = bytes.fromhex(field_value)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace")


def devices_by_tshark(*captures: Path) -> dict[str, DeviceTruth]:
    """Per source MAC: probe count, first/last capture time, SSID set, wildcard count."""
    require_tshark()
    hex_encoded = _ssid_is_hex()
    truth: dict[str, DeviceTruth] = defaultdict(DeviceTruth)
    for capture in captures:
        out = subprocess.run(
            [
                "tshark",
                "-r",
                str(capture),
                "-Y",
                "wlan.fc.type_subtype == 4",
                "-T",
                "fields",
                "-E",
                "separator=\t",
                "-e",
                "frame.time_epoch",
                "-e",
                "wlan.sa",
                "-e",
                "wlan.ssid",
            ],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        for line in out.splitlines():
            epoch, mac, ssid_field = [*line.split("\t"), "", ""][:3]
            if not mac:
                continue
            device = truth[mac.lower()]
            ts = float(epoch)
            device.count += 1
            device.first = min(device.first, ts)
            device.last = max(device.last, ts)
            ssid = _ssid_text(ssid_field.split(",")[0], hex_encoded)
            if ssid:
                device.ssids.add(ssid)
            else:
                device.wildcard += 1
    return dict(truth)
