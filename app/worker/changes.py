"""Read your writes: an edit is answered once this worker has applied it, not merely stored.

Whatever applies edits (the names agent, a mirrored list) says so after each one; a view that
produced an edit waits, up to a bound, until its condition holds. One mechanism for every edit,
instead of polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Changes:
    """Wakes the waiters of one kind of state each time something was applied to it."""

    def __init__(self) -> None:
        self._changed = asyncio.Condition()

    async def applied(self) -> None:
        """Something changed: every waiter checks its condition again."""
        async with self._changed:
            self._changed.notify_all()

    async def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """True once `condition()` holds; False if it still does not after `timeout` seconds."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(condition), timeout)
            except TimeoutError:
                return False
        return True
