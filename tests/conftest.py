"""Test-wide set-up: the app under unit test keeps its tables in memory and never sees a `.env`.

Settings read `.env` from the working directory, so the test process leaves the repository for an
empty folder before any test module imports the app (tests/workdir.py), once pytest has resolved
its test paths from the repository.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.harness import PREFIXES, delete_topics_under
from tests.workdir import empty_workdir

os.environ.setdefault("PROBEWATCH_STORE", "memory://")
os.environ.setdefault("PROBEWATCH_TOPIC_PREFIX", "unit.")


def pytest_configure(config: pytest.Config) -> None:
    """Leave the repository once pytest has found its test paths, before it imports a test."""
    os.chdir(empty_workdir())


@pytest.fixture(autouse=True, scope="session")
def _every_test_topic_deleted() -> Iterator[None]:
    """At the end, the topics under every prefix the run made (at import time too)."""
    yield
    delete_topics_under(PREFIXES)


@pytest.fixture(autouse=True, scope="module")
def _module_topics_deleted() -> Iterator[None]:
    """The topics a module's fixtures made, once its last test ended."""
    yield from _topics_made_meanwhile_deleted()


@pytest.fixture(autouse=True)
def _test_topics_deleted() -> Iterator[None]:
    """The topics a test made, once it ended (its workers are stopped by then: autouse
    fixtures are set up first, so they are torn down last)."""
    yield from _topics_made_meanwhile_deleted()


def _topics_made_meanwhile_deleted() -> Iterator[None]:
    start = len(PREFIXES)
    yield
    made = PREFIXES[start:]
    del PREFIXES[start:]
    delete_topics_under(made)
