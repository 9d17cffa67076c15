"""What history adds to the fold, per probe: `python -m bench.history_fold`.

In one process, no Kafka: the same synthetic records folded by the agent's own code, once
into the `devices` rows alone (`_fold_devices`) and once with the history too
(`fold_record_history`: device buckets and partition counters), with a write-behind flush
every FLUSH_EVERY probes in both (rows encoded, stored, and read back after it, as a worker
does once a second). Tables are kept in memory (`memory://`), so the figures are the fold's
CPU cost, not RocksDB's (PROBEWATCH_STORE=rocksdb:// and a PROBEWATCH_DATA_DIR to include it).
Each run is repeated and the fastest kept.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import time
from types import SimpleNamespace
from typing import Any

os.environ.setdefault("PROBEWATCH_STORE", "memory://")
os.environ.setdefault("PROBEWATCH_TOPIC_PREFIX", "bench.")

FLUSH_EVERY = 20_000
RECORD_PROBES = 200


def synthetic_records(probes: int, devices: int) -> list[dict[str, list[tuple[int, Any]]]]:
    """The probes of `make bench`'s synthetic capture (the sniffer's `synth`, 100 probes a
    second, busy devices more often), parsed and decoded as the worker does, in records of
    RECORD_PROBES grouped by device as the agent groups them."""
    from app.logic.probe import decode_record
    from sniffer.parse import LINKTYPE_IEEE802_11_RADIOTAP, parse_frame
    from sniffer.synth import SynthCapture

    records: list[dict[str, list[tuple[int, Any]]]] = []
    here: dict[str, list[tuple[int, Any]]] = {}
    index = 0
    for ts, frame in SynthCapture(probes, devices, seed=42):
        event = parse_frame(LINKTYPE_IEEE802_11_RADIOTAP, frame, ts, "bench")
        if event is None:
            continue
        [(_, probe)] = decode_record(event.to_json()).probes
        here.setdefault(probe.mac, []).append((index, probe))
        index += 1
        if index == RECORD_PROBES:
            records.append(here)
            here, index = {}, 0
    if here:
        records.append(here)
    return records


async def _run(
    records: list[dict[str, list[tuple[int, Any]]]], with_history: bool, partition: int
) -> float:
    """Seconds to fold every record into an empty `partition`, flushes included."""
    from app.agents import probes as agent
    from app.agents.history import fold_record_history
    from app.tables.activity import activity_counters_table, device_activity_table
    from app.tables.devices import devices_table
    from app.tables.staged import write_behind
    from app.worker.write_behind import _Generation

    for table in (devices_table, device_activity_table, activity_counters_table):
        with contextlib.suppress(NotImplementedError):  # RocksDB: each run has a new partition
            table.data.clear()
    write_behind._generation = _Generation()

    async def produced(flushing: Any) -> dict[tuple[str, int], int]:
        return dict.fromkeys(flushing.encoded, 0)

    write_behind._produce = produced  # type: ignore[method-assign]
    no_earlier: Any = lambda _mac: ()  # noqa: E731
    folded = 0
    started = time.perf_counter()
    for offset, here in enumerate(records):
        event: Any = SimpleNamespace(message=SimpleNamespace(partition=partition, offset=offset))
        agent._fold_devices(event, None, True, here, [], [], [])
        if with_history:
            fold_record_history(partition, offset, None, here, no_earlier)
        folded += RECORD_PROBES
        if folded % FLUSH_EVERY == 0:
            await write_behind.flush()
    await write_behind.flush()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.history_fold", description=__doc__)
    parser.add_argument("--probes", type=int, default=200_000)
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from app.main import app
    from app.worker.lifecycle import YOUNG_COLLECTION_EVERY
    from app.worker.lists import watchlist

    app.discover()
    app.finalize()
    watchlist.load({})
    records = synthetic_records(args.probes, args.devices)
    # As a started worker does (app.worker.lifecycle): what exists now frozen, fewer young
    # collections; the history rows are containers the collector has to look at too.
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, oldest)
    best = {False: float("inf"), True: float("inf")}
    for run in range(args.repeat):
        for with_history in (False, True):
            seconds = asyncio.run(_run(records, with_history, 2 * run + with_history))
            best[with_history] = min(best[with_history], seconds)
    without, with_ = best[False], best[True]
    per_probe = (with_ - without) / args.probes * 1e6
    print(
        f"history fold: {args.probes:,} synthetic probes of {args.devices:,} devices, "
        f"{RECORD_PROBES} a record, a flush every {FLUSH_EVERY:,}"
    )
    print(f"  devices only:      {args.probes / without:>10,.0f} probes/s")
    print(f"  devices + history: {args.probes / with_:>10,.0f} probes/s")
    print(f"  history adds {per_probe:.2f} µs a probe ({with_ / without - 1:+.0%})")


if __name__ == "__main__":
    main()
