"""The table manager that starts without faust's second of waiting."""

from __future__ import annotations

import inspect

from faust.tables import TableManager

from app.main import app
from app.tables.manager import PromptTableManager


def test_the_app_manages_its_tables_with_the_prompt_manager() -> None:
    assert app.conf.TableManager is PromptTableManager
    assert isinstance(app.tables, PromptTableManager)


def test_faust_still_starts_its_tables_with_the_two_steps_the_prompt_manager_takes() -> None:
    """`PromptTableManager.on_start` is faust's without the sleep; a faust whose start does more
    (or other) than set up the changelogs and start recovery must be looked at again."""
    source = inspect.getsource(TableManager.on_start)
    steps = [line.strip() for line in source.splitlines()[2:] if line.strip()]
    assert steps == [
        "await self.sleep(1.0)",
        "if not self.should_stop:",
        "await self._update_channels()",
        "await self.recovery.start()",
    ]
