"""The worker's Monitor keeps the offsets probewatch reads and none of faust's per-request or
per-table-access tallies."""

from __future__ import annotations

from types import SimpleNamespace

from faust.types import TP

from app.main import app
from app.worker.monitor import Monitor


def test_the_app_runs_this_monitor() -> None:
    assert type(app.monitor) is Monitor


def test_requests_and_table_reads_leave_no_tallies_behind() -> None:
    monitor = Monitor()
    table = SimpleNamespace(name="devices")
    for _ in range(3):
        state = monitor.on_web_request_start(app, object())
        monitor.on_web_request_end(app, object(), SimpleNamespace(status=200), state)
        monitor.on_table_get(table, b"k")  # type: ignore[arg-type]
        monitor.on_table_set(table, b"k", 1)  # type: ignore[arg-type]
        monitor.on_table_del(table, b"k")  # type: ignore[arg-type]
    assert not monitor.http_response_latency
    assert not monitor.http_response_codes
    assert not monitor.tables


def test_offsets_are_still_tracked() -> None:
    monitor = Monitor()
    tp = TP("probes", 3)
    monitor.on_message_in(tp, 41, SimpleNamespace())  # type: ignore[arg-type]
    monitor.track_tp_end_offset(tp, 50)
    assert monitor.tp_read_offsets[tp] == 41
    assert monitor.tp_end_offsets[tp] == 50
