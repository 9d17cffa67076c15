"""The `fold-probes` agent's fixtures (defined with its tests), for the other agent tests too;
and a fold guard that has seen no record, for every agent test (the module's guard would
remember the offsets of the tests before, and take a test's fresh offsets for a skip)."""

import pytest

from app.tables import staged
from app.worker.offset_guard import OffsetGuard
from tests.unit.app.agents.test_probes import agent, dead, flushed

__all__ = ["agent", "dead", "flushed"]


@pytest.fixture(autouse=True)
def fresh_offset_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staged, "offsets", OffsetGuard(on_skip=staged._count_skip))
