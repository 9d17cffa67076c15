"""End-to-end tests drive probewatch as its users do, against the real Kafka `make kafka` starts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.harness import BOOTSTRAP, kafka_reachable


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session", autouse=True)
def kafka() -> str:
    """The broker's address; a clear skip (or, under `make test`, a failure) when it is down."""
    if not kafka_reachable():
        message = f"no Kafka at {BOOTSTRAP}: start it with `make kafka`"
        if os.environ.get("PROBEWATCH_REQUIRE_KAFKA"):
            pytest.fail(message)
        pytest.skip(message)
    return BOOTSTRAP
