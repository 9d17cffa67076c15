"""Where the real captures of other projects are found (never copied into this repository).

`PROBEWATCH_TEST_PCAPS`, by default `../shared/data/pcaps` beside the repository. A test that
needs a capture that is not there skips, saying which one and where it looked.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.workdir import REPO_ROOT


def pcaps_dir() -> Path:
    """The folder of test captures."""
    configured = os.environ.get("PROBEWATCH_TEST_PCAPS")
    return Path(configured) if configured else (REPO_ROOT.parent / "shared" / "data" / "pcaps")


def capture_files() -> list[Path]:
    """Every capture in the folder (anything but .md notes), sorted; none when it is absent."""
    folder = pcaps_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix != ".md")


def capture(name_part: str) -> Path:
    """The one test capture whose name contains `name_part` (or ends with it), or skip."""
    matches = [p for p in capture_files() if name_part in p.name]
    if len(matches) > 1:
        matches = [p for p in matches if p.name.endswith(name_part)]
    if len(matches) != 1:
        pytest.skip(f"test capture *{name_part}* not in {pcaps_dir()} (PROBEWATCH_TEST_PCAPS)")
    return matches[0]


def captures(*names: str) -> list[Path]:
    """The test captures of these exact file names, or skip naming the first one missing."""
    paths = [pcaps_dir() / name for name in names]
    for path in paths:
        if not path.is_file():
            pytest.skip(f"test capture {path.name} not in {pcaps_dir()} (PROBEWATCH_TEST_PCAPS)")
    return paths
