"""The worker's write-behind cache (`app.worker.write_behind`) for the tables folded per probe."""

from __future__ import annotations

from typing import Any

from faust.types import AppT

from app.main import app, settings
from app.worker.write_behind import WriteBehind

write_behind = WriteBehind(
    app,
    max_staged=settings.flush_max_rows,
    interval_s=settings.flush_interval_s,
    crash_at=settings.test_crash_at,
)


@app.on_before_shutdown.connect  # type: ignore[arg-type]
async def _stop_flushing(app: AppT, **_: Any) -> None:
    """faust has waited for every held record to be acknowledged (each flush did that) and closed
    the stores: end the interval task."""
    await write_behind.stop(flush=False)
