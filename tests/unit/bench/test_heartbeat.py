"""The heartbeat the latency benchmarks run beside their requests (`bench.heartbeat`)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter

from bench.heartbeat import late_wake_ups
from bench.latency import REPO_ROOT, LatencyReport, machine_stalls


def test_only_wake_ups_later_than_the_threshold_count_and_by_how_late() -> None:
    # Naps of 1 ms: woken on time, 5 ms late, 31 ms late, on time, 200 ms late.
    wake_ups = [0.0, 0.001, 0.007, 0.039, 0.040, 0.241]
    assert late_wake_ups(wake_ups, 0.001, 30.0) == [31.0, 200.0]
    assert late_wake_ups(wake_ups, 0.001, 4.0) == [5.0, 31.0, 200.0]
    assert late_wake_ups([], 0.001, 30.0) == []
    assert late_wake_ups([1.0], 0.001, 30.0) == []


def test_the_command_prints_its_late_wake_ups_as_json() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.heartbeat", "0.2"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    stalls = json.loads(done.stdout)
    # Whether this machine stalls meanwhile is not up to the test; what it reports is.
    assert isinstance(stalls, list) and all(delay > 30 for delay in stalls)
    reported = asyncio.run(machine_stalls(0.2))
    assert isinstance(reported, list) and all(delay > 30 for delay in reported)


def test_a_usage_error_is_said_and_exits_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.heartbeat"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 2 and "usage" in done.stderr


def test_a_report_says_whether_the_machine_stalled() -> None:
    calm = LatencyReport(100, Counter(), 1.0, 2.0, 3.0)
    assert str(calm).endswith("the machine never stalled meanwhile")
    stalled = LatencyReport(100, Counter(), 1.0, 90.0, 120.0, [45.0, 118.4])
    assert "p99 90.00 ms" in str(stalled)
    assert str(stalled).endswith(
        "the machine stalled 2 times meanwhile (a process that only sleeps woke up at most "
        "118 ms late)"
    )
