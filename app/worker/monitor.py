"""faust's Monitor, without the tallies nobody here reads.

faust's Monitor times and tallies every HTTP request (for faust's own statistics page, which
this app does not serve) and counts every table get, set and delete. probewatch reads only the
Monitor's offsets (consumer lag in /metrics, the watchdog) and times requests with its own
sensor (`app.worker.metrics.RequestLatency`), so those tallies were pure cost on every request.
"""

from __future__ import annotations

from typing import Any

from faust.sensors import Monitor as FaustMonitor


class Monitor(FaustMonitor):
    """faust's Monitor with per-request and per-table-access bookkeeping left out."""

    def on_web_request_start(self, app: Any, request: Any, *, view: Any = None) -> dict[str, Any]:
        return {}

    def on_web_request_end(
        self, app: Any, request: Any, response: Any, state: dict[str, Any], *, view: Any = None
    ) -> None:
        return None

    def on_table_get(self, table: Any, key: Any) -> None:
        return None

    def on_table_set(self, table: Any, key: Any, value: Any) -> None:
        return None

    def on_table_del(self, table: Any, key: Any) -> None:
        return None
