"""Where the real captures of other projects are found (never copied into this repository)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def pcap_dir() -> Path:
    """`PROBEWATCH_TEST_PCAPS`, by default `../shared/data/pcaps` beside the repository."""
    return Path(
        os.environ.get("PROBEWATCH_TEST_PCAPS", REPO_ROOT.parent / "shared" / "data" / "pcaps")
    )
