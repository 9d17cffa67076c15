"""Open-loop HTTP latency: requests start on a fixed schedule whatever the answers do.

Latency is measured from each request's *scheduled* start, so a stalled server shows up in the
percentiles instead of quietly slowing the sender (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp


@dataclass
class LatencyReport:
    requests: int
    errors: Counter[str]
    p50_ms: float
    p99_ms: float
    max_ms: float

    def __str__(self) -> str:
        failed = sum(self.errors.values())
        detail = f" ({dict(self.errors)})" if failed else ""
        return (
            f"{self.requests} requests, {failed} errors{detail}, "
            f"p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms, max {self.max_ms:.2f} ms"
        )


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


async def fixed_rate_gets(
    base_url: str, paths: Sequence[str], rps: int, seconds: float, seed: int = 1
) -> LatencyReport:
    """GET random `paths` at `rps` requests per second for `seconds`."""
    rng = random.Random(seed)
    total = int(rps * seconds)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(base_url, connector=connector) as session:

        async def one(scheduled: float, path: str) -> None:
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            try:
                async with session.get(path) as response:
                    await response.read()
                    if response.status != 200:
                        errors[f"HTTP {response.status}"] += 1
            except aiohttp.ClientError as err:
                errors[type(err).__name__] += 1
            latencies.append((time.perf_counter() - scheduled) * 1000)

        start = time.perf_counter() + 0.2
        await asyncio.gather(*(one(start + i / rps, rng.choice(paths)) for i in range(total)))
    latencies.sort()
    return LatencyReport(
        total, errors, percentile(latencies, 0.5), percentile(latencies, 0.99), latencies[-1]
    )
