"""Test-wide set-up: the app under unit test keeps its tables in memory and never sees a `.env`.

Settings read `.env` from the working directory, so the test process leaves the repository for an
empty folder before any test module imports the app (tests/workdir.py), once pytest has resolved
its test paths from the repository.
"""

from __future__ import annotations

import os

import pytest

from tests.workdir import empty_workdir

os.environ.setdefault("PROBEWATCH_STORE", "memory://")
os.environ.setdefault("PROBEWATCH_TOPIC_PREFIX", "unit.")


def pytest_configure(config: pytest.Config) -> None:
    """Leave the repository once pytest has found its test paths, before it imports a test."""
    os.chdir(empty_workdir())
