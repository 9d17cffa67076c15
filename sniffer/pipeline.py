"""The capture loop shared by replay and live: records in, parsed events out to a sink.

Kept apart from Kafka and the CLI so it can be driven with a fake sink in tests, and lean
because it runs once per frame.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sniffer.capture import Record, read_capture
from sniffer.parse import MalformedFrame, parse_frame
from sniffer.producer import Sink

_HOUSEKEEPING_EVERY = 512


@dataclass(slots=True)
class Counts:
    """Running totals; frames == probes + not_probe + malformed."""

    frames: int = 0
    probes: int = 0
    not_probe: int = 0
    malformed: int = 0


class Pacer:
    """Holds records back so they leave with their capture spacing divided by `speed`."""

    def __init__(
        self,
        speed: float,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not speed > 0:
            raise ValueError("speed must be greater than 0")
        self.speed = speed
        self._stop = stop
        self._clock = clock
        self._origin: tuple[float, float] | None = None

    def reset(self) -> None:
        """Start a new timeline (each file is paced from its own first record)."""
        self._origin = None

    def wait(self, ts: float) -> None:
        """Sleep until the record stamped `ts` is due; returns early when stop is set."""
        now = self._clock()
        if self._origin is None:
            self._origin = (ts, now)
            return
        first_ts, started = self._origin
        delay = started + (ts - first_ts) / self.speed - now
        if delay <= 0.001:
            return
        if self._stop is not None:
            self._stop.wait(delay)
        else:
            time.sleep(delay)


ProgressCallback = Callable[[Counts], None]


def pump(
    records: Iterable[Record],
    sink: Sink,
    sensor: str,
    counts: Counts,
    *,
    pacer: Pacer | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    every: int = _HOUSEKEEPING_EVERY,
) -> bool:
    """Parse every record and send the probe requests; False if `stop` ended it early.

    Every `every` records (and on every paced record) the sink is polled so delivery callbacks
    run, and progress is reported.
    """
    parse = parse_frame
    send = sink.send
    since = 0
    stopped = False
    for linktype, data, ts in records:
        if pacer is not None:
            pacer.wait(ts)
        if stop is not None and stop.is_set():
            stopped = True
            break
        counts.frames += 1
        try:
            event = parse(linktype, data, ts, sensor)
        except MalformedFrame:
            counts.malformed += 1
        else:
            if event is None:
                counts.not_probe += 1
            else:
                send(event)
                counts.probes += 1
        since += 1
        if since >= every or pacer is not None:
            since = 0
            sink.poll()
            if progress is not None:
                progress(counts)
    sink.poll()
    if progress is not None:
        progress(counts)
    return not stopped


def replay(
    paths: Sequence[str | os.PathLike[str]],
    sink: Sink,
    sensor: str,
    *,
    speed: float | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> tuple[Counts, bool]:
    """Replay capture files in order; `speed` None means as fast as possible.

    Cut or trailing-garbage records count as frames and as malformed. Returns the counts and
    whether every file was read to its end (False when `stop` interrupted).
    """
    counts = Counts()
    pacer = Pacer(speed, stop) if speed is not None else None
    for path in paths:
        with read_capture(path) as reader:
            if pacer is not None:
                pacer.reset()
            finished = pump(reader, sink, sensor, counts, pacer=pacer, progress=progress, stop=stop)
        counts.frames += reader.damaged
        counts.malformed += reader.damaged
        if progress is not None:
            progress(counts)
        if not finished:
            return counts, False
    return counts, True
