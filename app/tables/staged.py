"""The worker's write-behind cache (`app.worker.write_behind`) for the tables folded per probe."""

from __future__ import annotations

from app.main import app, settings
from app.worker.write_behind import WriteBehind

write_behind = WriteBehind(
    app,
    max_staged=settings.flush_max_rows,
    interval_s=settings.flush_interval_s,
    crash_at=settings.test_crash_at,
)
