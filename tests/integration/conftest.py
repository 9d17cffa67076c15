"""Integration tests run against the real Apache Kafka that `make kafka` starts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import BOOTSTRAP, Deployment, Worker, kafka_reachable


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def kafka() -> str:
    """The broker's address; a clear skip (or, under `make test`, a failure) when it is down."""
    if not kafka_reachable():
        message = f"no Kafka at {BOOTSTRAP}: start it with `make kafka`"
        if os.environ.get("PROBEWATCH_REQUIRE_KAFKA"):
            pytest.fail(message)
        pytest.skip(message)
    return BOOTSTRAP


@pytest.fixture()
def deployment(tmp_path: Path) -> Deployment:
    return Deployment(data_dir=tmp_path / "data")


@pytest.fixture()
def worker(deployment: Deployment) -> Iterator[Worker]:
    """One running worker of a fresh deployment, ready to serve."""
    started = Worker(deployment).start()
    try:
        started.wait_ready()
        yield started
    finally:
        started.stop()
