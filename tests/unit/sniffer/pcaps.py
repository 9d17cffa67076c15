"""Where the public test captures are (PROBEWATCH_TEST_PCAPS)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]


def pcaps_dir() -> Path:
    """PROBEWATCH_TEST_PCAPS, default ../shared/data/pcaps relative to the repository root."""
    configured = os.environ.get("PROBEWATCH_TEST_PCAPS")
    return Path(configured) if configured else (REPO_ROOT / ".." / "shared/data/pcaps").resolve()


def capture_files() -> list[Path]:
    """Every capture in the pcaps directory (anything but .md notes), sorted."""
    folder = pcaps_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix != ".md")


def capture(name_part: str) -> Path:
    """The one test capture whose name contains `name_part`, or skip when absent."""
    matches = [p for p in capture_files() if name_part in p.name]
    if len(matches) > 1:
        matches = [p for p in matches if p.name.endswith(name_part)]
    if len(matches) != 1:
        pytest.skip(f"test capture *{name_part}* not in {pcaps_dir()} (PROBEWATCH_TEST_PCAPS)")
    return matches[0]
