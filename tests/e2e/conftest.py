"""End-to-end tests drive probewatch as its users do, against the real Kafka `make kafka` starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import mark_folder, require_kafka


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_folder(items, Path(__file__).parent, pytest.mark.e2e)


@pytest.fixture(scope="session", autouse=True)
def kafka() -> str:
    return require_kafka()
