"""The faust app set up for `agent.test_context()` (faust docs, "Testing")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from faust import App

from app.main import app as probewatch_app


@pytest.fixture()
def app(event_loop_policy: object) -> Iterator[App]:
    """The real App (its store is `memory://`, see tests/conftest.py), flow control open."""
    probewatch_app.discover()
    probewatch_app.finalize()
    probewatch_app.flow_control.resume()
    yield probewatch_app
