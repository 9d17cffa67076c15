"""A process that only sleeps a millisecond at a time, and says when it woke up late.

On this machine (a 2-core VM) every process now and then stops for 50-200 ms, idle or not: the
host did not run the VM, or the kernel did not run anyone. A latency window that meets such a
stall puts it into the server's percentiles. Run beside the requests, this tells the two apart:
it does nothing a server does, so whenever it wakes up late, everything on the machine did.

`python -m bench.heartbeat SECONDS` prints, as JSON, how late it woke up each time it woke up
more than `LATE_MS` late (milliseconds).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable

#: A wake-up this much later than asked counts as a stall of the machine. A process that only
#: sleeps is woken within a few milliseconds even when the cores are busy (the scheduler favours
#: a task that slept); 30 ms is ten scheduler slices.
LATE_MS = 30.0
#: How long it sleeps each time.
NAP_S = 0.001


def late_wake_ups(wake_ups: Iterable[float], nap_s: float, late_ms: float) -> list[float]:
    """How late (ms) each wake-up came, of those more than `late_ms` late: `wake_ups` are the
    times (s) one sleep of `nap_s` after another ended, the first the start."""
    late: list[float] = []
    before: float | None = None
    for now in wake_ups:
        if before is not None:
            delay = (now - before - nap_s) * 1000
            if delay > late_ms:
                late.append(round(delay, 1))
        before = now
    return late


def _wake_ups(seconds: float) -> Iterable[float]:
    end = time.perf_counter() + seconds
    now = time.perf_counter()
    while now < end:
        yield now
        time.sleep(NAP_S)
        now = time.perf_counter()
    yield now


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.heartbeat SECONDS", file=sys.stderr)
        return 2
    print(json.dumps(late_wake_ups(_wake_ups(float(argv[0])), NAP_S, LATE_MS)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
