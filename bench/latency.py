"""Open-loop HTTP latency: requests start on a fixed schedule whatever the answers do.

Latency is measured from each request's *scheduled* start, so a stalled server shows up in the
percentiles instead of quietly slowing the sender (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

#: Where `python -m bench.heartbeat` is found.
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class LatencyReport:
    requests: int
    errors: Counter[str]
    p50_ms: float
    p99_ms: float
    max_ms: float
    #: How late (ms) a process that only sleeps woke up meanwhile, each time it was more than
    #: `bench.heartbeat.LATE_MS` late: the machine's own stalls.
    machine_stalls_ms: list[float] = field(default_factory=list)

    def __str__(self) -> str:
        failed = sum(self.errors.values())
        detail = f" ({dict(self.errors)})" if failed else ""
        stalls = self.machine_stalls_ms
        machine = (
            f"; the machine stalled {len(stalls)} time{'s' if len(stalls) > 1 else ''} "
            f"meanwhile (a process that only sleeps woke up at most {max(stalls):.0f} ms late)"
            if stalls
            else "; the machine never stalled meanwhile"
        )
        return (
            f"{self.requests} requests, {failed} errors{detail}, "
            f"p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms, max {self.max_ms:.2f} ms"
            f"{machine}"
        )


async def machine_stalls(seconds: float) -> list[float]:
    """Run `bench.heartbeat` for `seconds`: how late (ms) it woke up, each time it was late."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.heartbeat",
        str(seconds),
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO_ROOT,
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"bench.heartbeat exited with status {process.returncode}")
    stalls: list[float] = json.loads(out)
    return stalls


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


async def fixed_rate_gets(
    base_url: str, paths: Sequence[str], rps: int, seconds: float, seed: int = 1
) -> LatencyReport:
    """GET random `paths` at `rps` requests per second for `seconds`.

    Each request is started by one scheduling loop when its time comes, so only the requests in
    flight exist at any moment: the client's own garbage collections then stay short and are
    not mistaken for the server's latency (10,000 coroutines made up front cost the client
    pauses of tens of milliseconds).
    """
    rng = random.Random(seed)
    total = int(rps * seconds)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    heartbeat = asyncio.ensure_future(machine_stalls(seconds + 0.2))
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(base_url, connector=connector) as session:

        async def one(scheduled: float, path: str) -> None:
            try:
                async with session.get(path) as response:
                    await response.read()
                    if response.status != 200:
                        errors[f"HTTP {response.status}"] += 1
            except aiohttp.ClientError as err:
                errors[type(err).__name__] += 1
            latencies.append((time.perf_counter() - scheduled) * 1000)

        in_flight: set[asyncio.Task[None]] = set()
        start = time.perf_counter() + 0.2
        for i in range(total):
            scheduled = start + i / rps
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.ensure_future(one(scheduled, rng.choice(paths)))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        await asyncio.gather(*in_flight)
    latencies.sort()
    return LatencyReport(
        total,
        errors,
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        latencies[-1],
        await heartbeat,
    )
