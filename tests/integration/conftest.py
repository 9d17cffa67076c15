"""Integration tests run against the real Apache Kafka that `make kafka` starts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import Deployment, Worker, mark_folder, require_kafka


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_folder(items, Path(__file__).parent, pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def kafka() -> str:
    return require_kafka()


@pytest.fixture()
def deployment(tmp_path: Path) -> Deployment:
    return Deployment(data_dir=tmp_path / "data")


@pytest.fixture()
def worker(deployment: Deployment) -> Iterator[Worker]:
    """One running worker of a fresh deployment, ready to serve."""
    with Worker(deployment) as started:
        yield started
