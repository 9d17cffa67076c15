"""faust's table manager without its second of waiting at start, and with a recovery that stops
the flow of records before it seeks the stream partitions (`app.tables.recovery`).

faust's `TableManager.on_start` sleeps a second before it sets up the changelogs, so that tables
defined while the app starts are registered too. probewatch defines every table when its modules
are imported, before the worker starts, so that second only delays each start (and every test
that starts a worker). `app.main` names this class in the `TableManager` setting.
"""

from __future__ import annotations

from faust.tables import TableManager
from faust.tables.recovery import Recovery

from app.tables.recovery import SeekingRecovery


class PromptTableManager(TableManager):
    """Sets up the changelogs and starts recovery at once."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = SeekingRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()
