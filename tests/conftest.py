"""Test-wide set-up: the app under unit test keeps its tables in memory and never sees a `.env`."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("PROBEWATCH_STORE", "memory://")
os.environ.setdefault("PROBEWATCH_TOPIC_PREFIX", "unit.")

REPO_ROOT = Path(__file__).resolve().parent.parent
